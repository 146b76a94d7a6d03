#include "passes/specialize_inputs.h"

#include "core/error.h"
#include "core/option_names.h"
#include "passes/constant_folding.h"
#include "onnx/onnx_io.h"
#include "passes/graph_edit.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <set>

namespace ocs {
namespace {

constexpr int64_t kMaxRounds = 64;  // each round inlines at least one If or folds a node

std::string input_list(const Graph& graph) {
  std::string names;
  for (ValueId id : graph.inputs) names += (names.empty() ? "" : ", ") + graph.values[id].name;
  return names.empty() ? "(none)" : names;
}

ValueId find_input(const Graph& graph, const std::string& name, const std::string& option) {
  for (ValueId id : graph.inputs)
    if (graph.values[id].name == name) return id;
  user_error("{} {}: the model has no input '{}'; its inputs are: {}", option, name, name, input_list(graph));
}

// Every value and node name of `graph` and of its subgraphs, at any depth, except the own names
// of the graphs in `moving` (the branches about to be inlined: their names move up and only
// need renaming when they meet another name; their nested subgraphs' names do count).
void collect_names(const Graph& graph, const std::set<const Graph*>& moving, std::set<std::string>& names) {
  const bool own = moving.count(&graph) == 0;
  for (const Value& v : graph.values)
    if (own) names.insert(v.name);
  for (const Node& n : graph.nodes) {
    if (own) names.insert(n.name);
    for (const auto& [key, attr] : n.attributes)
      if (attr.g) collect_names(*attr.g, moving, names);
  }
}

std::string fresh_name(std::set<std::string>& used, const std::string& base) {
  std::string name = base;
  for (int k = 1; used.count(name); ++k) name = base + "_" + std::to_string(k);
  used.insert(name);
  return name;
}

// Outer-scope reads (by name) inside `graph` and its subgraphs follow `renames`. Subgraphs are
// copied first: the caller's graph may share them with another Graph (Graph copies are shallow
// for subgraphs).
void rename_outer_reads(Graph& graph, const std::map<std::string, std::string>& renames) {
  for (Value& v : graph.values) {
    auto it = renames.find(v.name);
    if (v.outer_scope && it != renames.end()) v.name = it->second;
  }
  for (Node& n : graph.nodes)
    for (auto& [key, attr] : n.attributes)
      if (attr.g) {
        attr.g = std::make_shared<Graph>(*attr.g);
        rename_outer_reads(*attr.g, renames);
      }
}

bool condition_value(const Node& node, const Value& condition) {
  const Tensor& t = *condition.constant;
  if (t.numel() != 1)
    user_error("{}: the condition must hold one element, got shape {}", node.describe(), shape_str(t.shape()));
  return t.to_double_vector()[0] != 0;
}

// Replaces graph.nodes[at] (an If with a constant condition) by its chosen branch; returns the
// nodes to put in its place.
std::vector<Node> inline_branch(Graph& graph, const Node& if_node, std::set<std::string>& used) {
  const bool taken = condition_value(if_node, graph.values[if_node.inputs.at(0)]);
  const std::string key = taken ? "then_branch" : "else_branch";
  const Graph& branch = *if_node.attr(key).g;
  if (branch.outputs.size() != if_node.outputs.size())
    user_error("{}: the {} returns {} values but the node has {} outputs", if_node.describe(), key,
               branch.outputs.size(), if_node.outputs.size());

  std::vector<ValueId> map(branch.values.size(), kNoValue);
  std::map<std::string, std::string> renames;  // branch name -> name in `graph`, where they differ
  // A branch output computed by a branch node is written straight into the If's output, which
  // keeps the If's output names (graph outputs, reads by name from later subgraphs).
  std::vector<bool> direct(branch.outputs.size(), false);
  for (size_t k = 0; k < branch.outputs.size(); ++k) {
    const ValueId b = branch.outputs[k];
    const ValueId o = if_node.outputs[k];
    if (o == kNoValue || map[b] != kNoValue || !branch.producer(b)) continue;
    map[b] = o;
    direct[k] = true;
    if (branch.values[b].name != graph.values[o].name) renames[branch.values[b].name] = graph.values[o].name;
  }
  for (size_t id = 0; id < branch.values.size(); ++id) {
    if (map[id] != kNoValue) continue;
    const Value& value = branch.values[id];
    if (value.outer_scope) {
      map[id] = graph.find_value(value.name);
      if (map[id] == kNoValue)
        user_error("{}: the {} reads '{}', which the enclosing graph does not define", if_node.describe(), key,
                   value.name);
      continue;
    }
    Value copy = value;
    copy.name = fresh_name(used, value.name);
    if (copy.name != value.name) renames[value.name] = copy.name;
    map[id] = graph.add_value(std::move(copy));
  }

  std::vector<Node> nodes;
  for (const Node& source : branch.nodes) {
    Node node = source;
    node.name = fresh_name(used, source.name.empty() ? if_node.name + "_" + source.op_type : source.name);
    for (ValueId& v : node.inputs)
      if (v != kNoValue) v = map[v];
    for (ValueId& v : node.outputs)
      if (v != kNoValue) v = map[v];
    for (auto& [name, attr] : node.attributes)
      if (attr.g) {
        attr.g = std::make_shared<Graph>(*attr.g);
        rename_outer_reads(*attr.g, renames);
      }
    nodes.push_back(std::move(node));
  }
  // Outputs that are an outer value, a constant or a repeated branch value: copy them.
  for (size_t k = 0; k < branch.outputs.size(); ++k) {
    if (direct[k] || if_node.outputs[k] == kNoValue) continue;
    Node identity;
    identity.name = fresh_name(used, if_node.name + "_output" + std::to_string(k));
    identity.op_type = "Identity";
    identity.inputs = {map[branch.outputs[k]]};
    identity.outputs = {if_node.outputs[k]};
    nodes.push_back(std::move(identity));
  }
  return nodes;
}

// The dims Shape(x) returns: x's shape from `start` to `end` (opset 15 added both; negative counts
// from the back; both clamped to [0, rank]). -1 where a dim is not static; nullopt if the rank is
// unknown.
std::optional<Shape> shape_op_result(const Graph& graph, const Node& node) {
  const Value& input = graph.values[node.inputs[0]];
  if (!input.shape) return std::nullopt;
  const Shape& dims = *input.shape;
  const int64_t rank = static_cast<int64_t>(dims.size());
  auto clamp = [rank](int64_t i) { return std::clamp(i < 0 ? i + rank : i, int64_t{0}, rank); };
  const bool ranged = graph.opset("") >= 15;
  const int64_t start = ranged ? clamp(node.attr_int("start", 0)) : 0;
  const int64_t end = ranged ? clamp(node.attr_int("end", rank)) : rank;
  return Shape(dims.begin() + start, dims.begin() + std::max(start, end));
}

bool all_static(const Shape& dims) {
  return std::all_of(dims.begin(), dims.end(), [](int64_t d) { return d >= 0; });
}

// Folds, into constants:
//   Shape(x) and Size(x) when x's shape is static;
//   Gather(Shape(x), constant indices) on axis 0 when the dims it picks are static, although
//   others are not (PyTorch exports read a state's fixed dim this way: Silero's Shape(h)[0]).
int64_t fold_static_shapes(Graph& graph) {
  std::map<ValueId, const Node*> shape_of;  // output of a Shape node -> that node
  for (const Node& node : graph.nodes)
    if (node.domain.empty() && node.op_type == "Shape" && node.outputs.size() == 1) shape_of[node.outputs[0]] = &node;
  std::map<ValueId, Tensor> folded;
  for (const Node& node : graph.nodes) {
    if (!node.domain.empty() || node.outputs.size() != 1 || node.outputs[0] == kNoValue || node.inputs.empty() ||
        node.inputs[0] == kNoValue)
      continue;
    if (node.op_type == "Shape" || node.op_type == "Size") {
      const std::optional<Shape> dims = shape_op_result(graph, node);
      if (!dims || !all_static(*dims) || !all_static(*graph.values[node.inputs[0]].shape)) continue;
      if (node.op_type == "Shape") {
        folded[node.outputs[0]] = Tensor::from_vector<int64_t>({static_cast<int64_t>(dims->size())}, *dims);
      } else {
        int64_t count = 1;
        for (int64_t d : *graph.values[node.inputs[0]].shape) count *= d;
        folded[node.outputs[0]] = Tensor::scalar<int64_t>(count);
      }
    } else if (node.op_type == "Gather" && node.inputs.size() == 2 && shape_of.count(node.inputs[0]) &&
               node.attr_int("axis", 0) == 0 && graph.values[node.inputs[1]].constant) {
      const std::optional<Shape> dims = shape_op_result(graph, *shape_of[node.inputs[0]]);
      if (!dims) continue;
      const Tensor& indices = *graph.values[node.inputs[1]].constant;
      std::vector<int64_t> picked;
      for (int64_t i : indices.to_int64_vector()) {
        const int64_t n = static_cast<int64_t>(dims->size());
        if (i < -n || i >= n) break;
        picked.push_back((*dims)[static_cast<size_t>(i < 0 ? i + n : i)]);
      }
      if (static_cast<int64_t>(picked.size()) != indices.numel() || !all_static(picked)) continue;
      folded[node.outputs[0]] = Tensor::from_vector<int64_t>(indices.shape(), picked);
    }
  }
  std::vector<Node> kept;
  for (Node& node : graph.nodes) {
    if (node.outputs.size() == 1 && folded.count(node.outputs[0])) {
      Value& out = graph.values[node.outputs[0]];
      out.dtype = DType::Int64;
      out.shape = folded[node.outputs[0]].shape();
      out.constant = std::move(folded[node.outputs[0]]);
    } else {
      kept.push_back(std::move(node));
    }
  }
  const int64_t count = static_cast<int64_t>(graph.nodes.size() - kept.size());
  graph.nodes = std::move(kept);
  return count;
}

// Removes nodes none of whose outputs is read (by a node, a subgraph or as a graph output): what
// folding and inlining left behind, e.g. the Shape(h) whose Gather became a constant. Every op
// here is side-effect free. Returns the number removed.
int64_t remove_dead_nodes(Graph& graph) {
  std::set<std::string> read;
  std::function<void(const Graph&)> collect_reads = [&](const Graph& g) {
    for (const Node& n : g.nodes) {
      for (ValueId v : n.inputs)
        if (v != kNoValue) read.insert(g.values[v].name);
      for (const auto& [key, attr] : n.attributes)
        if (attr.g) collect_reads(*attr.g);
    }
    for (ValueId v : g.outputs) read.insert(g.values[v].name);
  };
  int64_t removed = 0;
  for (bool again = true; again;) {  // removing a node can make its inputs' producers dead
    read.clear();
    collect_reads(graph);
    std::vector<Node> kept;
    for (Node& node : graph.nodes) {
      const bool live = std::any_of(node.outputs.begin(), node.outputs.end(), [&](ValueId v) {
        return v != kNoValue && read.count(graph.values[v].name);
      });
      if (live) kept.push_back(std::move(node));
    }
    again = kept.size() != graph.nodes.size();
    removed += static_cast<int64_t>(graph.nodes.size() - kept.size());
    graph.nodes = std::move(kept);
  }
  return removed;
}

// Static shapes from ONNX shape inference: the graph goes through export and import (which runs
// libonnx's InferShapes) and every top-level value takes the inferred shape where that knows
// more dims than ours.
void refresh_shapes(Graph& graph) {
  ImportOptions options;
  options.require_kernels = false;
  const Graph inferred = import_onnx_bytes(export_onnx_bytes(graph), ".", "the specialized graph", options);
  for (Value& value : graph.values) {
    if (value.constant) continue;
    const ValueId id = inferred.find_value(value.name);
    if (id == kNoValue || !inferred.values[id].shape) continue;
    const Shape& shape = *inferred.values[id].shape;
    auto known = [](const Shape& s) { return std::count_if(s.begin(), s.end(), [](int64_t d) { return d >= 0; }); };
    if (!value.shape || (value.shape->size() == shape.size() && known(shape) > known(*value.shape)))
      value.shape = shape;
  }
}

}  // namespace


namespace {

bool is_constant_if(const Graph& graph, const Node& node) {
  return node.domain.empty() && node.op_type == "If" && !node.inputs.empty() && node.inputs[0] != kNoValue &&
         graph.values[node.inputs[0]].constant.has_value();
}

}  // namespace

int64_t inline_constant_ifs(Graph& graph) {
  std::set<const Graph*> moving;
  for (const Node& node : graph.nodes)
    if (is_constant_if(graph, node))
      moving.insert(node.attr(condition_value(node, graph.values[node.inputs[0]]) ? "then_branch" : "else_branch").g.get());
  std::set<std::string> used;
  collect_names(graph, moving, used);
  int64_t inlined = 0;
  std::vector<Node> nodes;
  for (Node& node : graph.nodes) {
    if (!is_constant_if(graph, node)) {
      nodes.push_back(std::move(node));
      continue;
    }
    for (Node& inner : inline_branch(graph, node, used)) nodes.push_back(std::move(inner));
    ++inlined;
  }
  graph.nodes = std::move(nodes);
  return inlined;
}

SpecializeStats specialize_inputs(Graph& graph, const SpecializeOptions& options) {
  SpecializeStats stats;
  for (const auto& [name, shape] : options.shapes) {
    Value& value = graph.values[find_input(graph, name, option_name("--fix-shape"))];
    if (value.shape) {
      bool fits = value.shape->size() == shape.size();
      for (size_t d = 0; fits && d < shape.size(); ++d) fits = (*value.shape)[d] < 0 || (*value.shape)[d] == shape[d];
      if (!fits)
        user_error("{} {}: input '{}' is declared with shape {} (-1 = any), which {} does not fit",
                   option_name("--fix-shape"), name, name, shape_str(*value.shape), shape_str(shape));
    }
    value.shape = shape;
    ++stats.shapes_fixed;
  }
  for (const auto& [name, text] : options.values) {
    const ValueId id = find_input(graph, name, option_name("--fix-input"));
    Value& value = graph.values[id];
    value.constant = fixed_input_tensor(value, text);
    value.shape = value.constant->shape();
    graph.inputs.erase(std::find(graph.inputs.begin(), graph.inputs.end(), id));
    ++stats.inputs_fixed;
  }
  while (stats.rounds < kMaxRounds) {
    ++stats.rounds;
    refresh_shapes(graph);
    const int64_t shapes = fold_static_shapes(graph);
    const int64_t folded = fold_constants(graph);
    const int64_t inlined = inline_constant_ifs(graph);
    stats.shapes_folded += shapes;
    stats.nodes_folded += folded;
    stats.ifs_inlined += inlined;
    if (shapes + folded + inlined == 0) break;
  }
  remove_dead_nodes(graph);
  prune_unused_values(graph);
  graph.verify();
  return stats;
}

}  // namespace ocs
