// insert_qdq: real QuantizeLinear/DequantizeLinear nodes for the quantized layers of a plan.
//
// The quantizer (docs/OCS.md), for bits b, threshold t, M = 2^(b-1) - 1:
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
#include "passes/insert_qdq.h"
#include "passes/graph_edit.h"

#include "core/round.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>

namespace ocs {
namespace {

// ---- opset -------------------------------------------------------------------------------

// Default-domain ops whose meaning does not change from opset 7 to opset 13: later versions only
// add element types, negative axes, or optional inputs/outputs/attributes that keep their old
// defaults.
const std::set<std::string>& opset_stable_ops() {
  static const std::set<std::string> ops = {
      "Abs", "Acos", "Add", "And", "ArgMax", "ArgMin", "Asin", "Atan", "AveragePool",
      "BatchNormalization", "Cast", "Ceil", "Compress", "Concat", "ConstantOfShape", "Conv",
      "ConvTranspose", "Cos", "CumSum", "DepthToSpace", "DequantizeLinear", "Div", "Elu", "Equal",
      "Erf", "Exp", "Expand", "Flatten", "Floor", "GRU", "Gather", "GatherElements", "Gemm",
      "GlobalAveragePool", "GlobalMaxPool", "Greater", "HardSigmoid", "Identity",
      "InstanceNormalization", "LRN", "LSTM", "LeakyRelu", "Less", "Log", "MatMul", "Max",
      "MaxPool", "Mean", "Min", "Mul", "Neg", "NonZero", "Not", "OneHot", "Or", "PRelu", "Pow",
      "QuantizeLinear", "RNN", "Range", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum",
      "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSumSquare",
      "Relu", "Reshape", "Selu", "Shape", "Sigmoid", "Sign", "Sin", "Size", "Softplus", "Softsign",
      "SpaceToDepth", "Sqrt", "Sub", "Sum", "Tan", "Tanh", "Tile", "Transpose", "Where", "Xor"};
  return ops;
}

// Ops whose meaning or signature changed at a given opset (attributes moved to inputs, axis
// semantics changed). A model using one is moved only to a target below that opset, unless
// convert_at() below converts it: Clip (11) and Slice (10) always, the opset-13 changes when
// the conversion keeps the meaning.
const std::map<std::string, int64_t>& opset_changes() {
  static const std::map<std::string, int64_t> changes = {
      {"Dropout", 12}, {"Hardmax", 13},  {"LogSoftmax", 13}, {"Pad", 11},     {"ReduceSum", 13},
      {"Resize", 11},  {"Softmax", 13},  {"Split", 13},      {"Squeeze", 13}, {"TopK", 10},
      {"Unsqueeze", 13}, {"Upsample", 10}};
  return changes;
}

bool is_default_domain(const std::string& domain) { return domain.empty() || domain == "ai.onnx"; }

// Opset 13 moved `axes` of Squeeze, Unsqueeze and ReduceSum and `split` of Split from attributes
// to int64 inputs (same meaning).
const std::map<std::string, std::string>& attributes_to_inputs_at_13() {
  static const std::map<std::string, std::string> moved = {
      {"ReduceSum", "axes"}, {"Split", "split"}, {"Squeeze", "axes"}, {"Unsqueeze", "axes"}};
  return moved;
}

// Softmax, LogSoftmax and Hardmax before opset 13 flatten the input to 2-D at `axis` (default
// 1) and normalize over everything from `axis` on; from 13 on they normalize over `axis` alone
// (default -1). The two agree when `axis` is the last axis. Otherwise (or when the rank is not
// known statically) the old meaning is spelled out: Reshape(op13(Flatten(x, axis), 1), Shape(x)).
bool is_normalizer(const std::string& op) { return op == "Softmax" || op == "LogSoftmax" || op == "Hardmax"; }

std::optional<int64_t> normalizer_last_axis(const Graph& graph, const Node& node) {
  const Value& input = graph.values[node.inputs.at(0)];
  if (!input.shape) return std::nullopt;
  const int64_t rank = static_cast<int64_t>(input.shape->size());
  int64_t axis = node.attr_int("axis", 1);
  if (axis < 0) axis += rank;
  if (axis != rank - 1) return std::nullopt;
  return axis;
}

// True when raise_opset converts `node` itself on the way from `opset` to `target`.
bool convertible(const Graph& graph, const Node& node, int64_t opset, int64_t target) {
  if (node.op_type == "Clip" || node.op_type == "Slice") return true;
  if (opset >= 13 || target < 13) return false;
  return attributes_to_inputs_at_13().count(node.op_type) || is_normalizer(node.op_type);
}

// Rewrites the opset < 13 normalizer `node` for opset 13; returns the nodes that must run
// before it (Flatten, Shape) and after it (Reshape).
std::pair<std::vector<Node>, std::vector<Node>> convert_normalizer_to_13(Graph& graph, NameTable& names, Node& node) {
  if (const std::optional<int64_t> axis = normalizer_last_axis(graph, node)) {
    node.attributes["axis"] = int_attribute(*axis);
    return {};
  }
  const ValueId x = node.inputs.at(0);
  const ValueId y = node.outputs.at(0);
  const DType dtype = graph.values[x].dtype;
  const ValueId flat = add_activation(graph, names, node.name + "_flat", dtype, std::nullopt);
  const ValueId shape = add_activation(graph, names, node.name + "_shape", DType::Int64, std::nullopt);
  const ValueId flat_out = add_activation(graph, names, node.name + "_flat_out", dtype, std::nullopt);
  Node flatten = make_node(names, "Flatten", node.name + "_flatten", {x}, {flat});
  flatten.attributes["axis"] = int_attribute(node.attr_int("axis", 1));
  Node shape_of = make_node(names, "Shape", node.name + "_shape_of", {x}, {shape});
  Node reshape = make_node(names, "Reshape", node.name + "_reshape", {flat_out, shape}, {y});
  node.inputs[0] = flat;
  node.outputs[0] = flat_out;
  node.attributes["axis"] = int_attribute(1);
  std::vector<Node> before;
  before.push_back(std::move(flatten));
  before.push_back(std::move(shape_of));
  std::vector<Node> after;
  after.push_back(std::move(reshape));
  return {std::move(before), std::move(after)};
}

// Why the model cannot move from its opset to `target`; empty when it can.
std::string opset_blocker(const Graph& graph, int64_t target) {
  const int64_t opset = graph.opset();
  if (opset < 7) return fmt::format("opset {} predates broadcasting (opset 7)", opset);
  std::set<std::string> blockers;
  for (const Node& node : graph.nodes) {
    for (const auto& [key, attr] : node.attributes)
      if (attr.g) blockers.insert(node.describe() + " (has a subgraph)");
    if (!is_default_domain(node.domain)) continue;
    if (convertible(graph, node, opset, target)) continue;  // raise_opset converts it
    // BatchNormalization's `spatial` attribute was removed in opset 9.
    if (node.op_type == "BatchNormalization" && node.has_attr("spatial")) {
      blockers.insert(node.describe() + " (attribute 'spatial')");
      continue;
    }
    if (opset_stable_ops().count(node.op_type)) continue;
    auto change = opset_changes().find(node.op_type);
    if (change != opset_changes().end() && (change->second <= opset || change->second > target)) continue;
    blockers.insert(node.op_type);
  }
  if (blockers.empty()) return "";
  std::string list;
  for (const std::string& b : blockers) list += (list.empty() ? "" : ", ") + b;
  return fmt::format("its ops {} changed meaning between opset {} and opset {}", list, opset, target);
}

// Raises the default-domain opset to `target` (no-op when already there). Clip nodes below
// opset 11 carry min/max as attributes; they become constant inputs.
void raise_opset(Graph& graph, NameTable& names, int64_t target, const std::string& why) {
  const int64_t opset = graph.opset();
  if (opset >= target) return;
  const std::string blocker = opset_blocker(graph, target);
  if (!blocker.empty())
    user_error("{} needs opset {}, but the model has opset {} and {}; re-export the model at opset "
               "{} or higher{}",
               why, target, opset, blocker, target,
               target == 13 ? ", or use per-tensor weight scales" : "");
  if (opset < 11 && target >= 11) {
    for (Node& node : graph.nodes) {
      if (node.op_type != "Clip" || !is_default_domain(node.domain)) continue;
      // Clip-6 defaults: min = lowest float, max = highest float.
      const float low = node.attr_float("min", std::numeric_limits<float>::lowest());
      const float high = node.attr_float("max", std::numeric_limits<float>::max());
      node.attributes.erase("min");
      node.attributes.erase("max");
      node.inputs.resize(1);
      node.inputs.push_back(add_constant(graph, names, node.name + "_min", Tensor::scalar<float>(low)));
      node.inputs.push_back(add_constant(graph, names, node.name + "_max", Tensor::scalar<float>(high)));
    }
  }
  if (opset < 10 && target >= 10) {
    for (Node& node : graph.nodes) {
      if (node.op_type != "Slice" || !is_default_domain(node.domain)) continue;
      // Slice-1 carries starts/ends/axes as attributes; Slice-10 takes them as int64 inputs
      // (same semantics, steps default to 1).
      auto as_input = [&](const std::string& key) {
        std::vector<int64_t> values = node.attr_ints(key);
        return add_constant(graph, names, node.name + "_" + key,
                            Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values));
      };
      node.inputs.resize(1);
      node.inputs.push_back(as_input("starts"));
      node.inputs.push_back(as_input("ends"));
      if (node.has_attr("axes")) node.inputs.push_back(as_input("axes"));
      node.attributes.erase("starts");
      node.attributes.erase("ends");
      node.attributes.erase("axes");
    }
  }
  if (opset < 13 && target >= 13) {
    for (Node& node : graph.nodes) {
      if (!is_default_domain(node.domain)) continue;
      auto moved = attributes_to_inputs_at_13().find(node.op_type);
      if (moved != attributes_to_inputs_at_13().end()) {
        const std::string& key = moved->second;
        if (!node.has_attr(key)) continue;  // absent stays absent (same default)
        std::vector<int64_t> values = node.attr_ints(key);
        node.attributes.erase(key);
        node.inputs.resize(1);
        node.inputs.push_back(add_constant(graph, names, node.name + "_" + key,
                                           Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values)));
      }
    }
    // Normalizers may need nodes around them: rebuild the list in topological order.
    std::vector<Node> nodes;
    for (size_t n = 0; n < graph.nodes.size(); ++n) {
      Node node = std::move(graph.nodes[n]);
      if (!is_default_domain(node.domain) || !is_normalizer(node.op_type)) {
        nodes.push_back(std::move(node));
        continue;
      }
      auto [before, after] = convert_normalizer_to_13(graph, names, node);
      for (Node& extra : before) nodes.push_back(std::move(extra));
      nodes.push_back(std::move(node));
      for (Node& extra : after) nodes.push_back(std::move(extra));
    }
    graph.nodes = std::move(nodes);
  }
  graph.opsets[""] = target;
  graph.opsets.erase("ai.onnx");
  // The IR version that introduced each opset: 10 -> IR 5, 11 -> IR 6, 12/13 -> IR 7.
  const int64_t ir = target >= 12 ? 7 : (target == 11 ? 6 : 5);
  graph.ir_version = std::max(graph.ir_version, ir);
}

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
  const int64_t rank = weight.constant->rank();
  if (node.op_type == "Conv") {
    m.channel_axis = 0;                                    // W: [C_out, C_in / group, k...]
  } else if (node.op_type == "Gemm") {
    m.channel_axis = node.attr_int("transB", 0) ? 0 : 1;   // B: [K, N], or [N, K] transposed
  } else {
    m.channel_axis = rank - 1;                             // B: [..., K, N]
  }
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

