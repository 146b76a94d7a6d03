// insert_qdq: real QuantizeLinear/DequantizeLinear nodes for the quantized layers of a plan.
//
// The quantizer (docs/METHOD.md), for bits b, threshold t, M = 2^(b-1) - 1:
//   scale = fl(t / M)                       (float32, computed in double then rounded once)
//   q     = clamp(round_half_to_even(x / scale), -2^(b-1), M)    (x / scale divided in float32)
//   x_hat = q * scale                       (one float32 multiply, as DequantizeLinear does)
// The division by the stored float scale is exactly what QuantizeLinear computes, so weights
// quantized here offline and activations quantized at run time are on the same grid, and the
// exported file reproduces this pass's numbers in any conforming runtime. (OCS.md writes
// x * s with s = M / t; x / scale is the same map up to one float rounding of the quotient.)
//
// Weights: q is stored as an int8 constant and a DequantizeLinear (zero point 0; per channel:
// 1-D scale and zero point along the output-channel axis, opset 13) feeds the layer. For b > 8
// no integer type of ONNX 1.12's QuantizeLinear/DequantizeLinear holds q (int16 arrives in opset
// 21), so the constant is the dequantized float x_hat itself: the same numbers, exactly, with no
// DequantizeLinear node.
//
// Activations, b <= 8: Clip(x, lo, hi) -> QuantizeLinear(scale, int8 0) -> DequantizeLinear.
// QuantizeLinear saturates to int8's [-128, 127], which is the b-bit range only for b = 8; for
// b < 8 the Clip restricts x so that q lands in [-2^(b-1), M]:
//   lo = -2^(b-1) * scale   (a power of two times a float: exact, so lo / scale = -2^(b-1)
//                            exactly, and round() keeps it)
//   hi = t
// Claim: for |x| <= t, round(fl(x / scale)) <= M. Proof: scale = (t / M)(1 + e1) with
// |e1| <= 2^-24, so t / scale = M / (1 + e1), and the float quotient is M (1 + e2) with
// |e2| <= 2^-24 + 2^-24 + O(2^-48) < 2^-22. Then |fl(t / scale) - M| < M * 2^-22 < 0.01 for
// M <= 32767, far below 1/2, so it rounds to M. Division by a positive float is monotonic in x,
// so every x <= t gives fl(x / scale) <= fl(t / scale) and round() <= M. Values in (t, (M + 1/2)
// scale) would also round to M without the Clip, so clipping at t changes nothing but keeps the
// quotient away from M + 1. Likewise every x >= lo gives fl(x / scale) >= -2^(b-1).
// So Clip + QuantizeLinear computes exactly clamp(round(x / scale), -2^(b-1), M), the OCS
// quantizer. At b = 8 the Clip is left out: int8 saturation is the same clamp.
// Unsigned (the caller vouches x >= 0, e.g. after ReLU): N = 2^b - 1, scale = fl(t / N), uint8
// zero point 0, Clip(x, 0, t) (the same proof with N for M), no Clip at b = 8.
//
// Activations, b > 8: Clip(x, lo, hi) -> Div(scale) -> Round -> Mul(scale): Div is the same
// float32 quotient QuantizeLinear takes, Round is round half to even (opset 11), Mul is the
// dequantizing multiply. The Clip bounds as above keep the result on the b-bit grid.
//
// t == 0 (an all-zero weight channel, a dead activation): scale = 1 and q = 0 everywhere
// (activation: Clip(x, 0, 0)), the limit of the grid as t -> 0.
//
// Deploy layout: the same Clip and grid, codes in uint8. A signed grid takes the zero point
// z = 2^(b-1): QuantizeLinear computes sat_u8(round(x / scale) + z) = q_s8 + z (the clipped
// round(x / scale) lies in [-z, z - 1], so no saturation is reached), and DequantizeLinear gives
// (q_s8 + z - z) * scale = q_s8 * scale: the values of the signed grid, exactly. A Gather
// commutes with a per-tensor QuantizeLinear (both act element by element on what they move), so
// Gather(Q(x)) = Q(Gather(x)). The int32 bias: b_hat = round(b / s_b) * s_b with s_b = fl(s_x * s_w)
// (the product runtimes assume for QLinearConv), an error of at most s_b / 2 per output.
#include "passes/insert_qdq.h"
#include "passes/graph_edit.h"
#include "passes/raise_opset.h"
#include "passes/weighted_layer.h"

#include "quant/fake_quant.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>

