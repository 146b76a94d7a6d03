#include "passes/pass_utils.h"

#include "analysis/weight_stats.h"

#include <algorithm>
#include <set>

namespace ocs {

namespace {

bool is_float_constant(const Graph& graph, ValueId id) {
  return id != kNoValue && graph.values[id].constant &&
         graph.values[id].constant->dtype() == DType::Float32;
}

void set_reason(std::string* reason, std::string text) {
  if (reason) *reason = std::move(text);
}

// Names of enclosing-graph values read by any subgraph below `graph` (recursively).
void collect_outer_reads(const Graph& graph, std::set<std::string>& names) {
  for (const Node& node : graph.nodes)
    for (const auto& [key, attr] : node.attributes) {
      if (!attr.g) continue;
      for (const Value& v : attr.g->values)
        if (v.outer_scope) names.insert(v.name);
      collect_outer_reads(*attr.g, names);
    }
}

}  // namespace

int64_t conv_group(const Node& node) { return node.attr_int("group", 1); }

std::optional<WeightedLayer> match_weighted_layer(const Graph& graph, NodeId id,
                                                  std::string* reason) {
  const Node& node = graph.nodes[id];
  if (!node.domain.empty()) return std::nullopt;
  const std::string& op = node.op_type;
  if (op != "Conv" && op != "Gemm" && op != "MatMul") return std::nullopt;
  if (node.inputs.size() < 2 || node.inputs[0] == kNoValue) return std::nullopt;
  if (!is_float_constant(graph, node.inputs[1])) {
    set_reason(reason, "weight is not a float32 constant");
    return std::nullopt;
  }
  const Tensor& weight = *graph.values[node.inputs[1]].constant;
  WeightedLayer layer;
  layer.node = id;
  layer.weight_axis = weight_input_channel_axis(node, graph, 1);
  if (op == "Conv") {
    // X [N, C, spatial...], W [C_out, C / group, k...]: the input channels are axis 1 of both.
    if (weight.rank() < 3) return std::nullopt;
    layer.data_axis = 1;
  } else if (op == "Gemm") {
    // A [M, K] (transA: [K, M]); B [K, N] (transB: [N, K]).
    if (weight.rank() != 2) return std::nullopt;
    layer.data_axis = node.attr_int("transA", 0) ? 0 : 1;
  } else {
    // MatMul X [..., K] x W [K, N]: K is X's last axis.
    if (weight.rank() != 2) {
      set_reason(reason, "MatMul weight is not 2-D");
      return std::nullopt;
    }
    const auto& shape = graph.values[node.inputs[0]].shape;
    layer.data_axis = shape && !shape->empty() ? static_cast<int64_t>(shape->size()) - 1 : -1;
    if (shape && shape->size() == 1) {
      set_reason(reason, "MatMul input is 1-D");
      return std::nullopt;
    }
  }
  if (layer.weight_axis < 0 || layer.weight_axis >= weight.rank()) return std::nullopt;
  return layer;
}

bool has_single_consumer(const Graph& graph, ValueId value) {
  if (graph.is_graph_output(value)) return false;
  const std::vector<NodeId> readers = graph.consumers(value);
  if (readers.size() != 1) return false;
  // A node may read the value twice (Mul(x, x)); that is still one consumer here, callers that
  // rewrite an input by index must check the other inputs themselves.
  return true;
}

int64_t count_ops(const Graph& graph, const std::string& op_type) {
  return std::count_if(graph.nodes.begin(), graph.nodes.end(),
                       [&](const Node& n) { return n.op_type == op_type; });
}

std::string unique_value_name(const Graph& graph, const std::string& base) {
  if (graph.find_value(base) == kNoValue) return base;
  for (int i = 1;; ++i) {
    std::string name = fmt::format("{}_{}", base, i);
    if (graph.find_value(name) == kNoValue) return name;
  }
}

std::string unique_node_name(const Graph& graph, const std::string& base) {
  auto taken = [&](const std::string& name) {
    return std::any_of(graph.nodes.begin(), graph.nodes.end(),
                       [&](const Node& n) { return n.name == name; });
  };
  if (!taken(base)) return base;
  for (int i = 1;; ++i) {
    std::string name = fmt::format("{}_{}", base, i);
    if (!taken(name)) return name;
  }
}

ValueId add_constant(Graph& graph, const std::string& base_name, Tensor data) {
  Value v;
  v.name = unique_value_name(graph, base_name);
  v.dtype = data.dtype();
  v.shape = data.shape();
  v.constant = std::move(data);
  return graph.add_value(std::move(v));
}

void set_constant_input(Graph& graph, NodeId node, int input_index, Tensor data,
                        const std::string& base_name) {
  Node& n = graph.nodes[node];
  if (static_cast<int>(n.inputs.size()) <= input_index) n.inputs.resize(input_index + 1, kNoValue);
  const ValueId old = n.inputs[input_index];
  const bool private_constant =
      old != kNoValue && graph.values[old].constant && !graph.is_graph_output(old) &&
      graph.consumers(old).size() == 1 &&
      std::count(n.inputs.begin(), n.inputs.end(), old) == 1;
  if (private_constant) {
    Value& v = graph.values[old];
    v.dtype = data.dtype();
    v.shape = data.shape();
    v.constant = std::move(data);
    return;
  }
  const ValueId fresh = add_constant(graph, base_name, std::move(data));
  graph.nodes[node].inputs[input_index] = fresh;
}

NodeId insert_node(Graph& graph, NodeId before, Node node) {
  OCS_CHECK(before >= 0 && before <= static_cast<NodeId>(graph.nodes.size()), "position {} of {}",
            before, graph.nodes.size());
  graph.nodes.insert(graph.nodes.begin() + before, std::move(node));
  return before;
}

int64_t prune_unused_values(Graph& graph) {
  std::vector<bool> used(graph.values.size(), false);
  for (ValueId id : graph.inputs) used[id] = true;
  for (ValueId id : graph.outputs) used[id] = true;
  for (const Node& node : graph.nodes) {
    for (ValueId id : node.inputs)
      if (id != kNoValue) used[id] = true;
    for (ValueId id : node.outputs)
      if (id != kNoValue) used[id] = true;
  }
  std::set<std::string> outer_reads;
  collect_outer_reads(graph, outer_reads);
  for (size_t i = 0; i < graph.values.size(); ++i)
    if (outer_reads.count(graph.values[i].name) || graph.values[i].outer_scope) used[i] = true;

  std::vector<ValueId> remap(graph.values.size(), kNoValue);
  std::vector<Value> kept;
  for (size_t i = 0; i < graph.values.size(); ++i) {
    if (!used[i]) continue;
    remap[i] = static_cast<ValueId>(kept.size());
    kept.push_back(std::move(graph.values[i]));
  }
  const int64_t removed = static_cast<int64_t>(graph.values.size() - kept.size());
  graph.values = std::move(kept);
  auto renumber = [&](ValueId& id) {
    if (id != kNoValue) id = remap[id];
  };
  for (ValueId& id : graph.inputs) renumber(id);
  for (ValueId& id : graph.outputs) renumber(id);
  for (Node& node : graph.nodes) {
    for (ValueId& id : node.inputs) renumber(id);
    for (ValueId& id : node.outputs) renumber(id);
  }
  return removed;
}

}  // namespace ocs
