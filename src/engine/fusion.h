// Plan-time fusion for the fast path: which nodes run as one oneDNN primitive.
//
// A chain starts at a Conv and absorbs, while the value in between has a single consumer and is
// neither a graph output nor read by a subgraph:
//   - element-wise functions oneDNN has as post-ops: Relu, LeakyRelu, Sigmoid, Tanh, Clip with
//     constant bounds, HardSigmoid (linear + clip), HardSwish, and Add/Sub/Mul/Div by a constant
//     scalar (linear);
//   - the expanded HardSwish x * Clip(x + 3, 0, 6) / 6 that Paddle exports (x then has exactly
//     those two consumers);
//   - one Add of another tensor (a sum post-op; its shape is checked at run time).
// Leading scalar affine ops fold into the weights; later ones merge with a preceding linear
// post-op. A chain never holds two post-ops of the same oneDNN algorithm: oneDNN 2.6 computes
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
  NodeId head = -1;             // the Conv
  std::vector<NodeId> nodes;    // head first, in graph order
  // Scalar Mul/Add/Sub/Div right after the Conv, folded into its weights and bias at plan time:
  // conv(x) * scale + shift.
  float scale = 1.0f, shift = 0.0f;
  std::vector<PostOp> post_ops;
  ValueId sum_operand = kNoValue;
  ValueId output = kNoValue;    // the chain's result (the last node's output)
  NodeId tail() const { return nodes.back(); }
};

// The element-wise functions `node` applies to its input `from`, when it is a single-input
// function oneDNN computes (see above), else nullopt. `opset` is the graph's default opset.
std::optional<std::vector<EltwiseOp>> fusion_node_as_eltwise(const Graph& graph, const Node& node,
                                                             ValueId from, int64_t opset);

// Chains of `graph` (each node in at most one chain). `eligible(conv)` says whether a Conv can
// head a chain (the fast kernel accepts it).
template <typename Eligible>
std::vector<FusedChain> fusion_find_chains(const Graph& graph, int64_t opset, Eligible eligible);

// Implementation detail of fusion_find_chains.
std::vector<FusedChain> fusion_find_chains_impl(const Graph& graph, int64_t opset,
                                                const std::vector<bool>& eligible_heads);

template <typename Eligible>
std::vector<FusedChain> fusion_find_chains(const Graph& graph, int64_t opset, Eligible eligible) {
  std::vector<bool> heads(graph.nodes.size(), false);
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    heads[i] = graph.nodes[i].domain.empty() && graph.nodes[i].op_type == "Conv" && eligible(graph.nodes[i]);
  return fusion_find_chains_impl(graph, opset, heads);
}

}  // namespace ocs