namespace ocs {
namespace {

// ---- matching ----------------------------------------------------------------------------

// The layer's data input, weight input and the weight's output-channel axis.
struct LayerInputs {
  NodeId node = -1;
  int data_input = 0;
  int weight_input = 1;
  int64_t channel_axis = 0;
};

LayerInputs match_layer(const Graph& graph, const std::string& name) {
  LayerInputs m;
  for (size_t n = 0; n < graph.nodes.size(); ++n)
    if (graph.nodes[n].name == name) m.node = static_cast<NodeId>(n);
  if (m.node < 0) user_error("quantization plan: the model has no node named '{}'", name);
  const Node& node = graph.nodes[m.node];
  const bool known = is_default_domain(node.domain) &&
                     (node.op_type == "Conv" || node.op_type == "Gemm" || node.op_type == "MatMul");
  if (!known)
    user_error("quantization plan: {} is not a Conv, Gemm or MatMul; only those layers are quantized",
               node.describe());
  if (node.inputs.size() < 2 || node.inputs[1] == kNoValue)
    user_error("{} has no weight input", node.describe());
  const Value& weight = graph.values[node.inputs[1]];
  if (!weight.constant || weight.dtype != DType::Float32)
    user_error("{}: weight '{}' is not a float constant; it cannot be quantized offline",
               node.describe(), weight.name);
  m.channel_axis = weight_output_channel_axis(node, weight.constant->rank());
  return m;
}

void check_bits(const Node& node, const char* what, int bits) {
  if (bits < 2 || bits > 16)
    user_error("quantization plan for {}: {} bits {} is outside 2..16", node.describe(), what, bits);
}

void check_threshold(const Node& node, const char* what, float t) {
  if (!std::isfinite(t) || t < 0.0f)
    user_error("quantization plan for {}: {} threshold {} must be finite and >= 0", node.describe(),
               what, t);
}

// ---- the quantizer -------------------------------------------------------------------------

struct WeightGrid {
  std::vector<float> scales;  // one per group
  Tensor quantized;           // int8 q (bits <= 8) or float x_hat (bits > 8)
};

// Quantizes W with one group per index of `axis` (per channel) or one group (per tensor), with
// the quantizer of quant/fake_quant.h (the arithmetic QuantizeLinear does).
WeightGrid quantize_weight(const Tensor& w, const QdqWeight& plan, int64_t axis) {
  const int64_t group_axis = plan.per_channel ? axis : -1;
  std::vector<double> thresholds(plan.thresholds.begin(), plan.thresholds.end());
  if (thresholds.empty()) thresholds = plan.per_channel ? max_abs_per_channel(w, axis) : std::vector<double>{max_abs(w)};
  WeightGrid grid;
  for (double t : thresholds) grid.scales.push_back(quant_step(t, plan.bits));
  Tensor codes = quantize_symmetric(w, thresholds, group_axis, plan.bits);
  grid.quantized = plan.bits <= 8 ? std::move(codes) : dequantize_symmetric(codes, thresholds, group_axis, plan.bits);
  return grid;
}

// The parameters that make two activation chains the same chain.
struct ChainKey {
  ValueId input;
  int bits;
  float threshold;
  bool is_unsigned;
  auto operator<=>(const ChainKey&) const = default;
};

// The parameters that make two weight quantizations the same constant and DequantizeLinear.
struct WeightKey {
  ValueId weight;
  int bits;
  bool per_channel;
  int64_t axis;
  std::vector<float> thresholds;
  auto operator<=>(const WeightKey&) const = default;
};

// What the plan needs from the opset (QuantizeLinear/DequantizeLinear from 10, Round from 11,
// per-axis scales from 13).
struct OpsetNeeds {
  bool qdq = false, per_channel = false, round = false;
};

// Matches and validates every layer of the plan before anything changes.
std::vector<LayerInputs> validate_plan(const Graph& graph, const QdqPlan& plan, OpsetNeeds& needs) {
  std::vector<LayerInputs> matched;
  std::set<std::string> seen;
  for (const QdqLayer& layer : plan.layers) {
    if (!seen.insert(layer.node).second)
      user_error("quantization plan names node '{}' twice", layer.node);
    matched.push_back(match_layer(graph, layer.node));
    const Node& node = graph.nodes[matched.back().node];
    if (layer.weight) {
      check_bits(node, "weight", layer.weight->bits);
      if (layer.weight->bits <= 8) needs.qdq = true;
      const Tensor& w = *graph.values[node.inputs[1]].constant;
      const size_t given = layer.weight->thresholds.size();
      const int64_t groups = layer.weight->per_channel && w.rank() >= 2 ? w.dim(matched.back().channel_axis) : 1;
      if (given != 0 && static_cast<int64_t>(given) != groups)
        user_error("quantization plan for {}: {} weight thresholds given, {} expected ({})",
                   node.describe(), given, groups,
                   layer.weight->per_channel ? "one per output channel" : "one per tensor");
      for (float t : layer.weight->thresholds) check_threshold(node, "weight", t);
      if (layer.weight->per_channel) {
        if (w.rank() < 2)
          user_error("quantization plan for {}: a 1-D weight has no output-channel axis; use "
                     "per-tensor scales", node.describe());
        // Float grids (bits > 8) need no DequantizeLinear, hence no opset 13.
        if (layer.weight->bits <= 8) needs.per_channel = true;
      }
    }
    if (layer.activation) {
      check_bits(node, "activation", layer.activation->bits);
      if (plan.layout == QdqLayout::Deploy && layer.activation->bits > 8) needs.round = true;
      check_threshold(node, "activation", layer.activation->threshold);
      const Value& x = graph.values[node.inputs[0]];
      if (x.dtype != DType::Float32 && x.dtype != DType::Undefined)
        user_error("quantization plan for {}: input '{}' is {}; only float activations are quantized",
                   node.describe(), x.name, dtype_name(x.dtype));
      if (layer.activation->bits > 8) needs.round = true;
      else needs.qdq = true;
    }
  }
  for (const QdqTensor& t : plan.tensors) {
    OCS_CHECK(plan.layout == QdqLayout::Deploy, "quantized tensors are a Deploy layout plan");
    const ValueId v = graph.find_value(t.value);
    if (v == kNoValue) user_error("quantization plan: the model has no tensor named '{}'", t.value);
    const Value& value = graph.values[v];
    if (value.constant || (value.dtype != DType::Float32 && value.dtype != DType::Undefined))
      user_error("quantization plan: tensor '{}' is not a float activation", t.value);
    if (t.grid.bits < 2 || t.grid.bits > 16)
      user_error("quantization plan: tensor '{}': bits {} is outside 2..16", t.value, t.grid.bits);
    if (!std::isfinite(t.grid.threshold) || t.grid.threshold < 0.0f)
      user_error("quantization plan: tensor '{}': threshold {} must be finite and >= 0", t.value, t.grid.threshold);
    if (t.grid.bits > 8) needs.round = true;
    else needs.qdq = true;
  }
  return matched;
}

// Raises the opset to what the plan needs (weights above 8 bits are plain float constants and
// need none of the QDQ ops).
void raise_opset_for(Graph& graph, const OpsetNeeds& needs) {
  int64_t target = 0;
  std::string why;
  if (needs.qdq) {
    target = 10;
    why = "QuantizeLinear/DequantizeLinear";
    // ONNX Runtime 1.30's QDQ optimizer quantizes Conv biases by inserting Round nodes (opset
    // 11) into the model it loads, so a QDQ model at opset 10 fails to load there. Prefer 11
    // whenever the model's ops allow the move.
    if (graph.opset() < 11 && opset_blocker(graph, 11).empty()) target = 11;
  }
  if (needs.round) {
    target = 11;
    why = "activation quantization above 8 bits (Round)";
  }
  if (needs.per_channel) {
    target = 13;
    why = "per-channel weight scales";
  }
  if (target > 0) raise_opset(graph, target, why);
}

// The rewrite: new nodes queued per layer, then spliced in before it.
struct QdqRewrite {
  QdqRewrite(Graph& g, QdqReport& r) : graph(g), names(g), report(r) {}
  Graph& graph;
  NameTable names;
  QdqReport& report;
  std::map<NodeId, std::vector<Node>> insert_before;
  std::map<NodeId, std::vector<Node>> insert_after;  // Deploy: after a tensor's producer
  std::vector<Node> at_start;                        // Deploy: for graph inputs
  std::map<ChainKey, ValueId> chains;
  std::map<WeightKey, std::pair<ValueId, std::vector<float>>> weight_feeds;  // -> feed, scales
  std::set<ValueId> dropped_constants;  // replaced weights, biases and OCS indices, dropped if unread
  std::set<ValueId> point_dequantized;  // the DequantizeLinear output of every point (Deploy)
  // Deploy: the quantized tensors and their grids, the Gathers moved onto codes, and per layer
  // the tensor its input is quantized as.
  std::map<ValueId, QdqActivation> points;
  std::set<NodeId> gathers_on_codes;
  std::map<NodeId, ValueId> layer_point;

