// Step "calibrate" of the recipe: one streaming pass of the calibration data through a graph,
// gathering the statistics of each chosen layer's data input (calib/calibrator.h).
#pragma once

#include "calib/tensor_stats.h"
#include "data/sample_source.h"
#include "ir/graph.h"

#include <map>
#include <string>
#include <vector>

namespace ocs {

// Statistics per layer name, on the layer's input channel axis (passes/weighted_layer.h). A layer
// whose input is a constant has none. `label` names the progress line.
// In the same pass, the statistics of the tensors named in `tensors` (value names, whole
// tensor), into `*tensor_stats` keyed by those names. `needs`: the optional statistics gathered
// (the activation clip method's ClipMethod::needs; the default gathers all).
std::map<std::string, TensorStats> calibrate_layers(const Graph& graph, const std::vector<std::string>& layers,
                                                    SampleSource& source, int threads, const std::string& label,
                                                    const std::vector<std::string>& tensors = {},
                                                    std::map<std::string, TensorStats>* tensor_stats = nullptr,
                                                    StatsNeeds needs = {});

}  // namespace ocs
