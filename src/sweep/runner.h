// Runs a sweep: quantizes the float model once per configuration and measures each result on
// the evaluation data, reusing everything that does not change between configurations:
//  - the evaluation data, read and decoded once (ReplaySource); the calibration data too, read in
//    the background while the float model is evaluated,
//  - the float model's outputs on it (for fidelity metrics), computed once,
//  - through a QuantizeCache (recipe/quantize_cache.h): BatchNorm folding, the float activation
//    statistics of the calibration data (one pass), the weight clip thresholds per layer x bits x
//    method (x split count) and the naive OCS splits per layer x split count;
//  - the float row and the configurations are jobs run on as many threads as --threads allows
//    (all cores by default), each evaluating on one core with its own replay of the data and
//    quantizing concurrently with the others; the quantized models run on the int8 engine.
// With reuse off every configuration starts from the files, as separate `ocs quantize` and
// `ocs eval` runs would (the benchmark's baseline).
#pragma once

#include "eval/metric.h"
#include "recipe/quantize_options.h"
#include "sweep/grid.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace ocs {

struct SweepSetup {
  // The paper's protocol by default: quantizers on the layers' inputs only (docs/QUANTIZE.md,
  // "Two layouts").
  SweepSetup() { base.format = "qdq-inputs"; }
  std::string model_path;
  QuantizeOptions base;             // calibration data, clip of activations, layer policy, threads
  std::vector<std::string> data;    // evaluation data spec
  int64_t limit = 10000;            // evaluation samples
  std::vector<std::string> metrics; // empty: what the data's labels allow
  MetricOptions metric_options;
  bool reuse = true;
};

struct SweepRow {
  bool is_float = false;
  SweepConfig config;
  nlohmann::json metrics;   // flat: every metric's result()
  double headline = 0;      // the first metric's headline()
  double size_overhead_percent = 0;
  int64_t channels_split = 0;
  double mean_weight_sqnr_db = 0;  // over quantized layers, with OCS when it ran
  double quantize_seconds = 0;
  double eval_seconds = 0;
};

struct SweepResult {
  std::string model;
  std::string headline_metric;  // e.g. "top1"
  bool higher_is_better = true;
  std::vector<SweepRow> rows;   // the float row first
  nlohmann::json histogram;     // weights of the worst layer before/after OCS (see plots.h)
  double seconds = 0;
  int64_t calibrations = 0;     // passes over the calibration data
};

SweepResult run_sweep(const SweepSetup& setup, const std::vector<SweepConfig>& configs);

}  // namespace ocs
