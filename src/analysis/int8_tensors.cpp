// int8_tensors: the rules are in int8_tensors.h.
#include "analysis/int8_tensors.h"

#include "passes/graph_edit.h"

#include <algorithm>
#include <map>

namespace ocs {
namespace {

// Ops that only move or select values: their output takes their input's grid.
const std::set<std::string> kMoving = {"MaxPool", "GlobalMaxPool", "Reshape", "Transpose", "Flatten", "Squeeze",
                                       "Unsqueeze", "Identity", "Slice", "DepthToSpace", "SpaceToDepth"};
// Ops that run in 8 bits with their own output grid.
const std::set<std::string> kComputing = {"AveragePool", "GlobalAveragePool", "Add", "Mul", "Concat",
                                          "Sigmoid", "HardSigmoid", "Resize"};
// Ops that keep non-negative inputs non-negative.
const std::set<std::string> kKeepSign = {"AveragePool", "GlobalAveragePool", "Add", "Mul", "Concat", "Resize", "Max"};

bool is_nearest_resize(const Node& node) { return node.attr_string("mode", "nearest") == "nearest"; }

bool moves_values(const Node& node) {
  return kMoving.count(node.op_type) || (node.op_type == "Resize" && is_nearest_resize(node));
}

bool clip_at_zero(const Graph& graph, const Node& node) {
  if (node.op_type != "Clip") return false;
  if (node.inputs.size() > 1 && node.inputs[1] != kNoValue) {
    const auto& min = graph.values[node.inputs[1]].constant;
    return min && min->numel() == 1 && min->to_double_vector()[0] >= 0.0;
  }
  return node.has_attr("min") && node.attr_float("min", -1.0f) >= 0.0f;
}

bool is_float_activation(const Graph& graph, ValueId v) {
  const Value& value = graph.values[v];
  return !value.constant && (value.dtype == DType::Float32 || value.dtype == DType::Undefined);
}

// True when a subgraph reads `v` by name (the rewrite must not move such reads).
bool read_by_subgraph(const Graph& graph, ValueId v) {
  for (NodeId reader : graph.consumers(v)) {
    const Node& node = graph.nodes[reader];
    if (std::find(node.inputs.begin(), node.inputs.end(), v) == node.inputs.end()) return true;
  }
  return false;
}

bool quantizable(const Graph& graph, ValueId v) {
  return v != kNoValue && is_float_activation(graph, v) && !graph.is_graph_output(v) && !read_by_subgraph(graph, v);
}

// The tensor inputs of an 8-bit-capable op (the ones that must be quantized), or nothing when the
// op is not one or takes another tensor that is not a constant.
std::optional<std::vector<ValueId>> int8_op_inputs(const Graph& graph, const Node& node) {
  if (!is_default_domain(node.domain)) return std::nullopt;
  if (!moves_values(node) && !kComputing.count(node.op_type)) return std::nullopt;
  if (node.outputs.size() != 1 && !(node.op_type == "MaxPool" && node.outputs.size() == 2 && node.outputs[1] == kNoValue))
    return std::nullopt;
  const bool all_tensors = node.op_type == "Add" || node.op_type == "Mul" || node.op_type == "Concat";
  std::vector<ValueId> data;
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    const ValueId in = node.inputs[i];
    if (in == kNoValue) continue;
    if (i == 0 || all_tensors) {
      if (!is_float_activation(graph, in)) return std::nullopt;
      data.push_back(in);
    } else if (!graph.values[in].constant) {
      return std::nullopt;  // a shape or index computed at run time: leave the op to float
    }
  }
  if (data.empty()) return std::nullopt;
  return data;
}

// The value where a layer's or op's output is quantized: after a Relu or Clip(min >= 0) that is
// its only reader.
ValueId output_point(const Graph& graph, ValueId out) {
  if (!has_single_consumer(graph, out)) return out;
  const Node& reader = graph.nodes[graph.consumers(out)[0]];
  if (is_default_domain(reader.domain) && reader.inputs[0] == out &&
      (reader.op_type == "Relu" || clip_at_zero(graph, reader)))
    return reader.outputs[0];
  return out;
}

}  // namespace

const char* int8_role_name(Int8Role role) {
  switch (role) {
    case Int8Role::LayerInput: return "layer input";
    case Int8Role::LayerOutput: return "layer output";
    case Int8Role::BetweenLayers: return "between layers";
  }
  return "?";
}

std::vector<FloatOpCount> float_ops_on_8bit_data(const Graph& graph) {
  auto is = [&](ValueId v, const char* op) {
    const auto p = v == kNoValue ? std::nullopt : graph.producer(v);
    return p && graph.nodes[*p].op_type == op;
  };
  std::map<std::string, FloatOpCount> counts;
  for (const Node& node : graph.nodes) {
    if (node.op_type == "QuantizeLinear" || node.op_type == "DequantizeLinear" || node.op_type == "Gather") continue;
    // Data input 0 from a DequantizeLinear of codes computed at run time (not of a weight).
    const bool reads_8bit = !node.inputs.empty() && is(node.inputs[0], "DequantizeLinear") &&
                            !graph.values[graph.nodes[*graph.producer(node.inputs[0])].inputs[0]].constant;
    if (!reads_8bit || node.outputs.empty()) continue;
    const bool layer = node.op_type == "Conv" || node.op_type == "Gemm" || node.op_type == "MatMul";
    bool requantized = false;
    const ValueId out = output_point(graph, node.outputs[0]);
    for (NodeId reader : graph.consumers(out)) requantized = requantized || graph.nodes[reader].op_type == "QuantizeLinear";
    if (requantized || node.op_type == "MatMul") continue;  // 8-bit, or MatMulIntegerToFloat
    FloatOpCount& c = counts[node.op_type];
    c.op_type = node.op_type;
    ++c.count;
    c.reason = layer ? "its output goes on in float (a Conv or Gemm needs a quantized output to run in 8 bits)"
             : moves_values(node) || kComputing.count(node.op_type) ? "its result goes on in float"
                                                                     : "no 8-bit form in the QDQ fusions";
  }
  std::vector<FloatOpCount> result;
  for (auto& [op, c] : counts) result.push_back(c);
  return result;
}