// fl(t / steps) as a float; 1 for t == 0 (every q is 0 then, whatever the scale).
float grid_scale(float threshold, int64_t steps) {
  if (threshold == 0.0f) return 1.0f;
  return static_cast<float>(static_cast<double>(threshold) / static_cast<double>(steps));
}

// clamp(round_half_to_even(x / scale), q_min, q_max): the division in float32 as QuantizeLinear
// does it; clamping the quotient before rounding is the same as after (the bounds are integers).
int32_t quantize_to_grid(float x, float scale, int32_t q_min, int32_t q_max) {
  const float scaled = x / scale;
  const float clamped = std::clamp(scaled, static_cast<float>(q_min), static_cast<float>(q_max));
  return static_cast<int32_t>(round_half_to_even(clamped));
}

struct WeightGrid {
  std::vector<float> scales;  // one per group
  Tensor quantized;           // int8 q (bits <= 8) or float x_hat (bits > 8)
};

// Quantizes W with one group per index of `axis` (per channel) or one group (per tensor).
WeightGrid quantize_weight(const Node& node, const Tensor& w, const QdqWeight& plan, int64_t axis) {
  const int64_t groups = plan.per_channel ? w.dim(axis) : 1;
  // W viewed as [outer, groups, inner]; per tensor: outer = 1, groups = 1, inner = numel.
  int64_t outer = 1, inner = w.numel();
  if (plan.per_channel) {
    inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= w.dim(d);
    for (int64_t d = axis + 1; d < w.rank(); ++d) inner *= w.dim(d);
  }
  const float* values = w.data<float>();
  auto index = [&](int64_t o, int64_t g, int64_t i) { return (o * groups + g) * inner + i; };

  std::vector<float> thresholds = plan.thresholds;
  if (thresholds.empty()) {
    thresholds.assign(static_cast<size_t>(groups), 0.0f);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t g = 0; g < groups; ++g)
        for (int64_t i = 0; i < inner; ++i)
          thresholds[g] = std::max(thresholds[g], std::fabs(values[index(o, g, i)]));
  }
  OCS_CHECK(static_cast<int64_t>(thresholds.size()) == groups, "{} thresholds for {} groups",
            thresholds.size(), groups);

  const int32_t q_max = (1 << (plan.bits - 1)) - 1;  // M
  const int32_t q_min = -(1 << (plan.bits - 1));
  WeightGrid grid;
  for (float t : thresholds) grid.scales.push_back(grid_scale(t, q_max));
  const bool as_int8 = plan.bits <= 8;
  grid.quantized = Tensor(as_int8 ? DType::Int8 : DType::Float32, w.shape());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = index(o, g, i);
        const float scale = grid.scales[g];
        const int32_t q = thresholds[g] == 0.0f ? 0 : quantize_to_grid(values[k], scale, q_min, q_max);
        if (as_int8) grid.quantized.data<int8_t>()[k] = static_cast<int8_t>(q);
        else grid.quantized.data<float>()[k] = dequantize_value(q, scale, 0);
      }
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

}  // namespace

