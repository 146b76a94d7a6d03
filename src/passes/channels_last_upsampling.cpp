#include "passes/channels_last_upsampling.h"

#include "passes/graph_edit.h"

#include <algorithm>
#include <optional>
#include <set>
#include <vector>

namespace ocs {
namespace {

const std::vector<int64_t> kToChannelsLast = {0, 2, 3, 1};
const std::vector<int64_t> kToChannelsFirst = {0, 3, 1, 2};
const std::vector<int64_t> kCopyAxes = {2, 4};

struct Factors {
  int64_t h = 1, w = 1;
};

// A scale the copies can do: a whole number from 1 to 64.
std::optional<int64_t> whole_factor(float s) {
  if (!(s >= 1.0f && s <= 64.0f)) return std::nullopt;
  const auto f = static_cast<int64_t>(s);
  if (static_cast<float>(f) != s) return std::nullopt;
  return f;
}

// True when this nearest Resize reads pixel floor(x / f) for output pixel x (header).
bool reads_floor(const Node& resize) {
  const std::string coordinates = resize.attr_string("coordinate_transformation_mode", "half_pixel");
  const std::string rounding = resize.attr_string("nearest_mode", "round_prefer_floor");
  if (coordinates == "asymmetric") return rounding == "floor";
  if (coordinates == "half_pixel") return rounding == "round_prefer_floor" || rounding == "round_prefer_ceil";
  return false;
}

// The factors of a Resize the export rewrites (header), else nothing.
std::optional<Factors> upsampling_factors(const Graph& graph, const Node& resize) {
  if (!is_op(resize, "Resize") || graph.opset() < 11 || resize.inputs.size() != 3 || resize.outputs.size() != 1)
    return std::nullopt;
  if (resize.attr_string("mode", "nearest") != "nearest" || !reads_floor(resize) ||
      resize.attr_int("antialias", 0) != 0 || resize.has_attr("axes"))
    return std::nullopt;
  const auto& scales = graph.values[resize.inputs[2]].constant;
  if (!scales || scales->dtype() != DType::Float32 || scales->numel() != 4) return std::nullopt;
  const float* s = scales->data<float>();
  const auto fh = whole_factor(s[2]), fw = whole_factor(s[3]);
  if (s[0] != 1.0f || s[1] != 1.0f || !fh || !fw || *fh * *fw == 1) return std::nullopt;
  const auto p = graph.producer(resize.inputs[0]);
  if (!p || !is_op(graph.nodes[*p], "DequantizeLinear")) return std::nullopt;
  return Factors{*fh, *fw};
}

// Unsqueeze(x, axes): `axes` an attribute before opset 13, an input from 13.
Node unsqueeze(Graph& graph, NameTable& names, const std::string& base, ValueId x, ValueId y) {
  if (graph.opset() >= 13) {
    const ValueId axes = add_constant(graph, names, base + "_axes", Tensor::from_vector<int64_t>({2}, kCopyAxes));
    return make_node(names, "Unsqueeze", base, {x, axes}, {y});
  }
  Node node = make_node(names, "Unsqueeze", base, {x}, {y});
  node.attributes["axes"] = ints_attribute(kCopyAxes);
  return node;
}

// The nodes that replace `resize` (header): copies of channels-last rows of the codes, then the
// DequantizeLinear that was in front of the Resize.
std::vector<Node> channels_last_copies(Graph& graph, NameTable& names, const Node& resize, Factors f) {
  const ValueId y = resize.outputs[0];
  const Node dequantize = graph.nodes[*graph.producer(resize.inputs[0])];  // a copy: values grow below
  const ValueId codes = dequantize.inputs[0];
  const DType code_type = graph.values[codes].dtype;
  const std::string base = resize.name;
  const std::string name = graph.values[codes].name;
  std::vector<Node> nodes;
  const ValueId rows = add_activation(graph, names, name + "_channels_last", code_type, std::nullopt);
  nodes.push_back(make_node(names, "Transpose", base + "_to_channels_last", {codes}, {rows}));
  nodes.back().attributes["perm"] = ints_attribute(kToChannelsLast);
  const ValueId unsqueezed = add_activation(graph, names, name + "_unsqueezed", code_type, std::nullopt);
  nodes.push_back(unsqueeze(graph, names, base + "_Unsqueeze", rows, unsqueezed));
  const ValueId copies_shape =
      add_constant(graph, names, base + "_copies", Tensor::from_vector<int64_t>({6}, {1, 1, f.h, 1, f.w, 1}));
  const ValueId copies = add_activation(graph, names, name + "_copies", code_type, std::nullopt);
  nodes.push_back(make_node(names, "Expand", base + "_Expand", {unsqueezed, copies_shape}, {copies}));
  const ValueId shape = add_activation(graph, names, name + "_shape", DType::Int64, Shape{4});
  nodes.push_back(make_node(names, "Shape", base + "_Shape", {rows}, {shape}));
  const ValueId factors = add_constant(graph, names, base + "_factors", Tensor::from_vector<int64_t>({4}, {1, f.h, f.w, 1}));
  const ValueId target = add_activation(graph, names, name + "_upsampled_shape", DType::Int64, Shape{4});
  nodes.push_back(make_node(names, "Mul", base + "_upsampled_shape", {shape, factors}, {target}));
  const ValueId upsampled = add_activation(graph, names, name + "_upsampled_channels_last", code_type, std::nullopt);
  nodes.push_back(make_node(names, "Reshape", base + "_Reshape", {copies, target}, {upsampled}));
  const ValueId upsampled_codes = add_activation(graph, names, name + "_upsampled", code_type, std::nullopt);
  nodes.push_back(make_node(names, "Transpose", base + "_to_channels_first", {upsampled}, {upsampled_codes}));
  nodes.back().attributes["perm"] = ints_attribute(kToChannelsFirst);
  std::vector<ValueId> dq_inputs = dequantize.inputs;
  dq_inputs[0] = upsampled_codes;
  nodes.push_back(make_node(names, "DequantizeLinear", base + "_DequantizeLinear", dq_inputs, {y}));
  nodes.back().attributes = dequantize.attributes;  // the axis of a per-channel grid
  return nodes;
}

// ---- reading the form back ------------------------------------------------------------------

bool is_transpose(const Node& node, const std::vector<int64_t>& perm) {
  return is_op(node, "Transpose") && node.inputs.size() == 1 && node.attr_ints("perm") == perm;
}

std::optional<std::vector<int64_t>> int64_constant(const Graph& graph, ValueId v) {
  if (v == kNoValue) return std::nullopt;
  const auto& c = graph.values[v].constant;
  if (!c || c->dtype() != DType::Int64) return std::nullopt;
  return std::vector<int64_t>(c->data<int64_t>(), c->data<int64_t>() + c->numel());
}

bool unsqueezes_copy_axes(const Graph& graph, const Node& node) {
  if (!is_op(node, "Unsqueeze")) return false;
  if (node.inputs.size() == 2) return int64_constant(graph, node.inputs[1]) == kCopyAxes;
  return node.inputs.size() == 1 && node.attr_ints("axes") == kCopyAxes;
}

// The one node that reads `v` (as an input, not from a subgraph), when `v` is no graph output.
std::optional<NodeId> only_reader(const Graph& graph, ValueId v) {
  if (graph.is_graph_output(v)) return std::nullopt;
  const auto readers = graph.consumers(v);
  if (readers.size() != 1) return std::nullopt;
  return readers[0];
}

// A chain of the header's form from the Transpose `first` to its DequantizeLinear.
struct Chain {
  std::vector<NodeId> nodes;  // every node of the form but the DequantizeLinear
  NodeId dequantize = 0;
  Factors factors;
};

std::optional<Chain> chain_from(const Graph& graph, NodeId first) {
  const Node& t = graph.nodes[first];
  if (!is_transpose(t, kToChannelsLast) || t.outputs.size() != 1) return std::nullopt;
  const ValueId rows = t.outputs[0];
  if (graph.is_graph_output(rows)) return std::nullopt;
  Chain chain;
  chain.nodes.push_back(first);
  std::optional<NodeId> unsq, shape;
  for (NodeId reader : graph.consumers(rows)) {
    const Node& n = graph.nodes[reader];
    if (n.inputs.empty() || n.inputs[0] != rows) return std::nullopt;
    if (unsqueezes_copy_axes(graph, n) && !unsq) unsq = reader;
    else if (is_op(n, "Shape") && n.inputs.size() == 1 && !n.has_attr("start") && !n.has_attr("end") && !shape)
      shape = reader;
    else return std::nullopt;
  }
  if (!unsq || !shape) return std::nullopt;
  const auto expand = only_reader(graph, graph.nodes[*unsq].outputs[0]);
  if (!expand || !is_op(graph.nodes[*expand], "Expand") || graph.nodes[*expand].inputs[0] != graph.nodes[*unsq].outputs[0])
    return std::nullopt;
  const auto copies = int64_constant(graph, graph.nodes[*expand].inputs[1]);
  if (!copies || copies->size() != 6 || (*copies)[0] != 1 || (*copies)[1] != 1 || (*copies)[3] != 1 ||
      (*copies)[5] != 1 || (*copies)[2] < 1 || (*copies)[4] < 1)
    return std::nullopt;
  chain.factors = {(*copies)[2], (*copies)[4]};
  const auto mul = only_reader(graph, graph.nodes[*shape].outputs[0]);
  if (!mul || !is_op(graph.nodes[*mul], "Mul")) return std::nullopt;
  const Node& m = graph.nodes[*mul];
  const size_t other = m.inputs[0] == graph.nodes[*shape].outputs[0] ? 1 : 0;
  if (int64_constant(graph, m.inputs[other]) != std::vector<int64_t>{1, chain.factors.h, chain.factors.w, 1})
    return std::nullopt;
  const auto reshape = only_reader(graph, graph.nodes[*expand].outputs[0]);
  if (!reshape || !is_op(graph.nodes[*reshape], "Reshape") || graph.nodes[*reshape].inputs.size() != 2 ||
      graph.nodes[*reshape].inputs[0] != graph.nodes[*expand].outputs[0] ||
      graph.nodes[*reshape].inputs[1] != m.outputs[0] || !only_reader(graph, m.outputs[0]))
    return std::nullopt;
  const auto back = only_reader(graph, graph.nodes[*reshape].outputs[0]);
  if (!back || !is_transpose(graph.nodes[*back], kToChannelsFirst)) return std::nullopt;
  const auto dq = only_reader(graph, graph.nodes[*back].outputs[0]);
  if (!dq || !is_op(graph.nodes[*dq], "DequantizeLinear") || graph.nodes[*dq].inputs[0] != graph.nodes[*back].outputs[0])
    return std::nullopt;
  chain.nodes.insert(chain.nodes.end(), {*unsq, *expand, *shape, *mul, *reshape, *back});
  chain.dequantize = *dq;
  return chain;
}

}  // namespace

int64_t write_upsamplings_channels_last(Graph& graph) {
  std::vector<std::optional<Factors>> factors;
  for (const Node& node : graph.nodes) factors.push_back(upsampling_factors(graph, node));
  if (std::none_of(factors.begin(), factors.end(), [](const auto& f) { return f.has_value(); })) return 0;
  NameTable names(graph);
  std::vector<Node> rewritten;
  int64_t count = 0;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id) {
    if (!factors[id]) {
      rewritten.push_back(graph.nodes[id]);
      continue;
    }
    ++count;
    for (Node& n : channels_last_copies(graph, names, graph.nodes[id], *factors[id])) rewritten.push_back(std::move(n));
  }
  graph.nodes = std::move(rewritten);
  // A DequantizeLinear that only a rewritten Resize read is unread now: it goes, and so do the
  // values nothing refers to any more (its output, the old scales).
  std::vector<bool> unread;
  for (const Node& node : graph.nodes)
    unread.push_back(is_op(node, "DequantizeLinear") && graph.consumers(node.outputs[0]).empty() &&
                     !graph.is_graph_output(node.outputs[0]));
  std::vector<Node> kept;
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    if (!unread[n]) kept.push_back(std::move(graph.nodes[n]));
  graph.nodes = std::move(kept);
  prune_unused_values(graph);
  return count;
}

