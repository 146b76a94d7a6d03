// Layers with weights inside subgraphs (If branches, Loop bodies). A branch often reads its
// weights from the enclosing graph (a top-level initializer is an outer-scope value there), so
// finding a branch layer's weight means looking outwards by name. `inspect` lists these layers;
// `quantize` works on the top-level graph only and reports them as left float, with the way to
// reach them (--fix-input inlines an If whose condition it decides).
#pragma once

#include "ir/graph.h"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <vector>

namespace ocs {

// The enclosing graphs of a subgraph, outermost first (empty for the top-level graph).
using GraphScope = std::vector<const Graph*>;

// The value holding the data of `id` in `graph`: itself when it is a constant, else for an
// outer-scope value the constant of that name in the nearest enclosing graph of `scope` that
// defines it; nullptr when there is no constant.
const Value* resolve_constant(const Graph& graph, ValueId id, const GraphScope& scope);

struct SubgraphLayer {
  std::string node;     // node name
  std::string op_type;
  std::string weight;   // the weight's value name
  std::string where;    // e.g. "If 'check_sr' then_branch"
};

// Every layer with a constant weight (Conv, ConvTranspose, Gemm, MatMul, LSTM, GRU, RNN) inside a
// subgraph of `graph`, at any depth, in graph order.
std::vector<SubgraphLayer> find_subgraph_layers(const Graph& graph);

// Adds the layers of find_subgraph_layers(graph) to a quantize report as rows left in float
// (report["layers"]), with the reason, and counts them in report["model"]["layers_left_float"].
void report_subgraph_layers_left_float(const Graph& graph, nlohmann::json& report);

}  // namespace ocs
