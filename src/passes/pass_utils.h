// Shared helpers for graph passes: matching the layers OCS and quantization act on (pure
// conditions, no rewriting), and small rewriting primitives (unique names, constants, inserting
// nodes, dropping values nothing uses).
#pragma once

#include "ir/graph.h"

#include <optional>
#include <string>
#include <vector>

namespace ocs {

// A layer with a constant float32 weight whose input channels OCS can split.
struct WeightedLayer {
  NodeId node = -1;
  int weight_input = 1;          // index of the weight among the node's inputs
  int64_t weight_axis = 0;       // input-channel axis of the weight (weight_input_channel_axis)
  int data_input = 0;            // index of the activation input
  // Channel axis of the activation input (the axis a Gather duplicates along): 1 for Conv
  // (N, C, ...), the K axis of A for Gemm (1, or 0 with transA), the last axis for MatMul
  // (rank - 1 when the rank is known, else -1).
  int64_t data_axis = 1;
};

// Matches Conv (any spatial rank), Gemm (transA/transB either) and MatMul with a constant 2-D
// weight at input 1, in the default domain, with a float32 constant weight. Returns nullopt and
// sets `reason` (when given, for layers of those types that do not qualify) otherwise.
// Grouped and depthwise convolutions match too: callers decide with conv_group().
std::optional<WeightedLayer> match_weighted_layer(const Graph& graph, NodeId node,
                                                  std::string* reason = nullptr);

// Conv group attribute (1 when absent).
int64_t conv_group(const Node& node);

// True when `value` is read by exactly one node (subgraph reads count) and is not a graph output.
bool has_single_consumer(const Graph& graph, ValueId value);

// Number of nodes of `op_type` in the top-level graph.
int64_t count_ops(const Graph& graph, const std::string& op_type);

// `base`, or `base_1`, `base_2`, ... : a name no value of the graph has yet.
std::string unique_value_name(const Graph& graph, const std::string& base);
// Same for node names.
std::string unique_node_name(const Graph& graph, const std::string& base);

// Adds a constant value holding `data`.
ValueId add_constant(Graph& graph, const std::string& base_name, Tensor data);

// Gives node `node`'s input `input_index` the constant `data`: in place when that constant is
// only read by this node, otherwise as a new constant (the other readers keep the old data).
// Also creates the input when the node lacks it (an absent optional bias).
void set_constant_input(Graph& graph, NodeId node, int input_index, Tensor data,
                        const std::string& base_name);

// Inserts `node` at position `before` (topological order is the caller's responsibility).
NodeId insert_node(Graph& graph, NodeId before, Node node);

// Removes values nothing refers to (no node reads or writes them, not a graph input or output,
// not read by name from a subgraph), e.g. BatchNormalization parameters after folding, and
// renumbers the rest. Export writes every constant as an initializer, so this keeps exported
// files free of dead weights. Returns the number removed.
int64_t prune_unused_values(Graph& graph);

}  // namespace ocs
