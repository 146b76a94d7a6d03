// The quantization recipe behind `ocs quantize`: an ordered list of passes over a copy of the
// float graph, each recorded in the report with its time.
//
//   1. fold_batchnorm                   (passes/fold_batchnorm.h)
//   1b. unroll_lstm                     LSTM/GRU nodes -> ops per time step, so that their weights
//                                       and hidden state are quantized (passes/unroll_recurrent.h)
//   2. choose the quantized layers      Conv / Gemm / MatMul with a constant weight, minus
//                                       --exclude and (by default) the first conv and last FC
//   3. calibrate                        one streaming pass over the calibration data
//                                       (calib/calibrator.h), only when activations are quantized
//   4. ocs_split_activations            activation OCS: channels from step 3; the split values
//                                       are calibrated again (naive split on a scratch copy) so
//                                       the clip method sees the real split distribution, then
//                                       the QA split is applied with that threshold
//   5. ocs_split_weights                weight OCS with the chosen clip method (OCS + clip), on
//                                       the weights already widened by step 4
//   (thresholds of activations that step 4 did not split come from step 3's statistics: weight
//    OCS only duplicates input features with a Gather, and an elementwise quantizer commutes
//    with a Gather, so the float input's statistics are the right ones, without duplicates)
//   6. insert_qdq                       weights and activations on their b-bit grids (QDQ nodes)
//
// The result is an ordinary ONNX graph: what `ocs eval` measures is exactly what is exported
// (../shared/docs/DESIGN.md section 1).
#pragma once

#include "calib/tensor_stats.h"
#include "data/sample_source.h"
#include "ir/graph.h"
#include "recipe/quantize_options.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace ocs {

struct QuantizeResult {
  Graph graph;
  nlohmann::json report;  // per layer and per model; see docs/QUANTIZE.md
};

// What quantize_model can reuse between runs on the same float model and calibration data
// (`ocs sweep`): the activation statistics of the float graph, keyed by the layers watched.
// Step 3 is the only pass over the calibration data unless activation OCS is on.
struct CalibrationCache {
  std::map<std::string, std::map<std::string, TensorStats>> float_stats;
  int64_t hits = 0, misses = 0;
};

// `calib` may be null when activations stay float (abits 0) and activation OCS is off.
// `cache` may be null (nothing reused); when given, it must only ever see one float model and
// one calibration source.
QuantizeResult quantize_model(const Graph& float_graph, const QuantizeOptions& options,
                              SampleSource* calib, CalibrationCache* cache = nullptr);

// A readable table of the report, for the terminal.
std::string quantize_report_table(const nlohmann::json& report);

}  // namespace ocs
