// Plan-time fusion for the fast path: which nodes run as one oneDNN primitive.
//
// A chain starts at a Conv or ConvTranspose with constant weights and absorbs, while the value in
// between has a single consumer and is neither a graph output nor read by a subgraph:
//   - right after the head (before any post-op): per-channel affine functions, folded into the
//     weights and bias at plan time: BatchNormalization (inference, constant parameters) and
//     Add/Sub/Mul/Div by a constant of shape [C,1,1] or [1,C,1,1] (C output channels);
//   - element-wise functions oneDNN has as post-ops: Relu, LeakyRelu, Sigmoid, Tanh, Clip with
//     constant bounds, HardSigmoid (linear + clip), HardSwish, and Add/Sub/Mul/Div by a constant
//     scalar (linear) (dnnl_node_as_eltwise, kernels/fast/dnnl_layout.h);
//   - the expanded HardSwish x * Clip(x + 3, 0, 6) / 6 that Paddle exports (x then has exactly
//     those two consumers);
//   - one Add of another tensor (a sum post-op; its shape is checked at run time).
// Leading affine ops (scalar or per channel) fold into the weights; later scalar ones merge with
// a preceding linear post-op. A chain never holds two post-ops of the same oneDNN algorithm: oneDNN 2.6 computes
// a second eltwise_linear in one chain with the first one's constants (measured: Mul 1.5 then
// Add 0.25 gave 2.25 x + 0.25), so the chain ends before such a repeat.
// The fused step runs where the chain's last node was, so every operand exists by then.
#pragma once

#include "ir/graph.h"
#include "kernels/fast/dnnl_layout.h"

#include <optional>
#include <vector>

namespace ocs {

struct FusedChain {
  NodeId head = -1;             // the Conv or ConvTranspose
  std::vector<NodeId> nodes;    // head first, in graph order
  // Affine ops right after the head, folded into its weights and bias at plan time:
  // conv(x)[c] * scale[c] + shift[c]. One element each (the same for every channel) or one per
  // output channel.
  std::vector<float> scale{1.0f}, shift{0.0f};
  std::vector<PostOp> post_ops;
  ValueId sum_operand = kNoValue;
  ValueId output = kNoValue;    // the chain's result (the last node's output)
  NodeId tail() const { return nodes.back(); }
};

// Chains of `graph` (each node in at most one chain). `channels(node)` is, for a Conv or
// ConvTranspose the fast kernel accepts as a head, its number of output channels; 0 otherwise.
template <typename Channels>
std::vector<FusedChain> fusion_find_chains(const Graph& graph, int64_t opset, Channels channels);

// Implementation detail of fusion_find_chains: head_channels[n] > 0 for the possible heads.
std::vector<FusedChain> fusion_find_chains_impl(const Graph& graph, int64_t opset,
                                                const std::vector<int64_t>& head_channels);

template <typename Channels>
std::vector<FusedChain> fusion_find_chains(const Graph& graph, int64_t opset, Channels channels) {
  std::vector<int64_t> heads(graph.nodes.size(), 0);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    if (node.domain.empty() && (node.op_type == "Conv" || node.op_type == "ConvTranspose"))
      heads[i] = channels(node);
  }
  return fusion_find_chains_impl(graph, opset, heads);
}

// The element-wise functions that follow `value` and can run in the same pass over it (after a
// fake-quantize step, engine/int8_layers.h): while the current value has one plain reader that is
// not `claimed`, a function dnnl_node_as_eltwise maps or Paddle's expanded HardSwish. Linear
// functions stay post-ops here (nothing in front to fold them into).
struct EltwiseTail {
  std::vector<NodeId> nodes;  // in graph order
  std::vector<EltwiseOp> ops;
  ValueId output = kNoValue;  // the last function's output (`value` when there is none)
};
EltwiseTail fusion_eltwise_tail(const Graph& graph, int64_t opset, ValueId value, const std::vector<bool>& claimed);

}  // namespace ocs
