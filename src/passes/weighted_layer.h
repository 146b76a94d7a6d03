// The one answer to "which layers carry a weight, and which axes of it are which channels",
// shared by every pass (fold_batchnorm, ocs_split_weights, ocs_split_activations, insert_qdq),
// by the recipe (recipe/) and by `ocs inspect` (analysis/weight_stats.h).
//
// ONNX semantics of the layers:
//   Conv           X [N, C, spatial...]   W [C_out, C / group, k...]      in: W 1, out: W 0, X 1
//   ConvTranspose  X [N, C, spatial...]   W [C, C_out / group, k...]      in: W 0, out: W 1
//   Gemm           A [M, K] (transA [K, M])  B [K, N] (transB [N, K])     in: B 0 (1), out: B 1 (0),
//                                                                         A 1 (0)
//   MatMul         X [..., K]             B [K] or [..., K, N]            in: B rank-2 (0 for 1-D),
//                                                                         out: B rank-1 (none for
//                                                                         1-D), X its last axis
//   LSTM/GRU/RNN   W [dirs, gates*H, I], R [dirs, gates*H, H]             in: 2
#pragma once

#include "ir/graph.h"

#include <optional>
#include <string>

namespace ocs {

// The input-channel axis of input `input_index` of `node` (the axis OCS splits), or -1 when that
// input is no weight of a layer above. Uses the constant's rank when the weight is a constant,
// else the value's declared shape.
int64_t weight_input_channel_axis(const Node& node, const Graph& graph, int input_index);

// The output-channel axis of a layer's weight (input 1) of rank `weight_rank` (per-channel
// scales, BatchNorm folding), or -1 when it has none (a 1-D MatMul weight, not a layer).
int64_t weight_output_channel_axis(const Node& node, int64_t weight_rank);

// The channel axis of a layer's data input (input 0): 1 for Conv (N, C, ...), the K axis of A
// for Gemm (1, or 0 with transA), the last axis for MatMul (rank - 1 when the rank is known, else
// -1, counted from the back).
int64_t data_channel_axis(const Node& node, const Graph& graph);

// A Conv, Gemm or MatMul with a constant float32 weight whose input channels OCS can split.
struct WeightedLayer {
  NodeId node = -1;
  int weight_input = 1;          // index of the weight among the node's inputs
  int64_t weight_axis = 0;       // input-channel axis of the weight (weight_input_channel_axis)
  int64_t weight_out_axis = 0;   // output-channel axis of the weight (weight_output_channel_axis)
  int data_input = 0;            // index of the activation input
  int64_t data_axis = 1;         // channel axis of the activation input (data_channel_axis)
};

// Matches Conv (weight rank >= 3), Gemm (transA/transB either, 2-D weight) and MatMul with a 2-D
// weight at input 1, in the default domain, the weight a float32 constant. Returns nullopt and
// sets `reason` (when given, for layers of those types that do not qualify) otherwise.
// Grouped and depthwise convolutions match too: callers decide with conv_group().
std::optional<WeightedLayer> match_weighted_layer(const Graph& graph, NodeId node,
                                                  std::string* reason = nullptr);

// Conv group attribute (1 when absent).
int64_t conv_group(const Node& node);

}  // namespace ocs
