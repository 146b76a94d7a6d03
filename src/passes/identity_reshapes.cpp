#include "passes/identity_reshapes.h"

#include "passes/graph_edit.h"

#include <algorithm>
#include <set>
#include <vector>

namespace ocs {
namespace {

// True when `reshape` is Reshape(x, Shape(x)) (a whole-tensor Shape: no start or end).
bool is_identity_reshape(const Graph& graph, const Node& reshape) {
  if (!is_op(reshape, "Reshape") || reshape.inputs.size() != 2 || reshape.outputs.size() != 1) return false;
  if (graph.is_graph_output(reshape.outputs[0])) return false;
  const auto p = graph.producer(reshape.inputs[1]);
  if (!p) return false;
  const Node& shape = graph.nodes[*p];
  if (!is_op(shape, "Shape") || shape.inputs.size() != 1 || shape.inputs[0] != reshape.inputs[0] ||
      shape.has_attr("start") || shape.has_attr("end"))
    return false;
  // Every reader reads it as a node input (not by name from a subgraph), so rewiring reaches all.
  for (NodeId reader : graph.consumers(reshape.outputs[0])) {
    const auto& in = graph.nodes[reader].inputs;
    if (std::find(in.begin(), in.end(), reshape.outputs[0]) == in.end()) return false;
  }
  return true;
}

}  // namespace

int64_t skip_identity_reshapes(Graph& graph) {
  std::set<NodeId> removed;
  int64_t reshapes = 0;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id) {
    const Node& reshape = graph.nodes[id];
    if (!is_identity_reshape(graph, reshape)) continue;
    const ValueId x = reshape.inputs[0], y = reshape.outputs[0], shape = reshape.inputs[1];
    for (Node& node : graph.nodes)
      for (ValueId& in : node.inputs)
        if (in == y) in = x;
    removed.insert(id);
    ++reshapes;
    if (graph.consumers(shape).size() == 1 && !graph.is_graph_output(shape)) removed.insert(*graph.producer(shape));
  }
  if (removed.empty()) return 0;
  std::vector<Node> kept;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id)
    if (!removed.count(id)) kept.push_back(std::move(graph.nodes[id]));
  graph.nodes = std::move(kept);
  return reshapes;
}

}  // namespace ocs
