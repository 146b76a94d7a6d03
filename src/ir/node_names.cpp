#include "ir/node_names.h"

#include <fmt/format.h>

#include <set>
#include <string>

namespace ocs {

namespace {

// Every non-empty name the model brings, so that a generated name never takes one of them.
void collect_names(const Graph& graph, std::set<std::string>& names) {
  for (const Node& node : graph.nodes) {
    if (!node.name.empty()) names.insert(node.name);
    for (const auto& [key, attr] : node.attributes)
      if (attr.g) collect_names(*attr.g, names);
  }
}

struct Namer {
  std::set<std::string> original;  // names the model brings
  std::set<std::string> assigned;  // names given so far
  int64_t renamed = 0;

  // `base`, or `base_2`, `base_3`, ...: the first that neither the model nor this pass uses.
  std::string unique(const std::string& base) {
    std::string candidate = base;
    for (int k = 2; assigned.count(candidate) || original.count(candidate); ++k)
      candidate = fmt::format("{}_{}", base, k);
    return candidate;
  }

  void name_graph(Graph& graph, const std::string& prefix) {
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      Node& node = graph.nodes[i];
      const bool keep = !node.name.empty() && !assigned.count(node.name);
      if (!keep) {
        node.name = unique(node.name.empty() ? fmt::format("{}{}_{}", prefix, node.op_type, i) : node.name);
        ++renamed;
      }
      assigned.insert(node.name);
    }
    for (Node& node : graph.nodes)
      for (auto& [key, attr] : node.attributes)
        if (attr.g) name_graph(*attr.g, node.name + "/" + key + "/");
  }
};

}  // namespace

int64_t make_node_names_unique(Graph& graph) {
  Namer namer;
  collect_names(graph, namer.original);
  namer.name_graph(graph, "");
  return namer.renamed;
}

}  // namespace ocs
