// The one graph-editing module of the passes: queries (the default domain, single consumers, op
// counts), fresh names (NameTable for a pass that adds many, unique_*_name for one at a time),
// adding constants, activations and nodes, attributes, and removing what a rewrite left unread.
// Which layers carry weights, and their channel axes, is passes/weighted_layer.h.
#pragma once

#include "ir/graph.h"
#include "passes/weighted_layer.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ocs {

// The ONNX default domain: "" or "ai.onnx".
inline bool is_default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

// True when `node` is the default domain's `op_type`.
inline bool is_op(const Node& node, const char* op_type) {
  return is_default_domain(node.domain) && node.op_type == op_type;
}

// The value of `v` when it is a one-element float32 constant.
std::optional<float> float_scalar_constant(const Graph& graph, ValueId v);

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

// ---- many names at once ----------------------------------------------------------------------

// Unique value and node names: the model's names plus the ones a pass creates.
class NameTable {
 public:
  explicit NameTable(const Graph& graph);
  std::string fresh(const std::string& base);

 private:
  std::set<std::string> used_;
};

ValueId add_constant(Graph& graph, NameTable& names, const std::string& base, Tensor tensor);
ValueId add_activation(Graph& graph, NameTable& names, const std::string& base, DType dtype,
                       const std::optional<Shape>& shape);
Node make_node(NameTable& names, const std::string& op, const std::string& base,
               std::vector<ValueId> inputs, std::vector<ValueId> outputs);
Attribute int_attribute(int64_t value);
Attribute ints_attribute(std::vector<int64_t> values);
Attribute string_attribute(std::string value);
Attribute float_attribute(float value);
// Removes the `candidates` that are constants nothing reads any more, renumbering value ids.
void drop_unused_constants(Graph& graph, const std::set<ValueId>& candidates);

}  // namespace ocs
