// A graph's inputs and outputs as the installed API describes them (ocs::TensorInfo).
#pragma once

#include "ir/graph.h"
#include "ocs/ocs.h"

#include <vector>

namespace ocs::api {

std::vector<TensorInfo> graph_inputs(const Graph& graph);
std::vector<TensorInfo> graph_outputs(const Graph& graph);

}  // namespace ocs::api
