#include "passes/graph_edit.h"

#include <algorithm>
#include <set>

namespace ocs {

namespace {

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

std::optional<float> float_scalar_constant(const Graph& graph, ValueId v) {
  if (v == kNoValue) return std::nullopt;
  const auto& c = graph.values[v].constant;
  if (!c || c->dtype() != DType::Float32 || c->numel() != 1) return std::nullopt;
  return c->data<float>()[0];
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

NameTable::NameTable(const Graph& graph) {
  for (const Value& v : graph.values) used_.insert(v.name);
  for (const Node& n : graph.nodes) used_.insert(n.name);
}

std::string NameTable::fresh(const std::string& base) {
  std::string name = base;
  for (int k = 1; used_.count(name); ++k) name = base + "_" + std::to_string(k);
  used_.insert(name);
  return name;
}

ValueId add_constant(Graph& graph, NameTable& names, const std::string& base, Tensor tensor) {
  Value v;
  v.name = names.fresh(base);
  v.dtype = tensor.dtype();
  v.shape = tensor.shape();
  v.constant = std::move(tensor);
  return graph.add_value(std::move(v));
}

ValueId add_activation(Graph& graph, NameTable& names, const std::string& base, DType dtype,
                       const std::optional<Shape>& shape) {
  Value v;
  v.name = names.fresh(base);
  v.dtype = dtype;
  v.shape = shape;
  return graph.add_value(std::move(v));
}

Node make_node(NameTable& names, const std::string& op, const std::string& base,
               std::vector<ValueId> inputs, std::vector<ValueId> outputs) {
  Node n;
  n.op_type = op;
  n.name = names.fresh(base);
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  return n;
}

Attribute int_attribute(int64_t value) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = value;
  return a;
}

Attribute ints_attribute(std::vector<int64_t> values) {
  Attribute a;
  a.kind = Attribute::Kind::Ints;
  a.ints = std::move(values);
  return a;
}

Attribute string_attribute(std::string value) {
  Attribute a;
  a.kind = Attribute::Kind::String;
  a.s = std::move(value);
  return a;
}

Attribute float_attribute(float value) {
  Attribute a;
  a.kind = Attribute::Kind::Float;
  a.f = value;
  return a;
}

void drop_unused_constants(Graph& graph, const std::set<ValueId>& candidates) {
  const ValueId count = static_cast<ValueId>(graph.values.size());
  std::vector<bool> keep(graph.values.size(), true);
  for (ValueId id : candidates)
    if (graph.values[id].constant && !graph.is_graph_output(id) && graph.consumers(id).empty())
      keep[id] = false;
  std::vector<ValueId> new_id(graph.values.size(), kNoValue);
  std::vector<Value> values;
  for (ValueId id = 0; id < count; ++id) {
    if (!keep[id]) continue;
    new_id[id] = static_cast<ValueId>(values.size());
    values.push_back(std::move(graph.values[id]));
  }
  auto remap = [&](ValueId& id) {
    if (id == kNoValue) return;
    OCS_CHECK(new_id[id] != kNoValue, "dropped value id {} is still referenced", id);
    id = new_id[id];
  };
  graph.values = std::move(values);
  for (Node& node : graph.nodes) {
    for (ValueId& in : node.inputs) remap(in);
    for (ValueId& out : node.outputs) remap(out);
  }
  for (ValueId& in : graph.inputs) remap(in);
  for (ValueId& out : graph.outputs) remap(out);
}

}  // namespace ocs
