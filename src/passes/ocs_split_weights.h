// ocs_split_weights: weight outlier channel splitting as a graph rewrite (docs/METHOD.md).
//
// For a layer y = sum_c W[:, c] x_c (Conv, Gemm, MatMul with a constant weight), the weight is
// split along its input channels by ocs_split_weight (quant/ocs_split.h): C_in + k channels where
// appended channel C_in + i is a piece of original channel dup[i]. The layer's input must then
// supply C_in + k channels, so a Gather duplicates them:
//     x' = Gather(x, indices = [0, 1, ..., C_in - 1, dup[0], ..., dup[k-1]], axis = channel axis)
//     y' = sum_j W'[:, j] x'_j = sum_c (W'[:, c] + sum_{i: dup[i] = c} W'[:, C_in + i]) x_c
//        = sum_c W[:, c] x_c = y,
// because the pieces of channel c add up to W[:, c] (naive: w/2 + w/2; QA: (w - D/2)/2 +
// (w + D/2)/2). The model is functionally identical before quantization; in float32 the pieces
// are rounded once each, so outputs agree to float rounding.
//
// A weight constant read by several layers along the same axis (the unrolled LSTM's R^T, read by
// one MatMul per time step) is split once; every reader gets the split constant and its own Gather.
//
// Channel axis of the Gather: 1 for Conv (N, C, ...); for Gemm the K axis of A (1, or 0 with
// transA); for MatMul the last axis of X. Gemm with transB splits B along axis 1 ([N, K]).
//
// Skipped, with the reason in the report: grouped and depthwise convolutions (splitting inside a
// group is not implemented), layers named in `exclude`, and with `skip_first_last` the first Conv
// and the last Gemm/MatMul layer (in graph order) as the reference leaves them in float.
#pragma once

#include "ir/graph.h"
#include "quant/ocs_split.h"

#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace ocs {

struct OcsSplitWeightsOptions {
  double ratio = 0.05;  // expand ratio r: k = ceil(r * C_in) per layer
  // A split layer whose C_in + k input channels are no multiple of this gets p more, copies of
  // channels 0, 1, ... with all-zero weights, up to the next multiple: the layer computes the
  // same, and its quantized weights are the same (zeros move no scale). ONNX Runtime's fast int8
  // convolution (MLAS's symmetric one) needs 4 | input channels and, where a producer makes the
  // copies, 8 | its output channels on AVX2 (docs/PERFORMANCE.md, issue #11). 1: no padding.
  int64_t channel_multiple = 1;
  OcsSplitMode mode = OcsSplitMode::QuantAware;
  int bits = 8;
  OcsThresholdFn threshold;        // empty: max |w| of the split tensor
  std::set<std::string> exclude;   // node names left alone
  // Explicit k per node (a --max-overhead allocation, quant/ocs_budget.h); overrides `ratio` for
  // the layers it names.
  std::map<std::string, int64_t> splits;
  // An explicit threshold t per node (--ocs-clip-on original: the clip method's t on the unsplit
  // weight); overrides `threshold` for the layers it names.
  std::map<std::string, double> thresholds;
  bool skip_first_last = false;    // the reference's policy: first Conv, last Gemm/MatMul in float
  // The naive split of (weight, axis, k) (quant/ocs_split.h); empty: ocs_split_naive. `ocs sweep`
  // passes a cache here (recipe/quantize_cache.h).
  std::function<OcsNaiveSplit(const Tensor& weight, int64_t axis, int64_t k)> naive_split;
};

struct OcsWeightLayerReport {
  std::string node;
  std::string op_type;
  std::string weight;                   // weight value name (before the pass)
  std::string skipped;                  // why the layer was left alone; empty when split
  // When the weight constant is shared with an earlier layer (an unrolled recurrent weight): that
  // layer's node. The split (and every number below) is that layer's; the totals of
  // OcsSplitWeightsReport count the shared weight once.
  std::string shared_with;
  int64_t in_channels = 0;              // C_in
  int64_t splits = 0;                   // k
  int64_t channels_padded = 0;          // p zero-weight channels after the k copies
  std::vector<int64_t> channels_split;  // original channel of each appended channel, in order
  int64_t weights_before = 0;
  int64_t weights_added = 0;
  double weights_added_percent = 0.0;   // 100 * added / before
  // Weight SQNR (dB) at `bits`, per-tensor grid. Before: W against fake_quant(W, max |W|). After:
  // W against the weight the split layer effectively applies, the quantized pieces folded back
  // (ocs_fold_split of fake_quant(W', t)), t the split's threshold (max |W'| by default).
  double sqnr_before_db = 0.0;
  double sqnr_after_db = 0.0;
  double threshold_before = 0.0;        // max |W|
  double threshold_after = 0.0;         // t of the split tensor
};

struct OcsSplitWeightsReport {
  std::vector<OcsWeightLayerReport> layers;  // every Conv/Gemm/MatMul with a constant weight
  int64_t weights_before = 0;                // over the split layers
  int64_t weights_added = 0;
};

// Rewrites the top-level graph in place; verify() holds afterwards.
OcsSplitWeightsReport ocs_split_weights(Graph& graph, const OcsSplitWeightsOptions& options);

nlohmann::json ocs_split_weights_json(const OcsSplitWeightsReport& report);

}  // namespace ocs
