// Sweep results as files: CSV (one row per configuration, the float model first; what shards
// write and `ocs sweep --merge` reads back) and markdown tables (rows: clip method x OCS ratio,
// columns: weight bits, one table per activation bit width), as in the paper's tables.
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
// The headline value as text: percent for fractions of a score (top1, line accuracy), plain
// otherwise.
std::string format_headline(const SweepResult& result, double value);

}  // namespace ocs
