#include "passes/fold_input_affine.h"

#include "passes/graph_edit.h"

#include <cmath>
#include <optional>
#include <set>
#include <vector>

namespace ocs {
namespace {

bool float_constant(const Graph& graph, ValueId v) {
  return v != kNoValue && graph.values[v].constant && graph.values[v].constant->dtype() == DType::Float32;
}

// `node` is a two-input op of a non-constant `x` and a one-element float constant: x and it.
std::optional<std::pair<ValueId, float>> with_scalar(const Graph& graph, const Node& node) {
  if (node.inputs.size() != 2 || node.outputs.size() != 1) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    const auto c = float_scalar_constant(graph, node.inputs[1 - k]);
    if (c && !graph.values[node.inputs[k]].constant) return std::make_pair(node.inputs[k], *c);
  }
  return std::nullopt;
}

struct Affine {
  NodeId mul = -1, add = -1;  // add: -1 when there is none
  ValueId h = kNoValue, y = kNoValue;
  float a = 1.0f, b = 0.0f;
  std::vector<NodeId> convs;
  bool all_unpadded = true;
};

// A Conv reading `y` as its data input only, with float constant weights and bias of one value per
// output channel (or none).
bool foldable_conv(const Graph& graph, NodeId id, ValueId y) {
  const Node& conv = graph.nodes[id];
  if (!is_op(conv, "Conv") || conv.inputs.size() < 2 || conv.inputs[0] != y || conv.outputs.size() != 1) return false;
  for (size_t i = 1; i < conv.inputs.size(); ++i)
    if (conv.inputs[i] == y) return false;
  if (!float_constant(graph, conv.inputs[1]) || graph.values[conv.inputs[1]].constant->rank() < 3) return false;
  const int64_t out = graph.values[conv.inputs[1]].constant->dim(0);
  if (conv.inputs.size() > 2 && conv.inputs[2] != kNoValue)
    return float_constant(graph, conv.inputs[2]) && graph.values[conv.inputs[2]].constant->numel() == out;
  return true;
}

bool unpadded(const Node& conv) {
  const std::string pad = conv.attr_string("auto_pad", "NOTSET");
  if (pad != "NOTSET" && pad != "VALID") return false;
  for (int64_t p : conv.attr_ints("pads", {}))
    if (p != 0) return false;
  return true;
}

std::optional<Affine> match(const Graph& graph, NodeId mul_id) {
  const Node& mul = graph.nodes[mul_id];
  if (!is_op(mul, "Mul")) return std::nullopt;
  const auto scaled = with_scalar(graph, mul);
  if (!scaled) return std::nullopt;
  Affine m;
  m.mul = mul_id;
  m.h = scaled->first;
  m.a = scaled->second;
  m.y = mul.outputs[0];
  if (has_single_consumer(graph, m.y)) {
    const NodeId next = graph.consumers(m.y)[0];
    const Node& add = graph.nodes[next];
    if (const auto shifted = is_op(add, "Add") ? with_scalar(graph, add) : std::nullopt; shifted && shifted->first == m.y) {
      m.add = next;
      m.b = shifted->second;
      m.y = add.outputs[0];
    }
  }
  if (graph.is_graph_output(m.y) || graph.is_graph_output(mul.outputs[0])) return std::nullopt;
  for (NodeId reader : graph.consumers(m.y)) {
    if (!foldable_conv(graph, reader, m.y)) return std::nullopt;
    m.convs.push_back(reader);
    m.all_unpadded = m.all_unpadded && unpadded(graph.nodes[reader]);
  }
  if (m.convs.empty() || !std::isfinite(m.a) || !std::isfinite(m.b)) return std::nullopt;
  if (!m.all_unpadded && m.b != 0.0f && (m.a == 0.0f || !std::isfinite(m.b / m.a))) return std::nullopt;
  return m;
}

// W' = a W; with `shift`, bias' = bias + shift * sum(W[co]).
void fold_into_conv(Graph& graph, NodeId id, float a, std::optional<float> shift) {
  const Node conv = graph.nodes[id];                    // copies: set_constant_input adds values
  const Tensor w = *graph.values[conv.inputs[1]].constant;
  const int64_t out = w.dim(0), per_out = w.numel() / out;
  Tensor scaled(DType::Float32, w.shape());
  const float* src = w.data<float>();
  float* dst = scaled.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) dst[i] = a * src[i];
  if (shift && *shift != 0.0f) {
    const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] != kNoValue;
    Tensor bias = has_bias ? graph.values[conv.inputs[2]].constant->clone() : Tensor(DType::Float32, {out});
    float* bv = bias.data<float>();
    for (int64_t co = 0; co < out; ++co) {
      double sum = 0.0;
      for (int64_t k = 0; k < per_out; ++k) sum += src[co * per_out + k];
      bv[co] = static_cast<float>(bv[co] + static_cast<double>(*shift) * sum);
    }
    set_constant_input(graph, id, 2, std::move(bias), conv.name + "_input_affine_bias");
  }
  set_constant_input(graph, id, 1, std::move(scaled), conv.name + "_input_affine_weight");
}

// Folds one match; returns the nodes that go.
std::vector<NodeId> fold(Graph& graph, const Affine& m) {
  const bool drop_shift = m.all_unpadded || m.b == 0.0f;
  for (NodeId c : m.convs) fold_into_conv(graph, c, m.a, drop_shift ? std::optional<float>(m.b) : std::nullopt);
  if (drop_shift) {
    for (NodeId c : m.convs) graph.nodes[c].inputs[0] = m.h;
    return m.add >= 0 ? std::vector<NodeId>{m.mul, m.add} : std::vector<NodeId>{m.mul};
  }
  // h + b / a: the Add reads h and b / a, the Mul goes.
  Node& add = graph.nodes[m.add];
  add.inputs = {m.h, add_constant(graph, add.name + "_shift", Tensor::scalar<float>(m.b / m.a))};
  return {m.mul};
}

}  // namespace

int64_t fold_input_affine(Graph& graph) {
  std::set<NodeId> removed;
  for (NodeId n = 0; n < static_cast<NodeId>(graph.nodes.size()); ++n) {
    if (removed.count(n)) continue;
    const std::optional<Affine> m = match(graph, n);
    if (!m) continue;
    for (NodeId gone : fold(graph, *m)) removed.insert(gone);
  }
  if (removed.empty()) return 0;
  std::vector<Node> kept;
  for (NodeId n = 0; n < static_cast<NodeId>(graph.nodes.size()); ++n)
    if (!removed.count(n)) kept.push_back(std::move(graph.nodes[n]));
  graph.nodes = std::move(kept);
  prune_unused_values(graph);
  return static_cast<int64_t>(removed.size());
}

}  // namespace ocs
