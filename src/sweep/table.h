// Sweep results as files: CSV (one row per configuration, the float model first; what shards
// write and `ocs sweep --merge` reads back) and markdown tables (rows: clip method x OCS ratio,
// columns: the bit widths that vary, weights unless only activations do), as in the paper's tables.
#pragma once

#include "sweep/runner.h"

#include <filesystem>
#include <string>
#include <vector>

namespace ocs {

std::string sweep_csv(const SweepResult& result);
// Reads CSV files written by sweep_csv and merges them: rows of all files, one float row,
// configurations ordered by index. UserError naming the file for a malformed or mismatched
// file (other model or metric) or a configuration present twice.
SweepResult read_sweep_csvs(const std::vector<std::filesystem::path>& paths);

std::string sweep_markdown(const SweepResult& result);
// Whether tables and plots run along weight bits (they do unless only activation bits vary).
bool bit_axis_is_weights(const SweepResult& result);
// Whether the metric's headline is a fraction shown in percent (top1, line_accuracy, cer).
bool is_fraction_metric(const std::string& name);
// The headline value as text: percent for fractions, plain otherwise.
std::string format_headline(const SweepResult& result, double value);

}  // namespace ocs
