// The sweep's pictures, as SVG documents:
//  - accuracy vs weight bits, one line per clip method without OCS (dashed) and with the
//    sweep's largest OCS ratio (solid), the float model as a dotted line;
//  - accuracy vs OCS ratio, one line per weight bit width (first clip method), with the size
//    overhead of each ratio in the axis labels;
//  - the weight histogram of the layer hurt most by quantization, before and after OCS.
// And a self-contained HTML page holding the tables and the plots.
#pragma once

#include "sweep/runner.h"

#include <map>
#include <string>

namespace ocs {

// File name (accuracy_vs_bits.svg, ...) -> SVG text. The histogram only when the result has one.
std::map<std::string, std::string> sweep_plots(const SweepResult& result);

std::string sweep_html(const SweepResult& result, const std::string& markdown,
                       const std::map<std::string, std::string>& plots);

}  // namespace ocs
