#include "passes/fold_batchnorm.h"

#include "core/axis_split.h"
#include "passes/graph_edit.h"

#include <cmath>
#include <optional>

namespace ocs {

namespace {

struct BatchNormMatch {
  NodeId bn = -1;
  NodeId layer = -1;
  int64_t channels = 0;
  int64_t weight_out_axis = 0;  // of the layer's weight (passes/weighted_layer.h)
  ValueId params[5] = {kNoValue, kNoValue, kNoValue, kNoValue, kNoValue};  // BN's 1..4, as constants
};

// The constant behind `id`: itself, or what a chain of Identity nodes passes on (PyTorch exports
// a parameter shared by two modules as an Identity of the first one's initializer).
ValueId through_identity(const Graph& graph, ValueId id) {
  while (id != kNoValue && !graph.values[id].constant) {
    const auto p = graph.producer(id);
    if (!p || graph.nodes[*p].op_type != "Identity" || !graph.nodes[*p].domain.empty()) return id;
    id = graph.nodes[*p].inputs[0];
  }
  return id;
}

bool is_float_constant(const Graph& graph, ValueId id) {
  return id != kNoValue && graph.values[id].constant &&
         graph.values[id].constant->dtype() == DType::Float32;
}

// The layer in front of `x` when a per-channel affine of x can fold into it: a Conv, a ConvTranspose
// of one group (weight [C_in, C_out, k...]: output channel o is W[:, o]) or a Gemm with float
// constant weights (and bias) whose output x is read by nothing else and is no graph output.
std::optional<BatchNormMatch> match_layer(const Graph& graph, ValueId x) {
  if (x == kNoValue || !has_single_consumer(graph, x)) return std::nullopt;
  const std::optional<NodeId> producer = graph.producer(x);
  if (!producer) return std::nullopt;
  const Node& layer = graph.nodes[*producer];
  if (!layer.domain.empty() || layer.outputs.empty() || layer.outputs[0] != x) return std::nullopt;

  BatchNormMatch m;
  m.layer = *producer;
  if (layer.op_type == "Conv" || layer.op_type == "ConvTranspose") {
    if (layer.inputs.size() < 2 || !is_float_constant(graph, layer.inputs[1])) return std::nullopt;
    const Tensor& w = *graph.values[layer.inputs[1]].constant;
    if (w.rank() < 3) return std::nullopt;
    if (layer.op_type == "ConvTranspose" && layer.attr_int("group", 1) != 1) return std::nullopt;
    m.weight_out_axis = weight_output_channel_axis(layer, w.rank());
    m.channels = w.dim(m.weight_out_axis);
    if (layer.inputs.size() > 2 && layer.inputs[2] != kNoValue) {
      if (!is_float_constant(graph, layer.inputs[2])) return std::nullopt;
      if (graph.values[layer.inputs[2]].constant->numel() != m.channels) return std::nullopt;
    }
  } else if (layer.op_type == "Gemm") {
    if (layer.inputs.size() < 2 || !is_float_constant(graph, layer.inputs[1])) return std::nullopt;
    const Tensor& w = *graph.values[layer.inputs[1]].constant;
    if (w.rank() != 2) return std::nullopt;
    m.weight_out_axis = weight_output_channel_axis(layer, w.rank());
    m.channels = w.dim(m.weight_out_axis);
    if (layer.inputs.size() > 2 && layer.inputs[2] != kNoValue) {
      // C must broadcast per output channel: one value, [N] or [1, N].
      if (!is_float_constant(graph, layer.inputs[2])) return std::nullopt;
      const Tensor& c = *graph.values[layer.inputs[2]].constant;
      const bool per_channel = (c.rank() == 1 && c.dim(0) == m.channels) ||
                               (c.rank() == 2 && c.dim(0) == 1 && c.dim(1) == m.channels);
      if (c.numel() != 1 && !per_channel) return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  return m;
}

// The pure condition of the header comment.
std::optional<BatchNormMatch> match(const Graph& graph, NodeId bn_id) {
  const Node& bn = graph.nodes[bn_id];
  if (bn.op_type != "BatchNormalization" || !bn.domain.empty()) return std::nullopt;
  if (bn.inputs.size() != 5 || bn.inputs[0] == kNoValue) return std::nullopt;
  if (graph.opset() >= 14 && bn.attr_int("training_mode", 0) != 0) return std::nullopt;
  if (bn.attr_int("spatial", 1) != 1) return std::nullopt;  // opsets < 9: per-position stats
  for (size_t i = 1; i < bn.outputs.size(); ++i) {
    const ValueId extra = bn.outputs[i];
    if (extra != kNoValue && (graph.is_graph_output(extra) || !graph.consumers(extra).empty()))
      return std::nullopt;
  }
  const ValueId x = bn.inputs[0];
  for (size_t i = 1; i < 5; ++i)
    if (bn.inputs[i] == x) return std::nullopt;
  std::optional<BatchNormMatch> m = match_layer(graph, x);
  if (!m) return std::nullopt;
  m->bn = bn_id;
  for (size_t i = 1; i < 5; ++i) {
    m->params[i] = through_identity(graph, bn.inputs[i]);
    if (!is_float_constant(graph, m->params[i]) || graph.values[m->params[i]].constant->numel() != m->channels)
      return std::nullopt;
  }
  return m;
}

// W'[.., o, ..] = a[o] * W[.., o, ..] along `axis`.
Tensor scale_along(const Tensor& w, int64_t axis, const std::vector<double>& a) {
  Tensor out = w.clone();
  const AxisSplit s = split_at_axis(w.shape(), axis);
  float* data = out.data<float>();
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t c = 0; c < s.channels; ++c)
      for (int64_t r = 0; r < s.inner; ++r) {
        float& v = data[s.index(o, c, r)];
        v = static_cast<float>(a[c] * static_cast<double>(v));
      }
  return out;
}

// Folds y = a * (layer(x) - center) + shift, per output channel, into the layer; `node` (the BN
// or the affine op, which computes y) goes away and the layer writes its output.
void fold_into_layer(Graph& graph, const BatchNormMatch& m, const std::vector<double>& a,
                     const std::vector<double>& center, const std::vector<double>& shift, const char* what) {
  const Node node = graph.nodes[m.bn];
  Node& layer = graph.nodes[m.layer];
  const std::string layer_name = layer.name.empty() ? "layer" : layer.name;
  const Tensor& weight = *graph.values[layer.inputs[1]].constant;
  Tensor folded_weight = scale_along(weight, m.weight_out_axis, a);

  // Old bias, broadcast to one value per channel (0 when absent). Gemm's bias term is beta_g * C;
  // folding it in and setting beta_g = 1 keeps alpha A B' + C' = a (alpha A B + beta_g C) + ...
  std::vector<double> bias(static_cast<size_t>(m.channels), 0.0);
  double bias_factor = 1.0;
  if (layer.op_type == "Gemm") bias_factor = layer.attr_float("beta", 1.0f);
  if (layer.inputs.size() > 2 && layer.inputs[2] != kNoValue) {
    const std::vector<double> old = graph.values[layer.inputs[2]].constant->to_double_vector();
    for (int64_t c = 0; c < m.channels; ++c) bias[c] = bias_factor * old[old.size() == 1 ? 0 : c];
  }
  // b'[o] = (b[o] - center[o]) * a[o] + shift[o].
  std::vector<float> folded_bias(static_cast<size_t>(m.channels));
  for (int64_t c = 0; c < m.channels; ++c)
    folded_bias[c] = static_cast<float>((bias[c] - center[c]) * a[c] + shift[c]);

  set_constant_input(graph, m.layer, 1, std::move(folded_weight), layer_name + "_" + what + "_folded_weight");
  set_constant_input(graph, m.layer, 2, Tensor::from_vector<float>({m.channels}, folded_bias),
                     layer_name + "_" + what + "_folded_bias");
  Node& rewritten = graph.nodes[m.layer];
  if (rewritten.op_type == "Gemm" && rewritten.has_attr("beta")) rewritten.attributes["beta"].f = 1.0f;

  // The layer now writes the node's output; the node goes away (its input value is left unused).
  rewritten.outputs[0] = node.outputs[0];
  graph.nodes.erase(graph.nodes.begin() + m.bn);
}

void rewrite(Graph& graph, const BatchNormMatch& m) {
  const Node& bn = graph.nodes[m.bn];
  auto param = [&](int i) { return graph.values[m.params[i]].constant->to_double_vector(); };
  const std::vector<double> gamma = param(1), beta = param(2), mean = param(3), var = param(4);
  const double epsilon = bn.attr_float("epsilon", 1e-5f);
  // a = gamma / sqrt(var + eps), in double as the reference kernel computes it.
  std::vector<double> a(static_cast<size_t>(m.channels));
  for (int64_t c = 0; c < m.channels; ++c) a[c] = gamma[c] / std::sqrt(var[c] + epsilon);
  fold_into_layer(graph, m, a, mean, beta, "bn");
}

// ---- Mul / Add / Sub by a constant -----------------------------------------------------------

// One value per output channel of a constant operand that broadcasts against the layer's output
// only along its channel axis: one element (any rank up to the output's), or for a Conv output
// [N, C, spatial...] the shapes [C, 1, ...] and [1, C, 1, ...], for a Gemm output [N, C] the
// shapes [C] and [1, C]. nullopt otherwise.
std::optional<std::vector<double>> per_channel_operand(const Graph& graph, const BatchNormMatch& m, ValueId k) {
  const ValueId id = through_identity(graph, k);
  if (!is_float_constant(graph, id)) return std::nullopt;
  const Tensor& t = *graph.values[id].constant;
  const Node& layer = graph.nodes[m.layer];
  const int64_t out_rank = layer.op_type == "Gemm" ? 2 : graph.values[layer.inputs[1]].constant->rank();
  std::vector<double> v = t.to_double_vector();
  if (t.numel() == 1 && t.rank() <= out_rank) return std::vector<double>(static_cast<size_t>(m.channels), v[0]);
  if (t.numel() != m.channels || t.rank() > out_rank) return std::nullopt;
  // Right-aligned against [N, C, rest...]: C must land on axis 1 and everything else be 1.
  const int64_t channel_axis = 1 - (out_rank - t.rank());
  if (channel_axis < 0 || t.dim(channel_axis) != m.channels) return std::nullopt;
  return v;
}

struct AffineMatch {
  BatchNormMatch m;               // m.bn is the Mul/Add/Sub
  std::vector<double> a, shift;   // y = a * layer(x) + shift per channel
};

// Mul, Add or Sub of the layer's output and a per-channel constant (opset 7 on: numpy
// broadcasting), and the affine it applies.
std::optional<AffineMatch> match_affine(const Graph& graph, NodeId id) {
  const Node& node = graph.nodes[id];
  const std::string& op = node.op_type;
  if (!node.domain.empty() || (op != "Mul" && op != "Add" && op != "Sub") || graph.opset() < 7) return std::nullopt;
  if (node.inputs.size() != 2 || node.outputs.size() != 1) return std::nullopt;
  for (int first = 0; first < 2; ++first) {
    const ValueId x = node.inputs[first], k = node.inputs[1 - first];
    if (x == k) return std::nullopt;
    std::optional<BatchNormMatch> m = match_layer(graph, x);
    if (!m) continue;
    std::optional<std::vector<double>> v = per_channel_operand(graph, *m, k);
    if (!v) return std::nullopt;
    m->bn = id;
    AffineMatch affine{*m, std::vector<double>(v->size(), 1.0), std::vector<double>(v->size(), 0.0)};
    if (op == "Mul") affine.a = *v;
    if (op == "Add") affine.shift = *v;
    for (size_t c = 0; op == "Sub" && c < v->size(); ++c) {
      affine.a[c] = first == 0 ? 1.0 : -1.0;  // x - k, or k - x
      affine.shift[c] = first == 0 ? -(*v)[c] : (*v)[c];
    }
    return affine;
  }
  return std::nullopt;
}

// Folds every node `match` accepts, in graph order, with `fold`; returns how many. Each fold
// erases the matched node, so the next node moves into its place (an Add after a folded Mul
// comes later and by then follows the layer).
template <typename Match, typename Fold>
int64_t fold_each(Graph& graph, Match match, Fold fold) {
  int64_t folded = 0;
  for (NodeId id = 0; id < static_cast<NodeId>(graph.nodes.size());) {
    const auto m = match(graph, id);
    if (!m) {
      ++id;
      continue;
    }
    fold(graph, *m);
    ++folded;
  }
  if (folded) prune_unused_values(graph);
  graph.verify();
  return folded;
}

}  // namespace

int64_t fold_batchnorm(Graph& graph) { return fold_each(graph, match, rewrite); }

int64_t fold_affine_constants(Graph& graph) {
  return fold_each(graph, match_affine, [](Graph& g, const AffineMatch& affine) {
    fold_into_layer(g, affine.m, affine.a, std::vector<double>(affine.a.size(), 0.0), affine.shift, "affine");
  });
}

}  // namespace ocs