bool non_negative_value(const Graph& graph, ValueId value) {
  const Value& v = graph.values[value];
  if (v.constant) {
    const auto values = v.constant->to_double_vector();
    return std::all_of(values.begin(), values.end(), [](double x) { return x >= 0.0; });
  }
  const auto producer = graph.producer(value);
  if (!producer) return false;
  const Node& node = graph.nodes[*producer];
  if (!is_default_domain(node.domain)) return false;
  if (node.op_type == "Relu" || node.op_type == "Sigmoid" || node.op_type == "HardSigmoid" || node.op_type == "Softmax")
    return true;
  if (clip_at_zero(graph, node)) return true;
  if (moves_values(node) || node.op_type == "Resize") return non_negative_value(graph, node.inputs[0]);
  if (kKeepSign.count(node.op_type)) {
    for (ValueId in : node.inputs)
      if (in != kNoValue && !non_negative_value(graph, in)) return false;
    return true;
  }
  return false;
}

std::vector<Int8Tensor> int8_tensors(const Graph& graph, const std::set<NodeId>& layers, const std::set<ValueId>& skip) {
  std::map<ValueId, Int8Tensor> chosen;
  auto add = [&](ValueId v, Int8Role role, ValueId same_as) {
    if (!quantizable(graph, v) || skip.count(v) || chosen.count(v)) return;
    chosen[v] = {v, role, same_as, non_negative_value(graph, v)};
  };
  // Pass 1, in graph order: layer inputs and outputs, and the outputs of 8-bit-capable ops whose
  // tensor inputs are all chosen (candidates, pruned below).
  std::map<ValueId, NodeId> candidate_of;  // candidate output -> the op computing it
  for (NodeId id : layers) add(graph.nodes[id].inputs[0], Int8Role::LayerInput, kNoValue);
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id) {
    const Node& node = graph.nodes[id];
    if (layers.count(id)) {
      const ValueId out = output_point(graph, node.outputs[0]);
      if (node.op_type == "Conv" || node.op_type == "Gemm") add(out, Int8Role::LayerOutput, kNoValue);
      else if (quantizable(graph, out) && !skip.count(out)) candidate_of[out] = id;
      continue;
    }
    const auto inputs = int8_op_inputs(graph, node);
    if (!inputs) continue;
    const bool all_chosen = std::all_of(inputs->begin(), inputs->end(), [&](ValueId in) {
      return chosen.count(in) || candidate_of.count(in);
    });
    if (!all_chosen) continue;
    const ValueId out = output_point(graph, node.outputs[0]);
    if (!quantizable(graph, out) || skip.count(out)) continue;
    candidate_of[out] = id;
  }
  // Pass 2: keep a candidate only while an 8-bit reader needs it: a quantized layer reading it as
  // its data input, or an op whose output is still a candidate or chosen.
  auto kept = [&](ValueId v) { return chosen.count(v) || candidate_of.count(v); };
  bool changed = true;
  while (changed) {
    changed = false;
    for (auto it = candidate_of.begin(); it != candidate_of.end();) {
      bool needed = false;
      for (NodeId reader : graph.consumers(it->first)) {
        const Node& r = graph.nodes[reader];
        if (layers.count(reader) && r.inputs[0] == it->first) needed = true;
        else if (int8_op_inputs(graph, r) && kept(output_point(graph, r.outputs[0]))) needed = true;
      }
      // An op's candidate also needs all of its inputs kept.
      const Node& op = graph.nodes[it->second];
      if (!layers.count(it->second)) {
        const auto inputs = int8_op_inputs(graph, op);
        for (ValueId in : *inputs)
          if (!kept(in)) needed = false;
      }
      if (needed) {
        ++it;
      } else {
        it = candidate_of.erase(it);
        changed = true;
      }
    }
  }
  for (const auto& [v, id] : candidate_of) {
    const Node& node = graph.nodes[id];
    const ValueId same_as = !layers.count(id) && moves_values(node) ? node.inputs[0] : kNoValue;
    if (chosen.count(v)) chosen[v].same_grid_as = same_as;  // a layer's input computed by a moving op
    else add(v, layers.count(id) ? Int8Role::LayerOutput : Int8Role::BetweenLayers, same_as);
  }
  std::vector<Int8Tensor> result;
  for (const auto& [v, t] : chosen) result.push_back(t);
  // Graph order: by the producing node's position (graph inputs first).
  auto position = [&](ValueId v) {
    const auto p = graph.producer(v);
    return p ? *p : -1;
  };
  std::sort(result.begin(), result.end(), [&](const Int8Tensor& a, const Int8Tensor& b) {
    return position(a.value) < position(b.value);
  });
  return result;
}

}  // namespace ocs