QdqReport insert_qdq(Graph& graph, const QdqPlan& plan) {
  QdqReport report;
  report.opset_before = graph.opset();
  NameTable names(graph);

  // Match and validate everything before changing anything.
  std::vector<LayerInputs> matched;
  std::set<std::string> seen;
  bool needs_qdq = false, needs_per_channel = false, needs_round = false;
  for (const QdqLayer& layer : plan.layers) {
    if (!seen.insert(layer.node).second)
      user_error("quantization plan names node '{}' twice", layer.node);
    matched.push_back(match_layer(graph, layer.node));
    const Node& node = graph.nodes[matched.back().node];
    if (layer.weight) {
      check_bits(node, "weight", layer.weight->bits);
      if (layer.weight->bits <= 8) needs_qdq = true;
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
        if (layer.weight->bits <= 8) needs_per_channel = true;
      }
    }
    if (layer.activation) {
      check_bits(node, "activation", layer.activation->bits);
      check_threshold(node, "activation", layer.activation->threshold);
      const Value& x = graph.values[node.inputs[0]];
      if (x.dtype != DType::Float32 && x.dtype != DType::Undefined)
        user_error("quantization plan for {}: input '{}' is {}; only float activations are quantized",
                   node.describe(), x.name, dtype_name(x.dtype));
      if (layer.activation->bits > 8) needs_round = true;
      else needs_qdq = true;
    }
  }
  // QuantizeLinear/DequantizeLinear exist from opset 10, Round from 11, per-axis scales from 13.
  // (Weights above 8 bits are plain float constants and need none of them.)
  int64_t target = 0;
  std::string why;
  if (needs_qdq) {
    target = 10;
    why = "QuantizeLinear/DequantizeLinear";
    // ONNX Runtime 1.30's QDQ optimizer quantizes Conv biases by inserting Round nodes (opset
    // 11) into the model it loads, so a QDQ model at opset 10 fails to load there. Prefer 11
    // whenever the model's ops allow the move.
    if (graph.opset() < 11 && opset_blocker(graph, 11).empty()) target = 11;
  }
  if (needs_round) {
    target = 11;
    why = "activation quantization above 8 bits (Round)";
  }
  if (needs_per_channel) {
    target = 13;
    why = "per-channel weight scales";
  }
  if (target > 0) {
    raise_opset(graph, names, target, why);
    // Converting ops may have inserted nodes: find the layers again.
    for (size_t k = 0; k < matched.size(); ++k) matched[k] = match_layer(graph, plan.layers[k].node);
  }
  report.opset_after = graph.opset();
  const bool clip_has_inputs = graph.opset() >= 11;

  // New nodes go right before the layer that first needs them (plan layers in graph order).
  std::vector<size_t> order(plan.layers.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return matched[a].node < matched[b].node; });
  std::map<NodeId, std::vector<Node>> insert_before;
  std::map<ChainKey, ValueId> chains;
  std::map<WeightKey, std::pair<ValueId, std::vector<float>>> weight_feeds;  // -> feed, scales
  std::set<ValueId> old_weights;

  for (size_t k : order) {
    const QdqLayer& layer = plan.layers[k];
    const NodeId node_id = matched[k].node;
    std::vector<Node>& pending = insert_before[node_id];
    QdqReport::Layer entry;
    entry.node = layer.node;

    if (layer.weight) {
      const ValueId w_id = graph.nodes[node_id].inputs[1];
      const Value w_value = graph.values[w_id];  // copy: add_value below may reallocate
      const int64_t axis = matched[k].channel_axis;
      // A weight constant read by several layers with the same grid (the unrolled LSTM's R^T)
      // is quantized once; every reader reads the one DequantizeLinear (it goes before the first).
      const WeightKey weight_key{w_id, layer.weight->bits, layer.weight->per_channel, axis, layer.weight->thresholds};
      if (auto done = weight_feeds.find(weight_key); done != weight_feeds.end()) {
        entry.weight_scales = done->second.second;
        graph.nodes[node_id].inputs[1] = done->second.first;
      } else {
        WeightGrid grid = quantize_weight(graph.nodes[node_id], *w_value.constant, *layer.weight, axis);
        entry.weight_scales = grid.scales;
        ValueId feed;
        if (layer.weight->bits > 8) {
          feed = add_constant(graph, names, w_value.name + "_fakequant", std::move(grid.quantized));
        } else {
          const ValueId q = add_constant(graph, names, w_value.name + "_quantized", std::move(grid.quantized));
          Tensor scale, zero_point;
          if (layer.weight->per_channel) {
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
          if (layer.weight->per_channel) dq.attributes["axis"] = int_attribute(axis);
          pending.push_back(std::move(dq));
        }
        graph.nodes[node_id].inputs[1] = feed;
        old_weights.insert(w_id);
        weight_feeds.emplace(weight_key, std::make_pair(feed, entry.weight_scales));
        ++report.weights_quantized;
      }
    }

    if (layer.activation) {
      const QdqActivation& a = *layer.activation;
      const ValueId x = graph.nodes[node_id].inputs[0];
      const ChainKey key{x, a.bits, a.threshold, a.is_unsigned};
      auto found = chains.find(key);
      if (found == chains.end()) {
        const Value x_value = graph.values[x];
        const std::string base = x_value.name;
        // Grid: signed [-2^(b-1), M] with M = 2^(b-1) - 1 steps over t; unsigned [0, 2^b - 1].
        const int64_t steps = a.is_unsigned ? (int64_t{1} << a.bits) - 1 : (int64_t{1} << (a.bits - 1)) - 1;
        const float scale = grid_scale(a.threshold, steps);
        // lo = -2^(b-1) * scale exactly (power-of-two multiple), hi = t; see the proof above.
        float lo = a.is_unsigned ? 0.0f : -static_cast<float>(int64_t{1} << (a.bits - 1)) * scale;
        float hi = a.threshold;
        if (a.threshold == 0.0f) lo = hi = 0.0f;
        entry.activation_scale = scale;

        ValueId current = x;
        if (a.bits != 8 || a.threshold == 0.0f) {
          const ValueId clipped = add_activation(graph, names, base + "_clipped", DType::Float32, x_value.shape);
          Node clip = make_node(names, "Clip", base + "_Clip", {x}, {clipped});
          if (clip_has_inputs) {
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
        if (a.bits <= 8) {
          const DType q_type = a.is_unsigned ? DType::UInt8 : DType::Int8;
          const ValueId z = add_constant(graph, names, base + "_zero_point",
                                         a.is_unsigned ? Tensor::scalar<uint8_t>(0) : Tensor::scalar<int8_t>(0));
          const ValueId q = add_activation(graph, names, base + "_quantized", q_type, x_value.shape);
          pending.push_back(make_node(names, "QuantizeLinear", base + "_QuantizeLinear", {current, s, z}, {q}));
          pending.push_back(make_node(names, "DequantizeLinear", base + "_DequantizeLinear", {q, s, z}, {dequantized}));
        } else {
          // Above 8 bits: q = Round(x / scale) as a float, x_hat = q * scale.
          const ValueId divided = add_activation(graph, names, base + "_divided", DType::Float32, x_value.shape);
          const ValueId rounded = add_activation(graph, names, base + "_rounded", DType::Float32, x_value.shape);
          pending.push_back(make_node(names, "Div", base + "_Div", {current, s}, {divided}));
          pending.push_back(make_node(names, "Round", base + "_Round", {divided}, {rounded}));
          pending.push_back(make_node(names, "Mul", base + "_Mul", {rounded, s}, {dequantized}));
        }
        found = chains.emplace(key, dequantized).first;
        ++report.activation_chains;
      } else {
        // Same parameters, same chain; the scale for the report is recomputed.
        const int64_t steps = a.is_unsigned ? (int64_t{1} << a.bits) - 1 : (int64_t{1} << (a.bits - 1)) - 1;
        entry.activation_scale = grid_scale(a.threshold, steps);
      }
      graph.nodes[node_id].inputs[0] = found->second;
    }
    report.layers.push_back(std::move(entry));
  }

  // Splice the new nodes in, keeping topological order: each group goes right before the layer
  // that reads it, and it reads only values defined before that layer.
  std::vector<Node> nodes;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    auto it = insert_before.find(static_cast<NodeId>(n));
    if (it != insert_before.end())
      for (Node& extra : it->second) nodes.push_back(std::move(extra));
    nodes.push_back(std::move(graph.nodes[n]));
  }
  graph.nodes = std::move(nodes);
  if (!old_weights.empty()) drop_unused_constants(graph, old_weights);
  graph.verify();
  return report;
}

}  // namespace ocs
