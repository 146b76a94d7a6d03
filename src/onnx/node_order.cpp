#include "onnx/node_order.h"

#include <functional>
#include <map>
#include <queue>
#include <set>
#include <string>
#include <vector>

namespace ocs {

namespace {

// Every value name a node reads: its inputs and, recursively, the inputs of its subgraphs'
// nodes (a name a subgraph defines itself may be counted too: it is then no dependency, as no
// node of the enclosing graph produces it, or it is one that does no harm).
void names_read(const onnx::NodeProto& node, std::set<std::string>& names) {
  for (const auto& in : node.input())
    if (!in.empty()) names.insert(in);
  for (const auto& a : node.attribute()) {
    if (a.has_g())
      for (const auto& inner : a.g().node()) names_read(inner, names);
    for (const auto& g : a.graphs())
      for (const auto& inner : g.node()) names_read(inner, names);
  }
}

// The order of Kahn's algorithm, lowest index first; shorter than the graph on a cycle.
std::vector<int> topological_order(const onnx::GraphProto& graph) {
  const int n = graph.node_size();
  std::map<std::string, int> producer;
  for (int i = 0; i < n; ++i)
    for (const auto& out : graph.node(i).output())
      if (!out.empty()) producer.emplace(out, i);
  std::vector<std::vector<int>> readers(n);
  std::vector<int> pending(n, 0);
  for (int i = 0; i < n; ++i) {
    std::set<std::string> names;
    names_read(graph.node(i), names);
    std::set<int> deps;
    for (const auto& name : names)
      if (auto it = producer.find(name); it != producer.end()) deps.insert(it->second);
    for (int d : deps) {
      readers[d].push_back(i);
      ++pending[i];
    }
  }
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i)
    if (pending[i] == 0) ready.push(i);
  std::vector<int> order;
  while (!ready.empty()) {
    const int i = ready.top();
    ready.pop();
    order.push_back(i);
    for (int r : readers[i])
      if (--pending[r] == 0) ready.push(r);
  }
  return order;
}

}  // namespace

bool sort_nodes_topologically(onnx::GraphProto& graph) {
  bool changed = false;
  for (auto& node : *graph.mutable_node())
    for (auto& a : *node.mutable_attribute()) {
      if (a.has_g()) changed = sort_nodes_topologically(*a.mutable_g()) || changed;
      for (auto& g : *a.mutable_graphs()) changed = sort_nodes_topologically(g) || changed;
    }
  const std::vector<int> order = topological_order(graph);
  if (order.size() != static_cast<size_t>(graph.node_size())) return changed;  // a cycle
  bool sorted = true;
  for (size_t k = 0; k < order.size(); ++k) sorted = sorted && order[k] == static_cast<int>(k);
  if (sorted) return changed;
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (int i : order) nodes.Add()->Swap(graph.mutable_node(i));
  graph.mutable_node()->Swap(&nodes);
  return true;
}

}  // namespace ocs
