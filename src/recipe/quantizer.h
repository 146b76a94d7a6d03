// The quantization recipe behind `ocs quantize`, step by step over a copy of the float graph.
// Each step is a named function of quantizer.cpp that fills the typed plan (recipe/layer_plan.h);
// the report is built once from the plan at the end (recipe/report.h).
//
//   0. specialize_inputs                --fix-input / --fix-shape (passes/specialize_inputs.h)
//   1. fold_batchnorm                   (passes/fold_batchnorm.h)
//   1b. unroll_recurrent                LSTM/GRU nodes -> ops per time step, so that their weights
//                                       and hidden state are quantized (passes/unroll_recurrent.h)
//   2. choose the quantized layers      Conv / Gemm / MatMul with a constant weight
//                                       (passes/weighted_layer.h), minus --exclude and (by
//                                       default) the first conv and last FC
//   3. calibrate                        one streaming pass over the calibration data
//                                       (recipe/calibrate_layers.h), only when activations are
//                                       quantized or split
//   4. ocs_split_activations            activation OCS: channels from step 3; the split values
//                                       are calibrated again (naive split on a scratch copy) so
//                                       the clip method sees the real split distribution, then
//                                       the chosen split is applied with that threshold
//   5. ocs_split_weights                weight OCS with the chosen clip method (OCS + clip), on
//                                       the weights already widened by step 4
//   6. activation thresholds            for the activations step 4 did not split, from step 3's
//                                       statistics: weight OCS only duplicates input features
//                                       with a Gather, and an elementwise quantizer commutes with
//                                       a Gather, so the float input's statistics are the right
//                                       ones, without duplicates
//   7. insert_qdq                       weights and activations on their b-bit grids (QDQ nodes)
//
// The result is an ordinary ONNX graph: what `ocs eval` measures is exactly what is exported.
#pragma once

#include "data/sample_source.h"
#include "ir/graph.h"
#include "recipe/layer_plan.h"
#include "recipe/quantize_cache.h"
#include "recipe/quantize_options.h"
#include "recipe/report.h"

#include <nlohmann/json.hpp>

#include <string>

namespace ocs {

struct QuantizeResult {
  Graph graph;
  QuantizePlan plan;      // what each step decided, per layer (in the order of `graph`)
  nlohmann::json report;  // the plan as JSON (recipe/report.h); see docs/QUANTIZE.md
};

// `calib` may be null when activations stay float (abits 0) and activation OCS is off.
// `cache` may be null (nothing reused); when given, it must only ever see one float model and
// one calibration source (recipe/quantize_cache.h). Several threads may quantize with one cache.
QuantizeResult quantize_model(const Graph& float_graph, const QuantizeOptions& options,
                              SampleSource* calib, QuantizeCache* cache = nullptr);

}  // namespace ocs
