#include "passes/resize_barriers.h"

#include "passes/graph_edit.h"

#include <algorithm>
#include <optional>
#include <vector>

namespace ocs {
namespace {

// The upsampling factor f of a Resize this pass rewrites (header), else nothing.
std::optional<int64_t> power_of_two_factor(const Graph& graph, const Node& resize) {
  if (!is_op(resize, "Resize") || graph.opset() < 11 || resize.inputs.size() != 3 || resize.outputs.size() != 1)
    return std::nullopt;
  if (resize.attr_string("mode", "nearest") != "nearest" ||
      resize.attr_string("coordinate_transformation_mode", "half_pixel") != "asymmetric" ||
      resize.attr_string("nearest_mode", "round_prefer_floor") != "floor" || resize.attr_int("antialias", 0) != 0)
    return std::nullopt;
  const auto& scales = graph.values[resize.inputs[2]].constant;
  if (!scales || scales->dtype() != DType::Float32 || scales->numel() != 4) return std::nullopt;
  const float* s = scales->data<float>();
  if (s[0] != 1.0f || s[1] != 1.0f || s[2] != s[3] || !(s[2] >= 2.0f && s[2] <= 64.0f)) return std::nullopt;
  const auto f = static_cast<int64_t>(s[2]);
  if (static_cast<float>(f) != s[2] || (f & (f - 1)) != 0) return std::nullopt;
  const auto p = graph.producer(resize.inputs[0]);
  if (!p || !is_op(graph.nodes[*p], "DequantizeLinear")) return std::nullopt;
  return f;
}

// The nodes that replace `resize` (its input x, its output y): Shape, Reshape, then Resizes by 2
// with a round trip on x's grid between two of them.
std::vector<Node> barrier_and_steps(Graph& graph, NameTable& names, const Node& resize, int64_t factor) {
  const ValueId x = resize.inputs[0], y = resize.outputs[0];
  const Value xv = graph.values[x];  // copies: adding values below moves graph.values
  const std::string base = resize.name;
  // The barrier stands on the codes, and a DequantizeLinear of its own follows it: the Resize
  // then reads a DequantizeLinear, as before, and ORT runs the Reshape on uint8.
  const Node& dequantize = graph.nodes[*graph.producer(x)];
  const std::vector<ValueId> grid(dequantize.inputs.begin() + 1, dequantize.inputs.end());
  const ValueId codes = dequantize.inputs[0];
  const Value cv = graph.values[codes];
  std::vector<Node> nodes;
  const ValueId shape = add_activation(graph, names, cv.name + "_shape", DType::Int64, Shape{4});
  nodes.push_back(make_node(names, "Shape", base + "_Shape", {codes}, {shape}));
  const ValueId kept = add_activation(graph, names, cv.name + "_channels_first", cv.dtype, cv.shape);
  nodes.push_back(make_node(names, "Reshape", base + "_Reshape", {codes, shape}, {kept}));
  ValueId cur = add_activation(graph, names, xv.name + "_channels_first", xv.dtype, xv.shape);
  std::vector<ValueId> dq_inputs = {kept};
  dq_inputs.insert(dq_inputs.end(), grid.begin(), grid.end());
  nodes.push_back(make_node(names, "DequantizeLinear", base + "_DequantizeLinear", dq_inputs, {cur}));
  nodes.back().attributes = dequantize.attributes;
  const ValueId by_two = add_constant(graph, names, base + "_scales_2", Tensor::from_vector<float>({4}, {1, 1, 2, 2}));
  // Between two steps the values are still codes of x's grid: a QuantizeLinear ->
  // DequantizeLinear pair on that grid is exact there, and lets ORT run every step on uint8.
  for (int64_t f = factor; f > 1; f /= 2) {
    const ValueId out = f == 2 ? y : add_activation(graph, names, graph.values[y].name + "_half", xv.dtype, std::nullopt);
    Node step = make_node(names, "Resize", base + "_x2", {cur, resize.inputs[1], by_two}, {out});
    step.attributes = resize.attributes;
    nodes.push_back(std::move(step));
    cur = out;
    if (f == 2) break;
    const ValueId step_codes = add_activation(graph, names, graph.values[out].name + "_quantized", cv.dtype, std::nullopt);
    const ValueId back = add_activation(graph, names, graph.values[out].name + "_dequantized", xv.dtype, std::nullopt);
    std::vector<ValueId> q_in = {out}, dq_in = {step_codes};
    q_in.insert(q_in.end(), grid.begin(), grid.end());
    dq_in.insert(dq_in.end(), grid.begin(), grid.end());
    Node q = make_node(names, "QuantizeLinear", base + "_x2_QuantizeLinear", q_in, {step_codes});
    Node dq = make_node(names, "DequantizeLinear", base + "_x2_DequantizeLinear", dq_in, {back});
    q.attributes = dq.attributes = dequantize.attributes;  // the axis of a per-axis grid
    nodes.push_back(std::move(q));
    nodes.push_back(std::move(dq));
    cur = back;
  }
  return nodes;
}

}  // namespace

int64_t add_resize_barriers(Graph& graph) {
  std::vector<std::optional<int64_t>> factor;
  for (const Node& node : graph.nodes) factor.push_back(power_of_two_factor(graph, node));
  if (std::none_of(factor.begin(), factor.end(), [](const auto& f) { return f.has_value(); })) return 0;
  NameTable names(graph);
  std::vector<Node> rewritten;
  int64_t count = 0;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id) {
    const Node& node = graph.nodes[id];
    if (!factor[id]) {
      rewritten.push_back(node);
      continue;
    }
    ++count;
    for (Node& n : barrier_and_steps(graph, names, node, *factor[id])) rewritten.push_back(std::move(n));
  }
  graph.nodes = std::move(rewritten);
  // A DequantizeLinear that only a rewritten Resize read is unread now: it goes, and so do the
  // values nothing refers to any more (its output, the old scales).
  std::vector<bool> unread(graph.nodes.size(), false);
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    unread[n] = is_op(node, "DequantizeLinear") && graph.consumers(node.outputs[0]).empty() &&
                !graph.is_graph_output(node.outputs[0]);
  }
  std::vector<Node> kept;
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    if (!unread[n]) kept.push_back(std::move(graph.nodes[n]));
  graph.nodes = std::move(kept);
  prune_unused_values(graph);
  return count;
}

}  // namespace ocs
