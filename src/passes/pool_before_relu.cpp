#include "passes/pool_before_relu.h"

#include "passes/graph_edit.h"

#include <optional>

namespace ocs {
namespace {

// The MaxPool that is the only reader of this Relu's output, when the pair can swap.
std::optional<NodeId> pool_after(const Graph& graph, const Node& relu) {
  if (!is_op(relu, "Relu") || relu.inputs.size() != 1 || relu.outputs.size() != 1) return std::nullopt;
  const ValueId r = relu.outputs[0];
  if (graph.is_graph_output(r) || !has_single_consumer(graph, r)) return std::nullopt;
  const NodeId id = graph.consumers(r)[0];
  const Node& pool = graph.nodes[id];
  if (!is_op(pool, "MaxPool") || pool.inputs.size() != 1 || pool.inputs[0] != r) return std::nullopt;
  if (pool.outputs.size() != 1 && !(pool.outputs.size() == 2 && pool.outputs[1] == kNoValue)) return std::nullopt;
  return id;
}

}  // namespace

int64_t pool_before_relu(Graph& graph) {
  int64_t swapped = 0;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id) {
    const auto pool_id = pool_after(graph, graph.nodes[id]);
    if (!pool_id) continue;
    Node& relu = graph.nodes[id];
    Node& pool = graph.nodes[*pool_id];
    // x -> Relu -> r -> MaxPool -> y   becomes   x -> MaxPool -> r -> Relu -> y, with r now
    // holding the pooled (not yet rectified) values.
    const ValueId x = relu.inputs[0], r = relu.outputs[0], y = pool.outputs[0];
    graph.values[r].shape = graph.values[y].shape;
    pool.inputs[0] = x;
    pool.outputs[0] = r;
    relu.inputs[0] = r;
    relu.outputs[0] = y;
    std::swap(graph.nodes[id], graph.nodes[*pool_id]);  // the MaxPool first, where the Relu was
    ++swapped;
  }
  return swapped;
}

}  // namespace ocs
