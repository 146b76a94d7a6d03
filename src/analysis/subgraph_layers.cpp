#include "analysis/subgraph_layers.h"

#include "passes/weighted_layer.h"

#include <nlohmann/json.hpp>

namespace ocs {

const Value* resolve_constant(const Graph& graph, ValueId id, const GraphScope& scope) {
  if (id == kNoValue) return nullptr;
  const Value& value = graph.values[id];
  if (value.constant) return &value;
  if (!value.outer_scope) return nullptr;
  for (auto outer = scope.rbegin(); outer != scope.rend(); ++outer) {
    const ValueId found = (*outer)->find_value(value.name);
    if (found == kNoValue) continue;
    const Value& defined = (*outer)->values[found];
    if (defined.constant) return &defined;
    if (!defined.outer_scope) return nullptr;  // computed in that graph: not a weight
  }
  return nullptr;
}

namespace {

void collect(const Graph& graph, GraphScope& scope, const std::string& where, std::vector<SubgraphLayer>& out) {
  for (const Node& node : graph.nodes) {
    if (!scope.empty() && node.inputs.size() > 1 && weight_input_channel_axis(node, graph, 1) >= 0)
      if (const Value* w = resolve_constant(graph, node.inputs[1], scope))
        out.push_back({node.name, node.op_type, w->name, where});
    for (const auto& [key, attr] : node.attributes) {
      if (!attr.g) continue;
      scope.push_back(&graph);
      collect(*attr.g, scope, fmt::format("{} '{}' {}", node.op_type, node.name, key), out);
      scope.pop_back();
    }
  }
}

}  // namespace

std::vector<SubgraphLayer> find_subgraph_layers(const Graph& graph) {
  std::vector<SubgraphLayer> out;
  GraphScope scope;
  collect(graph, scope, "", out);
  return out;
}

void report_subgraph_layers_left_float(const Graph& graph, nlohmann::json& report) {
  const auto layers = find_subgraph_layers(graph);
  for (const auto& layer : layers) {
    const bool in_if = layer.where.rfind("If ", 0) == 0;
    // No "weight" key: the report table folds consecutive rows of one weight into one line, and
    // both branches of an If may read the same outer weight.
    report["layers"].push_back(
        {{"node", layer.node}, {"op_type", layer.op_type}, {"quantized", false}, {"subgraph", layer.where},
         {"left_float", fmt::format("inside {}: {}", layer.where,
                                    in_if ? "use --fix-input to inline the If" : "quantize does not enter this body")}});
  }
  if (!layers.empty())
    report["model"]["layers_left_float"] = report["model"].value("layers_left_float", int64_t{0}) +
                                           static_cast<int64_t>(layers.size());
}

}  // namespace ocs
