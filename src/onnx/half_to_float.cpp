#include "onnx/half_to_float.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace ocs {

namespace {

bool is_half(const Value& value) {
  return dtype_is_half(value.dtype) || (value.constant && dtype_is_half(value.constant->dtype()));
}

bool attribute_makes_half(const std::string& key, const Attribute& attr) {
  if (attr.kind == Attribute::Kind::Tensor) return dtype_is_half(attr.t.dtype());
  return attr.kind == Attribute::Kind::Int && (key == "dtype" || key == "to") && dtype_is_half(static_cast<DType>(attr.i));
}

// Float32 everywhere inside `graph`: constants, value types, Cast targets, attributes that make
// a 16-bit tensor (ConstantOfShape's value, EyeLike's dtype, ...). Values in `keep` stay.
int64_t widen_inside(Graph& graph, const std::set<ValueId>& keep) {
  int64_t changed = 0;
  for (ValueId id = 0; id < static_cast<ValueId>(graph.values.size()); ++id) {
    Value& v = graph.values[id];
    if (!is_half(v) || keep.count(id)) continue;
    if (v.constant) v.constant = tensor_cast(*v.constant, DType::Float32);
    v.dtype = DType::Float32;
    ++changed;
  }
  for (Node& node : graph.nodes)
    for (auto& [key, attr] : node.attributes) {
      if (attr.g) changed += widen_inside(*attr.g, {});
      if (!attribute_makes_half(key, attr)) continue;
      if (attr.kind == Attribute::Kind::Tensor) attr.t = tensor_cast(attr.t, DType::Float32);
      else attr.i = static_cast<int64_t>(DType::Float32);
    }
  return changed;
}

std::string unused_name(const Graph& graph, const std::string& base) {
  std::string name = base;
  for (int k = 2; graph.find_value(name) != kNoValue; ++k) name = fmt::format("{}_{}", base, k);
  return name;
}

// Subgraphs read enclosing values by name: follow a value that changed its name.
void rename_outer_reads(Graph& graph, const std::string& from, const std::string& to) {
  for (Node& node : graph.nodes)
    for (auto& [key, attr] : node.attributes) {
      if (!attr.g) continue;
      for (Value& v : attr.g->values)
        if (v.outer_scope && v.name == from) v.name = to;
      rename_outer_reads(*attr.g, from, to);
    }
}

Node cast_node(const std::string& name, ValueId from, ValueId to, DType type) {
  Node cast;
  cast.name = name;
  cast.op_type = "Cast";
  cast.inputs = {from};
  cast.outputs = {to};
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = static_cast<int64_t>(type);
  cast.attributes["to"] = a;
  return cast;
}

// A 16-bit input `id` is read through Cast(to=float); its readers read the cast.
void cast_input(Graph& graph, ValueId id) {
  Value widened = graph.values[id];
  widened.name = unused_name(graph, widened.name + "_float32");
  widened.dtype = DType::Float32;
  const ValueId wide = graph.add_value(widened);
  for (Node& node : graph.nodes)
    std::replace(node.inputs.begin(), node.inputs.end(), id, wide);
  rename_outer_reads(graph, graph.values[id].name, graph.values[wide].name);
  graph.nodes.insert(graph.nodes.begin(), cast_node(graph.values[wide].name + "_cast", id, wide, DType::Float32));
}

// A 16-bit output `id` (now float32 inside) is written through Cast(to=its type).
void cast_output(Graph& graph, size_t k, DType type) {
  const ValueId inner = graph.outputs[k];
  Value out = graph.values[inner];
  out.dtype = type;
  const std::string name = out.name;
  graph.values[inner].name = unused_name(graph, name + "_float32");
  rename_outer_reads(graph, name, graph.values[inner].name);
  const ValueId id = graph.add_value(out);
  graph.outputs[k] = id;
  graph.nodes.push_back(cast_node(name + "_cast", inner, id, type));
}

}  // namespace

bool has_half_values(const Graph& graph) {
  for (const Value& v : graph.values)
    if (is_half(v)) return true;
  for (const Node& node : graph.nodes)
    for (const auto& [key, attr] : node.attributes)
      if ((attr.g && has_half_values(*attr.g)) || attribute_makes_half(key, attr)) return true;
  return false;
}

int64_t compute_half_in_float(Graph& graph) {
  std::set<ValueId> inputs(graph.inputs.begin(), graph.inputs.end());
  std::vector<std::pair<size_t, DType>> outputs;  // 16-bit outputs computed inside
  for (size_t k = 0; k < graph.outputs.size(); ++k) {
    const Value& v = graph.values[graph.outputs[k]];
    if (is_half(v) && !inputs.count(graph.outputs[k]) && !v.constant) outputs.emplace_back(k, v.dtype);
  }
  std::set<ValueId> half_inputs;
  for (ValueId id : graph.inputs)
    if (is_half(graph.values[id])) half_inputs.insert(id);
  const int64_t changed = widen_inside(graph, half_inputs);
  for (ValueId id : half_inputs) cast_input(graph, id);
  for (const auto& [k, type] : outputs) cast_output(graph, k, type);
  return changed;
}

}  // namespace ocs
