#include "passes/copy_convs.h"

#include "passes/graph_edit.h"

#include <optional>
#include <set>
#include <vector>

namespace ocs {
namespace {

// The node producing `v`, when it is `op` and `v` has exactly one reader.
std::optional<NodeId> sole_producer(const Graph& graph, ValueId v, const char* op) {
  const auto p = graph.producer(v);
  if (!p || !is_op(graph.nodes[*p], op) || graph.is_graph_output(v) || graph.consumers(v).size() != 1) return std::nullopt;
  return p;
}

bool same_constant(const Graph& graph, ValueId a, ValueId b) {
  if (a == b) return true;
  const auto& x = graph.values[a].constant;
  const auto& y = graph.values[b].constant;
  return x && y && x->dtype() == y->dtype() && x->shape() == y->shape() && x->to_double_vector() == y->to_double_vector();
}

// Row r of a [rows, channels] matrix as the one column holding `one` (all others 0), or -1.
template <typename T>
int64_t hot_column(const T* row, int64_t channels, T one) {
  int64_t hot = -1;
  for (int64_t c = 0; c < channels; ++c) {
    if (row[c] == T(0)) continue;
    if (row[c] != one || hot >= 0) return -1;
    hot = c;
  }
  return hot;
}

// The one-hot rows of W (header) as gather indices, when W is exactly that: int8 rows behind a
// DequantizeLinear with scale 1 and zero point 0, or (once constant folding has run) float rows.
std::optional<std::vector<int64_t>> one_hot_indices(const Graph& graph, ValueId weight, std::optional<NodeId>& weight_dq) {
  weight_dq = sole_producer(graph, weight, "DequantizeLinear");
  const ValueId rows_value = weight_dq ? graph.nodes[*weight_dq].inputs[0] : weight;
  const auto& w = graph.values[rows_value].constant;
  if (!w || w->rank() != 4 || w->dim(2) != 1 || w->dim(3) != 1) return std::nullopt;
  if (weight_dq) {
    const Node& dq = graph.nodes[*weight_dq];
    if (dq.inputs.size() != 3 || w->dtype() != DType::Int8) return std::nullopt;
    const auto& s = graph.values[dq.inputs[1]].constant;
    const auto& z = graph.values[dq.inputs[2]].constant;
    if (!s || !z || s->to_double_vector() != std::vector<double>{1.0} || z->to_double_vector() != std::vector<double>{0.0})
      return std::nullopt;
  } else if (w->dtype() != DType::Float32) {
    return std::nullopt;
  }
  const int64_t rows = w->dim(0), channels = w->dim(1);
  std::vector<int64_t> indices;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t hot = w->dtype() == DType::Int8 ? hot_column(w->data<int8_t>() + r * channels, channels, int8_t{1})
                                                   : hot_column(w->data<float>() + r * channels, channels, 1.0f);
    if (hot < 0) return std::nullopt;
    indices.push_back(hot);
  }
  return indices;
}

struct CopyConv {
  NodeId input_dq, conv, quantize;
  std::optional<NodeId> weight_dq;  // gone when constant folding has computed the weight
  std::vector<int64_t> indices;
};

std::optional<CopyConv> copy_conv_at(const Graph& graph, NodeId q_id) {
  const Node& q = graph.nodes[q_id];
  if (!is_op(q, "QuantizeLinear") || q.inputs.size() != 3 || q.has_attr("axis")) return std::nullopt;
  const auto conv_id = sole_producer(graph, q.inputs[0], "Conv");
  if (!conv_id) return std::nullopt;
  const Node& conv = graph.nodes[*conv_id];
  if (conv.inputs.size() != 2 || conv.attr_int("group", 1) != 1) return std::nullopt;
  for (const char* key : {"strides", "pads", "dilations"})
    for (int64_t v : conv.attr_ints(key))
      if (v != (std::string(key) == "pads" ? 0 : 1)) return std::nullopt;
  const auto in_dq = sole_producer(graph, conv.inputs[0], "DequantizeLinear");
  if (!in_dq) return std::nullopt;
  const Node& dq = graph.nodes[*in_dq];
  if (dq.inputs.size() != 3 || dq.has_attr("axis") || !same_constant(graph, dq.inputs[1], q.inputs[1]) ||
      !same_constant(graph, dq.inputs[2], q.inputs[2]))
    return std::nullopt;
  std::optional<NodeId> w_dq;
  auto indices = one_hot_indices(graph, conv.inputs[1], w_dq);
  if (!indices) return std::nullopt;
  return CopyConv{*in_dq, *conv_id, q_id, w_dq, std::move(*indices)};
}

}  // namespace

int64_t read_copy_convs(Graph& graph) {
  std::vector<CopyConv> found;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id)
    if (auto c = copy_conv_at(graph, id)) found.push_back(std::move(*c));
  if (found.empty()) return 0;
  std::set<NodeId> removed;
  for (const CopyConv& c : found) {
    // The input DequantizeLinear's output value holds the indices now; the QuantizeLinear's node
    // becomes the Gather writing the same codes.
    const ValueId codes = graph.nodes[c.input_dq].inputs[0];
    const ValueId indices = graph.nodes[c.input_dq].outputs[0];
    const auto n = static_cast<int64_t>(c.indices.size());
    graph.values[indices].dtype = DType::Int64;
    graph.values[indices].shape = Shape{n};
    graph.values[indices].constant = Tensor::from_vector<int64_t>({n}, c.indices);
    Node& gather = graph.nodes[c.quantize];
    gather.op_type = "Gather";
    gather.inputs = {codes, indices};
    gather.attributes.clear();
    gather.attributes["axis"] = int_attribute(1);
    removed.insert({c.input_dq, c.conv});
    if (c.weight_dq) removed.insert(*c.weight_dq);
  }
  std::vector<Node> kept;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size()); ++id)
    if (!removed.count(id)) kept.push_back(std::move(graph.nodes[id]));
  graph.nodes = std::move(kept);
  return static_cast<int64_t>(found.size());
}

}  // namespace ocs
