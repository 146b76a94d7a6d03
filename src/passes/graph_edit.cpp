#include "passes/graph_edit.h"

namespace ocs {

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