int64_t read_channels_last_upsamplings(Graph& graph) {
  if (graph.opset() < 11) return 0;  // the Resize with scales as its third input
  std::vector<Chain> chains;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id)
    if (auto chain = chain_from(graph, id)) chains.push_back(std::move(*chain));
  if (chains.empty()) return 0;
  // No value is added or removed: the engine matches the int8 layers' weights in the original
  // graph by value id. The Resize's input, roi and scales take over the values of the first
  // Transpose, the Unsqueeze and the Expand, which nothing reads any more.
  NameTable names(graph);
  std::set<NodeId> removed;
  std::vector<Node> resizes;
  for (const Chain& chain : chains) {
    Node& dequantize = graph.nodes[chain.dequantize];
    const Node& first = graph.nodes[chain.nodes[0]];
    const ValueId codes = first.inputs[0], y = dequantize.outputs[0];
    const ValueId x = first.outputs[0];
    const ValueId roi = graph.nodes[chain.nodes[1]].outputs[0];
    const ValueId scales = graph.nodes[chain.nodes[2]].outputs[0];
    graph.values[x].dtype = graph.values[y].dtype;
    graph.values[x].shape = graph.values[codes].shape;
    graph.values[x].name = names.fresh(graph.values[y].name + "_before_upsampling");
    graph.values[roi] = Value{names.fresh(graph.values[y].name + "_roi"), DType::Float32, Shape{0},
                              Tensor::from_vector<float>({0}, {}), false};
    const auto fh = static_cast<float>(chain.factors.h), fw = static_cast<float>(chain.factors.w);
    graph.values[scales] = Value{names.fresh(graph.values[y].name + "_scales"), DType::Float32, Shape{4},
                                 Tensor::from_vector<float>({4}, {1.0f, 1.0f, fh, fw}), false};
    Node resize = make_node(names, "Resize", dequantize.name + "_Resize", {x, roi, scales}, {y});
    resize.attributes["mode"] = string_attribute("nearest");
    resize.attributes["coordinate_transformation_mode"] = string_attribute("asymmetric");
    resize.attributes["nearest_mode"] = string_attribute("floor");
    dequantize.inputs[0] = codes;
    dequantize.outputs[0] = x;
    resizes.push_back(std::move(resize));
    removed.insert(chain.nodes.begin(), chain.nodes.end());
  }
  // Each Resize right after its DequantizeLinear keeps the order topological.
  std::vector<Node> kept;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id) {
    if (removed.count(id)) continue;
    kept.push_back(std::move(graph.nodes[id]));
    for (size_t c = 0; c < chains.size(); ++c)
      if (chains[c].dequantize == id) kept.push_back(std::move(resizes[c]));
  }
  graph.nodes = std::move(kept);
  return static_cast<int64_t>(chains.size());
}

}  // namespace ocs