  void quantize_weight_input(NodeId node_id, const QdqWeight& plan, int64_t axis, QdqReport::Layer& entry);
  void quantize_activation_input(NodeId node_id, const QdqActivation& a, QdqReport::Layer& entry);
  // Deploy.
  void add_point(ValueId v, const QdqActivation& a, const std::string& what);
  void deploy_layer_input(NodeId node_id, const QdqActivation& a, QdqReport::Layer& entry);
  void quantize_points();
  void gather_as_concat(NodeId gather);
  bool gather_as_copy_conv(NodeId gather, ValueId scale, ValueId zero_point);
  void quantize_bias(NodeId node_id, const QdqWeight& w, const QdqReport::Layer& entry);
  void splice();

  // Clip (for b < 8 or t == 0) then QuantizeLinear/DequantizeLinear (or Div/Round/Mul above 8
  // bits) of `x` into `pending`; returns the dequantized value, and the codes in `codes` (kNoValue
  // above 8 bits). `uint8_codes`: the Deploy encoding of signed grids.
  ValueId quantize_chain(ValueId x, const QdqActivation& a, bool uint8_codes, std::vector<Node>& pending,
                         ValueId* codes = nullptr, ValueId* scale_value = nullptr, ValueId* zero_value = nullptr);
};

void QdqRewrite::quantize_weight_input(NodeId node_id, const QdqWeight& plan, int64_t axis, QdqReport::Layer& entry) {
  std::vector<Node>& pending = insert_before[node_id];
  const ValueId w_id = graph.nodes[node_id].inputs[1];
  const Value w_value = graph.values[w_id];  // copy: add_value below may reallocate
  // A weight constant read by several layers with the same grid (the unrolled LSTM's R^T)
  // is quantized once; every reader reads the one DequantizeLinear (it goes before the first).
  const WeightKey weight_key{w_id, plan.bits, plan.per_channel, axis, plan.thresholds};
  if (auto done = weight_feeds.find(weight_key); done != weight_feeds.end()) {
    entry.weight_scales = done->second.second;
    graph.nodes[node_id].inputs[1] = done->second.first;
    return;
  }
  WeightGrid grid = quantize_weight(*w_value.constant, plan, axis);
  entry.weight_scales = grid.scales;
  ValueId feed;
  if (plan.bits > 8) {
    feed = add_constant(graph, names, w_value.name + "_fakequant", std::move(grid.quantized));
  } else {
    const ValueId q = add_constant(graph, names, w_value.name + "_quantized", std::move(grid.quantized));
    Tensor scale, zero_point;
    if (plan.per_channel) {
      const int64_t channels = static_cast<int64_t>(grid.scales.size());
      scale = Tensor::from_vector<float>({channels}, grid.scales);
      zero_point = Tensor(DType::Int8, {channels});
    } else {
      scale = Tensor::scalar<float>(grid.scales[0]);
      zero_point = Tensor::scalar<int8_t>(0);
    }
    const ValueId s = add_constant(graph, names, w_value.name + "_scale", std::move(scale));
    const ValueId z = add_constant(graph, names, w_value.name + "_zero_point", std::move(zero_point));
    feed = add_activation(graph, names, w_value.name + "_dequantized", DType::Float32, w_value.shape);
    Node dq = make_node(names, "DequantizeLinear", w_value.name + "_DequantizeLinear", {q, s, z}, {feed});
    if (plan.per_channel) dq.attributes["axis"] = int_attribute(axis);
    pending.push_back(std::move(dq));
  }
  graph.nodes[node_id].inputs[1] = feed;
  dropped_constants.insert(w_id);
  weight_feeds.emplace(weight_key, std::make_pair(feed, entry.weight_scales));
  ++report.weights_quantized;
}

void QdqRewrite::quantize_activation_input(NodeId node_id, const QdqActivation& a, QdqReport::Layer& entry) {
  const ValueId x = graph.nodes[node_id].inputs[0];
  entry.activation_scale = grid_step(a.threshold, grid_max_code(a.bits, a.is_unsigned));
  const ChainKey key{x, a.bits, a.threshold, a.is_unsigned};
  if (auto found = chains.find(key); found != chains.end()) {  // same parameters, same chain
    graph.nodes[node_id].inputs[0] = found->second;
    return;
  }
  const ValueId dequantized = quantize_chain(x, a, false, insert_before[node_id]);
  chains.emplace(key, dequantized);
  ++report.activation_chains;
  graph.nodes[node_id].inputs[0] = dequantized;
}

ValueId QdqRewrite::quantize_chain(ValueId x, const QdqActivation& a, bool uint8_codes, std::vector<Node>& pending,
                                   ValueId* codes, ValueId* scale_value, ValueId* zero_value) {
  // Grid: signed [-2^(b-1), M] with M = 2^(b-1) - 1 steps over t; unsigned [0, 2^b - 1].
  const float scale = grid_step(a.threshold, grid_max_code(a.bits, a.is_unsigned));
  const Value x_value = graph.values[x];  // copy: add_value below may reallocate
  const std::string base = x_value.name;
  // lo = -2^(b-1) * scale exactly (power-of-two multiple), hi = t; see the proof above.
  const int64_t half = int64_t{1} << (a.bits - 1);
  float lo = a.is_unsigned ? 0.0f : -static_cast<float>(half) * scale;
  float hi = a.threshold;
  if (a.threshold == 0.0f) lo = hi = 0.0f;

  ValueId current = x;
  if (a.bits != 8 || a.threshold == 0.0f) {
    const ValueId clipped = add_activation(graph, names, base + "_clipped", DType::Float32, x_value.shape);
    Node clip = make_node(names, "Clip", base + "_Clip", {x}, {clipped});
    if (graph.opset() >= 11) {  // Clip takes its bounds as inputs from opset 11
      clip.inputs.push_back(add_constant(graph, names, base + "_clip_min", Tensor::scalar<float>(lo)));
      clip.inputs.push_back(add_constant(graph, names, base + "_clip_max", Tensor::scalar<float>(hi)));
    } else {
      clip.attributes["min"] = float_attribute(lo);
      clip.attributes["max"] = float_attribute(hi);
    }
    pending.push_back(std::move(clip));
    current = clipped;
  }
  const ValueId s = add_constant(graph, names, base + "_scale", Tensor::scalar<float>(scale));
  const ValueId dequantized = add_activation(graph, names, base + "_dequantized", DType::Float32, x_value.shape);
  if (codes) *codes = kNoValue;
  if (a.bits <= 8) {
    const bool u8 = a.is_unsigned || uint8_codes;
    const DType q_type = u8 ? DType::UInt8 : DType::Int8;
    Tensor zero = u8 ? Tensor::scalar<uint8_t>(a.is_unsigned ? 0 : static_cast<uint8_t>(half))
                     : Tensor::scalar<int8_t>(0);
    const ValueId z = add_constant(graph, names, base + "_zero_point", std::move(zero));
    const ValueId q = add_activation(graph, names, base + "_quantized", q_type, x_value.shape);
    pending.push_back(make_node(names, "QuantizeLinear", base + "_QuantizeLinear", {current, s, z}, {q}));
    pending.push_back(make_node(names, "DequantizeLinear", base + "_DequantizeLinear", {q, s, z}, {dequantized}));
    if (codes) *codes = q;
    if (scale_value) *scale_value = s;
    if (zero_value) *zero_value = z;
  } else {
    // Above 8 bits: q = Round(x / scale) as a float, x_hat = q * scale.
    const ValueId divided = add_activation(graph, names, base + "_divided", DType::Float32, x_value.shape);
    const ValueId rounded = add_activation(graph, names, base + "_rounded", DType::Float32, x_value.shape);
    pending.push_back(make_node(names, "Div", base + "_Div", {current, s}, {divided}));
    pending.push_back(make_node(names, "Round", base + "_Round", {divided}, {rounded}));
    pending.push_back(make_node(names, "Mul", base + "_Mul", {rounded, s}, {dequantized}));
  }
  return dequantized;
}

// ---- the Deploy layout -----------------------------------------------------------------------

void QdqRewrite::add_point(ValueId v, const QdqActivation& a, const std::string& what) {
  const auto [it, added] = points.emplace(v, a);
  const QdqActivation& b = it->second;
  OCS_CHECK(added || (a.bits == b.bits && a.threshold == b.threshold && a.is_unsigned == b.is_unsigned),
            "tensor '{}' ({}) is given two different grids", graph.values[v].name, what);
}

// A Gather with constant indices reading a float tensor that only it reads the output of.
std::optional<NodeId> gather_in_front(const Graph& graph, ValueId x) {
  const auto p = graph.producer(x);
  if (!p) return std::nullopt;
  const Node& g = graph.nodes[*p];
  if (g.op_type != "Gather" || !is_default_domain(g.domain) || g.inputs.size() != 2) return std::nullopt;
  if (!graph.values[g.inputs[1]].constant || graph.values[g.inputs[0]].constant) return std::nullopt;
  if (!has_single_consumer(graph, x)) return std::nullopt;
  return *p;
}

void QdqRewrite::deploy_layer_input(NodeId node_id, const QdqActivation& a, QdqReport::Layer& entry) {
  entry.activation_scale = grid_step(a.threshold, grid_max_code(a.bits, a.is_unsigned));
  ValueId x = graph.nodes[node_id].inputs[0];
  if (const auto gather = gather_in_front(graph, x); gather && a.bits <= 8) {
    gathers_on_codes.insert(*gather);
    x = graph.nodes[*gather].inputs[0];
  }
  add_point(x, a, graph.nodes[node_id].describe() + "'s input");
  layer_point[node_id] = x;
}

// A channel-duplicating Gather (indices [0, ..., C-1, d_1, ..., d_k]) on codes becomes
// Concat(x, Slice(x, d_1), ..., Slice(x, d_k)) along the same axis: the same tensor, in ops
// that runtimes' layout optimizers move through (ONNX Runtime keeps the int8 convolutions
// channels-last around a Concat and Slices, but wraps a Gather in Transposes). Other index lists
// keep the Gather.
void QdqRewrite::gather_as_concat(NodeId g) {
  const Node& gather = graph.nodes[g];
  const std::vector<double> idx = graph.values[gather.inputs[1]].constant->to_double_vector();
  size_t channels = 0;
  while (channels < idx.size() && idx[channels] == static_cast<double>(channels)) ++channels;
  if (channels == 0 || channels == idx.size()) return;
  for (size_t j = channels; j < idx.size(); ++j)
    if (idx[j] < 0 || idx[j] >= static_cast<double>(channels)) return;
  const int64_t axis = gather.attr_int("axis", 0);
  const ValueId codes = gather.inputs[0];
  const Value x = graph.values[codes];
  dropped_constants.insert(gather.inputs[1]);  // the indices, unread once the Gather is a Concat
  const ValueId axes = add_constant(graph, names, x.name + "_dup_axes", Tensor::from_vector<int64_t>({1}, {axis}));
  std::vector<ValueId> parts = {codes};
  for (size_t j = channels; j < idx.size(); ++j) {
    const auto c = static_cast<int64_t>(idx[j]);
    std::optional<Shape> shape = x.shape;
    if (shape && axis >= 0 && axis < static_cast<int64_t>(shape->size())) (*shape)[axis] = 1;
    const ValueId start = add_constant(graph, names, x.name + "_dup_start", Tensor::from_vector<int64_t>({1}, {c}));
    const ValueId end = add_constant(graph, names, x.name + "_dup_end", Tensor::from_vector<int64_t>({1}, {c + 1}));
    const ValueId part = add_activation(graph, names, x.name + "_channel", x.dtype, shape);
    insert_before[g].push_back(make_node(names, "Slice", x.name + "_Slice", {codes, start, end, axes}, {part}));
    parts.push_back(part);
  }
  Node& concat = graph.nodes[g];
  concat.op_type = "Concat";
  concat.inputs = parts;
  concat.attributes["axis"] = int_attribute(axis);
}

// A channel-duplicating Gather on the codes of a Conv's input [N, C, H, W] becomes a 1x1 Conv with
// one-hot int8 rows (row j picks channel idx[j]; weight scale 1) between the codes' own
// DequantizeLinear and QuantizeLinear: exact (each output is one input times 1, requantized on
// the same grid), and a runtime runs it as one int8 convolution. ONNX Runtime's fast int8
// convolution takes it when C is a multiple of 4 and the copies' count a multiple of 8 (the
// padding of passes/ocs_split_weights.h sees to that); its Slices of channels-last codes are
// per-element loops (docs/PERFORMANCE.md, issue #11). The Conv costs C (C + k) products per
// pixel, which for wide tensors exceeds what the Slices cost (ResNet-50's 256 to 2048 channels:
// q/f 0.54 -> 0.66 in ORT), so it is written for C <= kMaxCopyConvChannels only. Returns false,
// changing nothing, for other Gathers (wider, other axes or ranks, indices that are no
// duplication), which become Concats.
bool QdqRewrite::gather_as_copy_conv(NodeId g, ValueId scale, ValueId zero_point) {
  const Node& gather = graph.nodes[g];
  const Value x = graph.values[gather.inputs[0]];
  if (gather.attr_int("axis", 0) != 1 || !x.shape || x.shape->size() != 4 || (*x.shape)[1] <= 0) return false;
  const int64_t channels = (*x.shape)[1];
  constexpr int64_t kMaxCopyConvChannels = 128;  // det's widest copied tensor has 96 channels
  if (channels > kMaxCopyConvChannels) return false;
  const std::vector<double> idx = graph.values[gather.inputs[1]].constant->to_double_vector();
  for (size_t j = 0; j < idx.size(); ++j)
    if (idx[j] < 0 || idx[j] >= static_cast<double>(channels) || (j < static_cast<size_t>(channels) && idx[j] != j))
      return false;
  const auto rows = static_cast<int64_t>(idx.size());
  if (rows <= channels) return false;
  Tensor one_hot(DType::Int8, {rows, channels, 1, 1});
  int8_t* w = one_hot.data<int8_t>();
  std::fill(w, w + rows * channels, int8_t{0});
  for (int64_t j = 0; j < rows; ++j) w[j * channels + static_cast<int64_t>(idx[static_cast<size_t>(j)])] = 1;
  dropped_constants.insert(gather.inputs[1]);
  const std::string base = x.name + "_ocs_copies";
  const ValueId w_codes = add_constant(graph, names, base + "_weight", std::move(one_hot));
  const ValueId w_scale = add_constant(graph, names, base + "_weight_scale", Tensor::scalar<float>(1.0f));
  const ValueId w_zero = add_constant(graph, names, base + "_weight_zero_point", Tensor::scalar<int8_t>(0));
  const ValueId weight = add_activation(graph, names, base + "_weight_dequantized", DType::Float32, Shape{rows, channels, 1, 1});
  Shape out_shape = *x.shape;
  out_shape[1] = rows;
  const ValueId input = add_activation(graph, names, x.name + "_dequantized_for_copies", DType::Float32, x.shape);
  const ValueId copies = add_activation(graph, names, base, DType::Float32, out_shape);
  const ValueId codes = gather.inputs[0];
  std::vector<Node>& nodes = insert_before[g];
  nodes.push_back(make_node(names, "DequantizeLinear", base + "_weight_DequantizeLinear", {w_codes, w_scale, w_zero}, {weight}));
  nodes.push_back(make_node(names, "DequantizeLinear", base + "_input_DequantizeLinear", {codes, scale, zero_point}, {input}));
  nodes.push_back(make_node(names, "Conv", base, {input, weight}, {copies}));
  Node& quantize = graph.nodes[g];  // the Gather's node becomes the QuantizeLinear writing its output
  quantize.op_type = "QuantizeLinear";
  quantize.inputs = {copies, scale, zero_point};
  quantize.attributes.clear();
  return true;
}

// Every point: [Clip ->] QuantizeLinear -> DequantizeLinear right after its producer; its readers
// read the dequantized value, a moved Gather reads the codes and gets its own DequantizeLinear.
void QdqRewrite::quantize_points() {
  std::map<ValueId, ValueId> dequantized_of, codes_of;
  for (const auto& [v, a] : points) {
    const auto producer = graph.producer(v);
    std::vector<Node>& pending = producer ? insert_after[*producer] : at_start;
    ValueId codes = kNoValue, s = kNoValue, z = kNoValue;
    dequantized_of[v] = quantize_chain(v, a, true, pending, &codes, &s, &z);
    point_dequantized.insert(dequantized_of[v]);
    codes_of[v] = codes;
    ++report.activation_chains;
    for (NodeId g : gathers_on_codes) {
      if (graph.nodes[g].inputs[0] != v) continue;
      // Gather on the codes, then its own DequantizeLinear in front of the layer.
      const ValueId gathered = graph.nodes[g].outputs[0];
      const Value out = graph.values[gathered];
      graph.values[gathered].dtype = graph.values[codes].dtype;
      const ValueId deq = add_activation(graph, names, out.name + "_dequantized", DType::Float32, out.shape);
      insert_after[g].push_back(make_node(names, "DequantizeLinear", out.name + "_DequantizeLinear", {gathered, s, z}, {deq}));
      for (NodeId reader : graph.consumers(gathered))
        for (ValueId& in : graph.nodes[reader].inputs)
          if (in == gathered) in = deq;
      graph.nodes[g].inputs[0] = codes;
      if (!gather_as_copy_conv(g, s, z)) gather_as_concat(g);
      ++report.gathers_on_codes;
    }
  }
  // The readers of each point (nodes of the graph; the new nodes read the original on purpose).
  for (NodeId n = 0; n < static_cast<NodeId>(graph.nodes.size()); ++n)
    for (ValueId& in : graph.nodes[n].inputs)
      if (auto d = dequantized_of.find(in); d != dequantized_of.end() && !gathers_on_codes.count(n)) in = d->second;
}

// The bias as int32 codes on s_x * s_w (QLinearConv's and QGemm's form), when it is a constant
// with one value per output channel and every code fits.
void QdqRewrite::quantize_bias(NodeId node_id, const QdqWeight& w, const QdqReport::Layer& entry) {
  const Node& node = graph.nodes[node_id];
  if (w.bits > 8 || entry.activation_scale == 0.0f || node.inputs.size() < 3 || node.inputs[2] == kNoValue) return;
  if (node.op_type == "MatMul") return;
  const Value bias = graph.values[node.inputs[2]];
  if (!bias.constant || bias.constant->dtype() != DType::Float32 || bias.constant->rank() != 1) return;
  const int64_t channels = bias.constant->numel();
  if (entry.weight_scales.size() != 1 && static_cast<int64_t>(entry.weight_scales.size()) != channels) return;
  std::vector<float> scales(static_cast<size_t>(channels));
  std::vector<int32_t> codes(static_cast<size_t>(channels));
  const float* b = bias.constant->data<float>();
  for (int64_t c = 0; c < channels; ++c) {
    const float s = entry.activation_scale * entry.weight_scales[entry.weight_scales.size() == 1 ? 0 : c];
    const double q = std::nearbyint(static_cast<double>(b[c]) / static_cast<double>(s));
    if (!(s > 0.0f) || !std::isfinite(q) || std::fabs(q) > 2147483647.0) return;  // stays float
    scales[c] = s;
    codes[c] = static_cast<int32_t>(q);
  }
  const bool per_channel = entry.weight_scales.size() != 1;
  const ValueId q = add_constant(graph, names, bias.name + "_quantized", Tensor::from_vector<int32_t>({channels}, codes));
  const ValueId s = add_constant(graph, names, bias.name + "_scale",
                                 per_channel ? Tensor::from_vector<float>({channels}, scales) : Tensor::scalar<float>(scales[0]));
  const ValueId z = add_constant(graph, names, bias.name + "_zero_point",
                                 per_channel ? Tensor(DType::Int32, {channels}) : Tensor::scalar<int32_t>(0));
  const ValueId feed = add_activation(graph, names, bias.name + "_dequantized", DType::Float32, bias.shape);
  Node dq = make_node(names, "DequantizeLinear", bias.name + "_DequantizeLinear", {q, s, z}, {feed});
  if (per_channel) dq.attributes["axis"] = int_attribute(0);
  insert_before[node_id].push_back(std::move(dq));
  dropped_constants.insert(graph.nodes[node_id].inputs[2]);
  graph.nodes[node_id].inputs[2] = feed;
  ++report.biases_int32;
}

// Splices the new nodes in, keeping topological order: each group goes right before the layer
// that reads it, and it reads only values defined before that layer.
void QdqRewrite::splice() {
  std::vector<Node> nodes = std::move(at_start);
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    auto it = insert_before.find(static_cast<NodeId>(n));
    if (it != insert_before.end())
      for (Node& extra : it->second) nodes.push_back(std::move(extra));
    nodes.push_back(std::move(graph.nodes[n]));
    auto after = insert_after.find(static_cast<NodeId>(n));
    if (after != insert_after.end())
      for (Node& extra : after->second) nodes.push_back(std::move(extra));
  }
  graph.nodes = std::move(nodes);
  // A point whose only reader was a layer's OCS Gather, now on the codes, leaves its own
  // DequantizeLinear without a reader: it goes (runtimes would run it for nothing). Before
  // drop_unused_constants, which renumbers the values.
  std::set<ValueId> unread;
  for (ValueId v : point_dequantized)
    if (graph.consumers(v).empty() && !graph.is_graph_output(v)) unread.insert(v);
  std::erase_if(graph.nodes, [&](const Node& n) { return n.outputs.size() == 1 && unread.count(n.outputs[0]); });
  if (!dropped_constants.empty()) drop_unused_constants(graph, dropped_constants);
}

}  // namespace

