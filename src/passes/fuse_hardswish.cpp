#include "passes/fuse_hardswish.h"

#include "passes/graph_edit.h"
#include "passes/raise_opset.h"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

namespace ocs {
namespace {

constexpr int64_t kHardSwishOpset = 14;

// The one node reading `v` (not a graph output), when there is exactly one.
std::optional<NodeId> sole_reader(const Graph& graph, ValueId v) {
  if (!has_single_consumer(graph, v)) return std::nullopt;
  return graph.consumers(v)[0];
}

// The other input of a two-input node of which `v` is one input.
std::optional<ValueId> other_input(const Node& node, ValueId v) {
  if (node.inputs.size() != 2) return std::nullopt;
  if (node.inputs[0] == v && node.inputs[1] != v) return node.inputs[1];
  if (node.inputs[1] == v && node.inputs[0] != v) return node.inputs[0];
  return std::nullopt;
}

bool clips_0_6(const Graph& graph, const Node& clip, ValueId in) {
  if (!is_op(clip, "Clip") || clip.inputs.empty() || clip.inputs[0] != in) return false;
  if (clip.inputs.size() == 1) return clip.attr_float("min", -1.0f) == 0.0f && clip.attr_float("max", -1.0f) == 6.0f;
  return clip.inputs.size() == 3 && float_scalar_constant(graph, clip.inputs[1]) == 0.0f &&
         float_scalar_constant(graph, clip.inputs[2]) == 6.0f;
}

// The pattern starting at the Add `add_id` (header): its four nodes in order, or nothing.
std::optional<std::vector<NodeId>> match(const Graph& graph, NodeId add_id) {
  const Node& add = graph.nodes[add_id];
  if (!is_op(add, "Add") || add.outputs.size() != 1) return std::nullopt;
  for (ValueId x : add.inputs) {
    const auto three = other_input(add, x);
    if (!three || float_scalar_constant(graph, *three) != 3.0f || graph.values[x].constant) continue;
    const auto clip_id = sole_reader(graph, add.outputs[0]);
    if (!clip_id || !clips_0_6(graph, graph.nodes[*clip_id], add.outputs[0])) continue;
    const ValueId clipped = graph.nodes[*clip_id].outputs[0];
    const auto mul_id = sole_reader(graph, clipped);
    if (!mul_id || !is_op(graph.nodes[*mul_id], "Mul") || other_input(graph.nodes[*mul_id], clipped) != x) continue;
    const auto div_id = sole_reader(graph, graph.nodes[*mul_id].outputs[0]);
    if (!div_id) continue;
    const Node& div = graph.nodes[*div_id];
    if (!is_op(div, "Div") || div.inputs.size() != 2 || div.inputs[0] != graph.nodes[*mul_id].outputs[0] ||
        float_scalar_constant(graph, div.inputs[1]) != 6.0f)
      continue;
    return std::vector<NodeId>{add_id, *clip_id, *mul_id, *div_id};
  }
  return std::nullopt;
}

// Every match, none sharing a node.
std::vector<std::vector<NodeId>> find_all(const Graph& graph) {
  std::vector<std::vector<NodeId>> found;
  std::set<NodeId> taken;
  for (NodeId n = 0; n < static_cast<NodeId>(graph.nodes.size()); ++n) {
    auto nodes = match(graph, n);
    if (!nodes || std::any_of(nodes->begin(), nodes->end(), [&](NodeId m) { return taken.count(m) > 0; })) continue;
    taken.insert(nodes->begin(), nodes->end());
    found.push_back(std::move(*nodes));
  }
  return found;
}

}  // namespace

int64_t fuse_hardswish(Graph& graph) {
  if (find_all(graph).empty()) return 0;
  if (graph.opset() < kHardSwishOpset) {
    if (!opset_blocker(graph, kHardSwishOpset).empty()) return 0;
    raise_opset(graph, kHardSwishOpset, "HardSwish");
  }
  // Matched again: raising the opset may insert nodes (opset 13's normalizers).
  const std::vector<std::vector<NodeId>> found = find_all(graph);
  std::set<ValueId> constants;
  std::set<NodeId> removed;
  for (const std::vector<NodeId>& nodes : found) {
    const ValueId x = graph.nodes[nodes[2]].inputs[0] == graph.nodes[nodes[1]].outputs[0]
                          ? graph.nodes[nodes[2]].inputs[1] : graph.nodes[nodes[2]].inputs[0];
    for (NodeId n : nodes)
      for (ValueId in : graph.nodes[n].inputs)
        if (in != kNoValue && graph.values[in].constant) constants.insert(in);
    Node& div = graph.nodes[nodes[3]];
    div.op_type = "HardSwish";
    div.domain = "";
    div.inputs = {x};
    div.attributes.clear();
    removed.insert(nodes.begin(), nodes.begin() + 3);
  }
  std::vector<Node> kept;
  for (NodeId n = 0; n < static_cast<NodeId>(graph.nodes.size()); ++n)
    if (!removed.count(n)) kept.push_back(std::move(graph.nodes[n]));
  graph.nodes = std::move(kept);
  drop_unused_constants(graph, constants);
  return static_cast<int64_t>(found.size());
}

}  // namespace ocs