QdqReport insert_qdq(Graph& graph, const QdqPlan& plan) {
  QdqReport report;
  report.opset_before = graph.opset();
  OpsetNeeds needs;
  std::vector<LayerInputs> matched = validate_plan(graph, plan, needs);
  if (needs.qdq || needs.round || needs.per_channel) {
    raise_opset_for(graph, needs);
    // Converting ops may have inserted nodes: find the layers again.
    for (size_t k = 0; k < matched.size(); ++k) matched[k] = match_layer(graph, plan.layers[k].node);
  }
  report.opset_after = graph.opset();

  // New nodes go right before the layer that first needs them (plan layers in graph order).
  std::vector<size_t> order(plan.layers.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return matched[a].node < matched[b].node; });
  QdqRewrite rewrite(graph, report);  // names after raise_opset's
  const bool deploy = plan.layout == QdqLayout::Deploy;
  for (size_t k : order) {
    const QdqLayer& layer = plan.layers[k];
    QdqReport::Layer entry;
    entry.node = layer.node;
    if (layer.weight) rewrite.quantize_weight_input(matched[k].node, *layer.weight, matched[k].channel_axis, entry);
    if (layer.activation && deploy) rewrite.deploy_layer_input(matched[k].node, *layer.activation, entry);
    else if (layer.activation) rewrite.quantize_activation_input(matched[k].node, *layer.activation, entry);
    if (deploy && layer.weight && layer.activation && layer.activation->bits <= 8)
      rewrite.quantize_bias(matched[k].node, *layer.weight, entry);
    report.layers.push_back(std::move(entry));
  }
  if (deploy) {
    for (const QdqTensor& t : plan.tensors) rewrite.add_point(graph.find_value(t.value), t.grid, "tensor");
    rewrite.quantize_points();
  }
  rewrite.splice();
  graph.verify();
  return report;
}

}  // namespace ocs
