// insert_qdq: the QDQ graph our engine runs must equal an independent fake-quant simulation,
// and ONNX Runtime running the exported file must agree with our engine.
//
// The simulation (below) walks the ORIGINAL float graph with the reference kernels, and before
// each quantized layer replaces its input and weight by fake-quantized copies computed here
// with different code (std::nearbyint, clamp after rounding, no Clip/QuantizeLinear nodes). The
// grid is the one docs/METHOD.md defines with the stored float scale fl(t / M) as divisor, which
// is what QuantizeLinear computes. Reference kernels on both sides make the comparison exact:
// tolerance 0 (bit-identical). Fast (oneDNN) kernels sum in another order: tolerance stated at
// each use.
#include "ort_runner.h"
#include "engine/session.h"
#include "io/npy.h"
#include "kernels/kernel.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"
#include "passes/copy_convs.h"
#include "passes/fold_batchnorm.h"
#include "passes/insert_qdq.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <unistd.h>

namespace ocs {
namespace {
using namespace ocs::testing;
namespace fs = std::filesystem;

// ---- models ----------------------------------------------------------------------------------

// Normal values with every 17th times 4: a few outliers, the situation OCS is about.
Tensor outlier_tensor(Shape shape, uint32_t seed) { return random_normal_tensor(std::move(shape), seed, 1.0f, {17, 4.0f}); }

Graph load(const onnx::ModelProto& m) { return import_onnx_bytes(serialize(m), ".", "test model"); }

// x [2, 4, 7, 7] -> (Relu) -> Conv(W [5, 4, 3, 3], b, pads 1) -> y
onnx::ModelProto conv_model(bool relu_first, int64_t opset = 13) {
  onnx::ModelProto m = model(opset);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, 4, 7, 7});
  *g->add_output() = value_info("y", {2, 5, 7, 7});
  tensor_to_proto(outlier_tensor({5, 4, 3, 3}, 11), "W", g->add_initializer());
  tensor_to_proto(outlier_tensor({5}, 12), "b", g->add_initializer());
  std::string in = "x";
  if (relu_first) {
    *g->add_node() = node("Relu", {"x"}, {"r"}, "relu");
    in = "r";
  }
  auto conv = node("Conv", {in, "W", "b"}, {"y"}, "conv");
  auto* pads = conv.add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int k = 0; k < 4; ++k) pads->add_ints(1);
  *g->add_node() = conv;
  return m;
}

// x [3, 8] -> Relu -> Gemm(B, C, transB) -> y [3, 6]
onnx::ModelProto gemm_model(bool trans_b) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {3, 8});
  *g->add_output() = value_info("y", {3, 6});
  tensor_to_proto(outlier_tensor(trans_b ? Shape{6, 8} : Shape{8, 6}, 21), "B", g->add_initializer());
  tensor_to_proto(outlier_tensor({6}, 22), "C", g->add_initializer());
  *g->add_node() = node("Relu", {"x"}, {"r"}, "relu");
  auto gemm = node("Gemm", {"r", "B", "C"}, {"y"}, "gemm");
  auto* t = gemm.add_attribute();
  t->set_name("transB");
  t->set_type(onnx::AttributeProto::INT);
  t->set_i(trans_b ? 1 : 0);
  *g->add_node() = gemm;
  return m;
}

fs::path small_cnn_path() { return fs::path(OCS_SOURCE_DIR) / "tests" / "data" / "small_cnn.onnx"; }

int count_ops(const Graph& g, const std::string& op) {
  int n = 0;
  for (const Node& node : g.nodes) n += node.op_type == op;
  return n;
}

// ---- the independent simulation -------------------------------------------------------------

// x_hat = clamp(nearbyint(x / scale), lo, hi) * scale, nearbyint rounding ties to even in the
// default rounding mode.
float sim_fake_quant(float x, float scale, int lo, int hi) {
  float q = std::nearbyint(x / scale);
  q = std::min(std::max(q, static_cast<float>(lo)), static_cast<float>(hi));
  return q * scale;
}

float sim_scale(float t, int steps) {
  return t == 0.0f ? 1.0f : static_cast<float>(static_cast<double>(t) / steps);
}

struct SimLayer {
  std::optional<QdqWeight> weight;
  int64_t weight_axis = 0;
  std::optional<QdqActivation> activation;
};

Tensor sim_weight(const Tensor& w, const QdqWeight& plan, int64_t axis) {
  const int64_t groups = plan.per_channel ? w.dim(axis) : 1;
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < w.rank(); ++d) inner *= w.dim(d);
  if (!plan.per_channel) inner = w.numel();
  auto group_of = [&](int64_t k) { return (k / inner) % groups; };
  std::vector<float> t(groups, 0.0f);
  const std::vector<float> values = w.to_vector<float>();
  for (int64_t k = 0; k < w.numel(); ++k) t[group_of(k)] = std::max(t[group_of(k)], std::fabs(values[k]));
  if (!plan.thresholds.empty()) t = plan.thresholds;
  const int m = (1 << (plan.bits - 1)) - 1;
  std::vector<float> out(values.size());
  for (int64_t k = 0; k < w.numel(); ++k) {
    const float tg = t[group_of(k)];
    out[k] = tg == 0.0f ? 0.0f : sim_fake_quant(values[k], sim_scale(tg, m), -m - 1, m);
  }
  return Tensor::from_vector<float>(w.shape(), out);
}

Tensor sim_activation(const Tensor& x, const QdqActivation& a) {
  const int steps = a.is_unsigned ? (1 << a.bits) - 1 : (1 << (a.bits - 1)) - 1;
  const int lo = a.is_unsigned ? 0 : -steps - 1;
  std::vector<float> v = x.to_vector<float>();
  for (float& e : v) e = a.threshold == 0.0f ? 0.0f : sim_fake_quant(e, sim_scale(a.threshold, steps), lo, steps);
  return Tensor::from_vector<float>(x.shape(), v);
}

// Runs the float graph node by node with the reference kernels, fake-quantizing the inputs and
// weights of the layers in `layers` (by node name).
// The deployable layout adds `points` (tensors fake-quantized right where they are computed) and
// int32 biases: b_hat = nearbyint(b / s) * s, s = fl(s_x * s_w).
Tensor sim_bias(const Tensor& b, const Tensor& w, const SimLayer& layer) {
  const QdqActivation& a = *layer.activation;
  const float s_x = sim_scale(a.threshold, a.is_unsigned ? (1 << a.bits) - 1 : (1 << (a.bits - 1)) - 1);
  const int m = (1 << (layer.weight->bits - 1)) - 1;
  const std::vector<float> values = w.to_vector<float>();
  const int64_t channels = w.dim(layer.weight_axis);
  const int64_t per = w.numel() / channels;  // Conv weights: output channels on axis 0
  std::vector<float> out = b.to_vector<float>();
  for (int64_t c = 0; c < channels; ++c) {
    float t = 0.0f;
    for (int64_t k = 0; k < w.numel(); ++k)
      if (!layer.weight->per_channel || k / per == c) t = std::max(t, std::fabs(values[k]));
    const float s = s_x * sim_scale(t, m);
    out[c] = static_cast<float>(std::nearbyint(static_cast<double>(out[c]) / s)) * s;
  }
  return Tensor::from_vector<float>(b.shape(), out);
}

std::vector<Tensor> simulate(const Graph& g, const std::map<std::string, Tensor>& inputs,
                             const std::map<std::string, SimLayer>& layers,
                             const std::map<std::string, QdqActivation>& points = {}, bool int32_bias = false) {
  std::vector<Tensor> env(g.values.size());
  for (size_t v = 0; v < g.values.size(); ++v)
    if (g.values[v].constant) env[v] = *g.values[v].constant;
  for (ValueId id : g.inputs) env[id] = inputs.at(g.values[id].name);
  for (const Node& node : g.nodes) {
    std::vector<Tensor> in;
    for (ValueId id : node.inputs) in.push_back(id == kNoValue ? Tensor() : env[id]);
    auto layer = layers.find(node.name);
    if (layer != layers.end()) {
      if (layer->second.activation) in[0] = sim_activation(in[0], *layer->second.activation);
      if (int32_bias && in.size() > 2 && layer->second.activation && layer->second.weight)
        in[2] = sim_bias(in[2], in[1], layer->second);
      if (layer->second.weight) in[1] = sim_weight(in[1], *layer->second.weight, layer->second.weight_axis);
    }
    std::vector<Tensor> out(node.outputs.size());
    KernelContext ctx{node, std::span<const Tensor>(in), out, g.opset(node.domain)};
    const KernelEntry* entry = KernelRegistry::global().find(node.domain, node.op_type);
    EXPECT_TRUE(entry && entry->reference) << node.op_type;
    entry->reference(ctx);
    for (size_t k = 0; k < out.size(); ++k)
      if (node.outputs[k] != kNoValue) {
        const auto point = points.find(g.values[node.outputs[k]].name);
        env[node.outputs[k]] = point == points.end() ? out[k] : sim_activation(out[k], point->second);
      }
  }
  std::vector<Tensor> result;
  for (ValueId id : g.outputs) result.push_back(env[id]);
  return result;
}

std::vector<Tensor> run_engine(const Graph& g, const std::map<std::string, Tensor>& inputs,
                               bool reference) {
  SessionOptions options;
  options.reference_kernels_only = reference;
  Session session(std::make_shared<const Graph>(g), options);
  return session.run(inputs);
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_double_vector()) m = std::max(m, std::fabs(v));
  return m;
}

// max|x| of every value, from one float run (the calibration of these tests).
std::map<std::string, float> calibrate(const Graph& g, const std::map<std::string, Tensor>& inputs) {
  std::map<std::string, float> max_of;
  Session session(std::make_shared<const Graph>(g));
  session.run(inputs, [&](const Graph& graph, ValueId id, const Tensor& t) {
    if (t.dtype() == DType::Float32) max_of[graph.values[id].name] = static_cast<float>(max_abs(t));
  });
  return max_of;
}

// A plan for every Conv/Gemm of `g`: activation threshold = clip_fraction * max|x| (so that
// Clip does clip), unsigned where the layer's input is known non-negative.
struct PlanOptions {
  int wbits = 8, abits = 8;
  bool per_channel = false;
  bool use_unsigned = false;
  float clip_fraction = 0.7f;
};

std::pair<QdqPlan, std::map<std::string, SimLayer>> make_plan(
    const Graph& g, const std::map<std::string, float>& max_of, const PlanOptions& o,
    const std::set<std::string>& nonnegative_inputs) {
  QdqPlan plan;
  std::map<std::string, SimLayer> sim;
  for (const Node& node : g.nodes) {
    if (node.op_type != "Conv" && node.op_type != "Gemm") continue;
    QdqLayer layer;
    layer.node = node.name;
    layer.weight = QdqWeight{o.wbits, o.per_channel, {}};
    const std::string& x = g.values[node.inputs[0]].name;
    const bool non_negative = nonnegative_inputs.count(x) != 0;
    layer.activation = QdqActivation{o.abits, o.clip_fraction * max_of.at(x), o.use_unsigned && non_negative};
    SimLayer s;
    s.weight = layer.weight;
    s.weight_axis = node.op_type == "Gemm" && node.attr_int("transB", 0) == 0 ? 1 : 0;
    s.activation = layer.activation;
    sim[node.name] = s;
    plan.layers.push_back(layer);
  }
  return {plan, sim};
}

// ---- hand-computed values -------------------------------------------------------------------

TEST(PassesQdq, WeightIntegersMatchHandComputedGrid) {
  // Gemm with B = [[1, -0.5, 0.3], [-1, 0, 0.6]] (transB: rows are output channels), 4 bits,
  // M = 7, scale = fl(1/7) = 0.142857149...
  //   1 / scale = 6.9999997 -> 7;  -0.5 / scale = -3.4999998 -> -3 (x * 7 would be the tie
  //   -3.5 -> -4: the stored float scale decides, as in QuantizeLinear); 0.3 -> 2.0999999 -> 2;
  //   -1 -> -7; 0 -> 0; 0.6 -> 4.1999998 -> 4.
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 3});
  *g->add_output() = value_info("y", {1, 2});
  tensor_to_proto(Tensor::from_vector<float>({2, 3}, {1.0f, -0.5f, 0.3f, -1.0f, 0.0f, 0.6f}), "B",
                  g->add_initializer());
  auto gemm = node("Gemm", {"x", "B"}, {"y"}, "gemm");
  auto* t = gemm.add_attribute();
  t->set_name("transB");
  t->set_type(onnx::AttributeProto::INT);
  t->set_i(1);
  *g->add_node() = gemm;

  auto quantized_weight = [&](QdqWeight w) {
    Graph graph = load(m);
    QdqPlan plan{{QdqLayer{"gemm", w, std::nullopt}}};
    insert_qdq(graph, plan);
    const Value& q = graph.values[graph.nodes[0].inputs[0]];  // DequantizeLinear's x
    EXPECT_EQ(graph.nodes[0].op_type, "DequantizeLinear");
    return q.constant->to_vector<int8_t>();
  };
  EXPECT_EQ(quantized_weight({4, false, {}}), (std::vector<int8_t>{7, -3, 2, -7, 0, 4}));
  // Threshold 0.5 clips: scale = fl(0.5/7); 1 -> 14 -> 7; -1 -> -14 -> -8 = -2^(b-1) (the
  // clamp range is asymmetric, as in docs/METHOD.md); 0.3 -> 4.2 -> 4; -0.5 -> -7; 0.6 -> 8.4 -> 7.
  EXPECT_EQ(quantized_weight({4, false, {0.5f}}), (std::vector<int8_t>{7, -7, 4, -8, 0, 7}));
  // Per channel (rows): row 0 max 1 -> as above; row 1 threshold 0.6 -> scale fl(0.6/7):
  // -1 -> -11.67 -> -8; 0 -> 0; 0.6 -> 7.
  EXPECT_EQ(quantized_weight({4, true, {1.0f, 0.6f}}), (std::vector<int8_t>{7, -3, 2, -8, 0, 7}));
  // An all-zero channel (threshold 0) quantizes to zeros.
  EXPECT_EQ(quantized_weight({4, true, {0.0f, 0.6f}}), (std::vector<int8_t>{0, 0, 0, -8, 0, 7}));
}

TEST(PassesQdq, ActivationChainClipsAndRoundsOnTheBBitGrid) {
  // x -> Gemm(identity B) so y = x_hat. 3-bit signed, t = 3: M = 3, scale = 1, grid -4..3.
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 8});
  *g->add_output() = value_info("y", {1, 8});
  std::vector<float> eye(64, 0.0f);
  for (int k = 0; k < 8; ++k) eye[k * 9] = 1.0f;
  tensor_to_proto(Tensor::from_vector<float>({8, 8}, eye), "B", g->add_initializer());
  *g->add_node() = node("Gemm", {"x", "B"}, {"y"}, "gemm");
  const Tensor x = Tensor::from_vector<float>({1, 8}, {-9.0f, -4.4f, -3.6f, -2.5f, 0.5f, 1.5f, 3.0f, 7.0f});
  auto run = [&](QdqActivation a) {
    Graph graph = load(m);
    insert_qdq(graph, QdqPlan{{QdqLayer{"gemm", std::nullopt, a}}});
    return run_engine(graph, {{"x", x}}, true)[0].to_vector<float>();
  };
  // Clip to [-4, 3]; round half to even: -3.6 -> -4, -2.5 -> -2, 0.5 -> 0, 1.5 -> 2.
  EXPECT_EQ(run({3, 3.0f, false}), (std::vector<float>{-4, -4, -4, -2, 0, 2, 3, 3}));
  // Unsigned 2-bit, t = 3: N = 3, scale 1, grid 0..3.
  EXPECT_EQ(run({2, 3.0f, true}), (std::vector<float>{0, 0, 0, 0, 0, 2, 3, 3}));
  // Dead activation (t = 0): everything is 0.
  EXPECT_EQ(run({5, 0.0f, false}), (std::vector<float>(8, 0.0f)));
  // 10 bits, t = 511: scale 1, grid -512..511 through Clip/Div/Round/Mul.
  const Tensor wide = Tensor::from_vector<float>({1, 8}, {-600.0f, -511.5f, -2.5f, 0.5f, 1.5f, 510.5f, 511.0f, 1e6f});
  Graph graph = load(m);
  insert_qdq(graph, QdqPlan{{QdqLayer{"gemm", std::nullopt, QdqActivation{10, 511.0f, false}}}});
  EXPECT_EQ(count_ops(graph, "Round"), 1);
  EXPECT_EQ(count_ops(graph, "QuantizeLinear"), 0);
  EXPECT_EQ(run_engine(graph, {{"x", wide}}, true)[0].to_vector<float>(),
            (std::vector<float>{-512, -512, -2, 0, 2, 510, 511, 511}));
}

// ---- against the simulation -----------------------------------------------------------------

struct GridCase {
  int wbits, abits;
  bool per_channel, use_unsigned;
};

std::string case_name(const GridCase& c) {
  return fmt::format("w{}_a{}_{}_{}", c.wbits, c.abits, c.per_channel ? "per_channel" : "per_tensor",
                     c.use_unsigned ? "unsigned" : "signed");
}

std::vector<GridCase> grid_cases() {
  std::vector<GridCase> cases;
  for (int w : {6, 4})
    for (int a : {8, 5})
      for (bool pc : {false, true})
        for (bool u : {false, true}) cases.push_back({w, a, pc, u});
  return cases;
}

// Quantizes every Conv/Gemm of `float_graph`, checks verify() and the op counts, and compares
// our engine with the simulation. Returns the quantized graph.
Graph check_against_simulation(const Graph& float_graph, const std::map<std::string, Tensor>& inputs,
                               const GridCase& c, const std::set<std::string>& nonnegative) {
  const auto max_of = calibrate(float_graph, inputs);
  auto [plan, sim] = make_plan(float_graph, max_of,
                               {c.wbits, c.abits, c.per_channel, c.use_unsigned, 0.7f}, nonnegative);
  Graph q = float_graph;
  const QdqReport report = insert_qdq(q, plan);
  q.verify();
  const int layers = static_cast<int>(plan.layers.size());
  EXPECT_EQ(report.weights_quantized, layers);
  EXPECT_EQ(report.activation_chains, layers);  // every layer reads a different activation
  EXPECT_EQ(count_ops(q, "DequantizeLinear"), 2 * layers);
  EXPECT_EQ(count_ops(q, "QuantizeLinear"), layers);
  EXPECT_EQ(count_ops(q, "Clip"), c.abits == 8 ? 0 : layers);
  for (const Node& node : q.nodes) {  // the float weights are gone, DequantizeLinear feeds each layer
    if (node.op_type != "Conv" && node.op_type != "Gemm") continue;
    EXPECT_FALSE(q.values[node.inputs[1]].constant) << node.name;
    EXPECT_EQ(q.nodes[*q.producer(node.inputs[1])].op_type, "DequantizeLinear") << node.name;
  }
  for (const Node& node : float_graph.nodes) {
    if (node.op_type != "Conv" && node.op_type != "Gemm") continue;
    EXPECT_EQ(q.find_value(float_graph.values[node.inputs[1]].name), kNoValue);
  }

  const auto want = simulate(float_graph, inputs, sim);
  const auto got = run_engine(q, inputs, /*reference=*/true);
  EXPECT_EQ(max_abs_difference(got[0], want[0]), 0.0) << "reference kernels must be bit-identical";
  // Fast kernels: only the summation order differs; it may move an intermediate value across a
  // rounding boundary of the next quantizer, costing one step there, so the bound is loose:
  // 1e-3 of the output's scale (one step of an 8-bit grid is ~1e-2 of it).
  const auto fast = run_engine(q, inputs, /*reference=*/false);
  EXPECT_LE(max_abs_difference(fast[0], want[0]), 1e-3 * max_abs(want[0]));
  return q;
}

TEST(PassesQdq, ConvMatchesSimulation) {
  for (const GridCase& c : grid_cases()) {
    SCOPED_TRACE(case_name(c));
    const Graph g = load(conv_model(/*relu_first=*/true));
    check_against_simulation(g, {{"x", outlier_tensor({2, 4, 7, 7}, 1)}}, c, {"r"});
  }
}

TEST(PassesQdq, SignedConvWithoutReluMatchesSimulation) {
  const Graph g = load(conv_model(/*relu_first=*/false));
  check_against_simulation(g, {{"x", outlier_tensor({2, 4, 7, 7}, 2)}}, {5, 4, true, false}, {});
}

TEST(PassesQdq, GemmMatchesSimulation) {
  for (bool trans_b : {false, true})
    for (const GridCase& c : grid_cases()) {
      SCOPED_TRACE(case_name(c) + (trans_b ? " transB" : ""));
      const Graph g = load(gemm_model(trans_b));
      check_against_simulation(g, {{"x", outlier_tensor({3, 8}, 3)}}, c, {"r"});
    }
}

std::set<std::string> small_cnn_nonnegative_inputs(const Graph& g) {
  // Every Conv/Gemm input except the image: MaxPool/Relu/GlobalAveragePool/Flatten of ReLUs.
  std::set<std::string> names;
  for (const Node& node : g.nodes)
    if ((node.op_type == "Conv" || node.op_type == "Gemm") && g.values[node.inputs[0]].name != "input")
      names.insert(g.values[node.inputs[0]].name);
  return names;
}

TEST(PassesQdq, SmallCnnMatchesSimulation) {
  const Graph g = import_onnx_file(small_cnn_path());
  const std::map<std::string, Tensor> inputs{{"input", outlier_tensor({1, 1, 28, 28}, 4)}};
  for (const GridCase& c : grid_cases()) {
    SCOPED_TRACE(case_name(c));
    check_against_simulation(g, inputs, c, small_cnn_nonnegative_inputs(g));
  }
}

TEST(PassesQdq, MatMulPerChannelMatchesSimulation) {
  // x [2, 3, 6] -> MatMul(B [6, 4]): output channels on B's last axis.
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, 3, 6});
  *g->add_output() = value_info("y", {2, 3, 4});
  tensor_to_proto(outlier_tensor({6, 4}, 61), "B", g->add_initializer());
  *g->add_node() = node("MatMul", {"x", "B"}, {"y"}, "matmul");
  const Graph original = load(m);
  const std::map<std::string, Tensor> in{{"x", outlier_tensor({2, 3, 6}, 62)}};
  const QdqLayer layer{"matmul", QdqWeight{5, true, {}}, QdqActivation{6, 3.0f, false}};
  Graph q = original;
  insert_qdq(q, QdqPlan{{layer}});
  EXPECT_EQ(q.nodes[0].attr_int("axis", -7), 1);  // the weight's DequantizeLinear
  std::map<std::string, SimLayer> sim{{"matmul", SimLayer{layer.weight, 1, layer.activation}}};
  EXPECT_EQ(max_abs_difference(run_engine(q, in, true)[0], simulate(original, in, sim)[0]), 0.0);
}

TEST(PassesQdq, WeightsAbove8BitsStayFloatOnTheGrid) {
  const Graph g = load(conv_model(true));
  const std::map<std::string, Tensor> inputs{{"x", outlier_tensor({2, 4, 7, 7}, 5)}};
  for (bool pc : {false, true}) {
    QdqLayer layer{"conv", QdqWeight{12, pc, {}}, QdqActivation{12, 2.0f, true}};
    Graph q = g;
    insert_qdq(q, QdqPlan{{layer}});
    EXPECT_EQ(count_ops(q, "DequantizeLinear"), 0);
    EXPECT_EQ(count_ops(q, "QuantizeLinear"), 0);
    EXPECT_EQ(count_ops(q, "Round"), 1);
    std::map<std::string, SimLayer> sim{{"conv", SimLayer{layer.weight, 0, layer.activation}}};
    EXPECT_EQ(max_abs_difference(run_engine(q, inputs, true)[0], simulate(g, inputs, sim)[0]), 0.0);
  }
}

TEST(PassesQdq, LayersReadingOneActivationShareAChain) {
  // x -> Relu -> r; conv_a(r), conv_b(r) -> Add -> y.
  onnx::ModelProto m = model(13);
  auto* gp = m.mutable_graph();
  *gp->add_input() = value_info("x", {1, 4, 5, 5});
  *gp->add_output() = value_info("y", {1, 3, 3, 3});
  tensor_to_proto(outlier_tensor({3, 4, 3, 3}, 31), "Wa", gp->add_initializer());
  tensor_to_proto(outlier_tensor({3, 4, 3, 3}, 32), "Wb", gp->add_initializer());
  *gp->add_node() = node("Relu", {"x"}, {"r"}, "relu");
  *gp->add_node() = node("Conv", {"r", "Wa"}, {"a"}, "conv_a");
  *gp->add_node() = node("Conv", {"r", "Wb"}, {"b"}, "conv_b");
  *gp->add_node() = node("Add", {"a", "b"}, {"y"}, "add");
  const Graph g = load(m);
  const QdqActivation same{5, 1.5f, true};
  {
    Graph q = g;
    const QdqReport r = insert_qdq(q, QdqPlan{{QdqLayer{"conv_b", QdqWeight{}, same},
                                               QdqLayer{"conv_a", QdqWeight{}, same}}});
    EXPECT_EQ(r.activation_chains, 1);
    EXPECT_EQ(count_ops(q, "QuantizeLinear"), 1);
    EXPECT_EQ(count_ops(q, "Clip"), 1);
    EXPECT_EQ(count_ops(q, "DequantizeLinear"), 3);
    const std::map<std::string, Tensor> in{{"x", outlier_tensor({1, 4, 5, 5}, 6)}};
    std::map<std::string, SimLayer> sim{{"conv_a", SimLayer{QdqWeight{}, 0, same}},
                                        {"conv_b", SimLayer{QdqWeight{}, 0, same}}};
    EXPECT_EQ(max_abs_difference(run_engine(q, in, true)[0], simulate(g, in, sim)[0]), 0.0);
  }
  {
    Graph q = g;
    const QdqReport r = insert_qdq(q, QdqPlan{{QdqLayer{"conv_a", std::nullopt, same},
                                               QdqLayer{"conv_b", std::nullopt, QdqActivation{5, 1.5f, false}}}});
    EXPECT_EQ(r.activation_chains, 2);
    EXPECT_EQ(count_ops(q, "QuantizeLinear"), 2);
  }
}

// ---- opset and errors -----------------------------------------------------------------------

TEST(PassesQdq, PerChannelRaisesOpsetWhenTheOpsAllowIt) {
  Graph g = load(conv_model(true, /*opset=*/11));
  const QdqReport r = insert_qdq(g, QdqPlan{{QdqLayer{"conv", QdqWeight{4, true, {}}, QdqActivation{4, 2.0f, true}}}});
  EXPECT_EQ(r.opset_before, 11);
  EXPECT_EQ(r.opset_after, 13);
  EXPECT_EQ(g.opset(), 13);
  EXPECT_NO_THROW(export_onnx_bytes(g));

  // Dropout took its ratio as an attribute until opset 12: that model cannot reach 13, so
  // per-channel is refused; per-tensor works at its own opset.
  onnx::ModelProto m = conv_model(true, 11);
  auto dropout = node("Dropout", {"y"}, {"d"}, "dropout");
  auto* ratio = dropout.add_attribute();
  ratio->set_name("ratio");
  ratio->set_type(onnx::AttributeProto::FLOAT);
  ratio->set_f(0.5f);
  *m.mutable_graph()->add_node() = dropout;
  *m.mutable_graph()->add_output() = value_info("d", {2, 5, 7, 7});
  Graph old_dropout = load(m);
  EXPECT_THROW(insert_qdq(old_dropout, QdqPlan{{QdqLayer{"conv", QdqWeight{4, true, {}}, std::nullopt}}}), UserError);
  const QdqReport per_tensor = insert_qdq(old_dropout, QdqPlan{{QdqLayer{"conv", QdqWeight{4, false, {}}, std::nullopt}}});
  EXPECT_EQ(per_tensor.opset_after, 11);
}

// Ops whose form changed at opset 13 are converted when per-channel scales need it, keeping
// their meaning: Softmax-11 over a non-last axis normalizes over all axes from there on (spelled
// out as Flatten, Softmax, Reshape), Softmax over the last axis only gets its axis stated, and
// Squeeze's axes attribute becomes an input. The converted graph computes what the simulation
// of the original (opset 11) graph computes.
TEST(PassesQdq, PerChannelConvertsOpset13ChangesExactly) {
  onnx::ModelProto m = conv_model(true, 11);
  auto* g = m.mutable_graph();
  *g->add_node() = node("Softmax", {"y"}, {"s"}, "softmax_wide");  // axis 1 of [2, 5, 7, 7]
  *g->add_output() = value_info("s", {2, 5, 7, 7});
  auto mean = node("ReduceMean", {"y"}, {"mean"}, "mean");
  auto* axes = mean.add_attribute();
  axes->set_name("axes");
  axes->set_type(onnx::AttributeProto::INTS);
  axes->add_ints(1);
  *g->add_node() = mean;                                             // [2, 1, 7, 7]
  auto squeeze = node("Squeeze", {"mean"}, {"squeezed"}, "squeeze");
  auto* squeeze_axes = squeeze.add_attribute();
  squeeze_axes->set_name("axes");
  squeeze_axes->set_type(onnx::AttributeProto::INTS);
  squeeze_axes->add_ints(1);
  *g->add_node() = squeeze;                                          // [2, 7, 7]
  auto last = node("Softmax", {"squeezed"}, {"t"}, "softmax_last");
  auto* axis = last.add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(2);
  *g->add_node() = last;
  *g->add_output() = value_info("t", {2, 7, 7});
  const Graph original = load(m);
  Graph q = original;
  const QdqWeight weight{4, true, {}};
  const QdqReport r = insert_qdq(q, QdqPlan{{QdqLayer{"conv", weight, std::nullopt}}});
  EXPECT_EQ(r.opset_after, 13);
  EXPECT_EQ(count_ops(q, "Flatten"), 1);  // only the Softmax over a non-last axis is spelled out
  EXPECT_EQ(count_ops(q, "Reshape"), 1);
  EXPECT_NO_THROW(export_onnx_bytes(q));

  const std::map<std::string, Tensor> in{{"x", outlier_tensor({2, 4, 7, 7}, 5)}};
  const std::map<std::string, SimLayer> sim{{"conv", SimLayer{weight, 0, std::nullopt}}};
  const std::vector<Tensor> expected = simulate(original, in, sim);
  for (bool reference : {true, false}) {
    const std::vector<Tensor> actual = run_engine(q, in, reference);
    ASSERT_EQ(actual.size(), expected.size());
    for (size_t o = 0; o < expected.size(); ++o)
      EXPECT_TRUE(tensors_close(actual[o], expected[o], 1e-5, 1e-5)) << "output " << o;
  }
}

TEST(PassesQdq, ClipAttributesBecomeInputsWhenOpset10IsRaised) {
  // opset 10: Clip carries min/max attributes; a 10-bit activation needs Round (opset 11).
  onnx::ModelProto m = model(10);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 4});
  *g->add_output() = value_info("y", {1, 2});
  tensor_to_proto(outlier_tensor({4, 2}, 41), "B", g->add_initializer());
  auto clip = node("Clip", {"x"}, {"c"}, "clip");
  for (auto [key, value] : {std::pair{"min", -0.5f}, std::pair{"max", 0.5f}}) {
    auto* a = clip.add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(value);
  }
  *g->add_node() = clip;
  *g->add_node() = node("MatMul", {"c", "B"}, {"y"}, "matmul");
  const Graph original = load(m);
  const std::map<std::string, Tensor> in{{"x", outlier_tensor({1, 4}, 7)}};
  Graph q = original;
  insert_qdq(q, QdqPlan{{QdqLayer{"matmul", QdqWeight{6, false, {}}, QdqActivation{10, 0.5f, false}}}});
  EXPECT_EQ(q.opset(), 11);
  EXPECT_EQ(q.nodes[0].inputs.size(), 3u);  // the model's Clip, now with min/max inputs
  std::map<std::string, SimLayer> sim{{"matmul", SimLayer{QdqWeight{6, false, {}}, 1, QdqActivation{10, 0.5f, false}}}};
  EXPECT_EQ(max_abs_difference(run_engine(q, in, true)[0], simulate(original, in, sim)[0]), 0.0);
}

TEST(PassesQdq, BadPlansAreUserErrors) {
  const Graph g = load(conv_model(true));
  auto fails = [&](QdqLayer layer) {
    Graph q = g;
    EXPECT_THROW(insert_qdq(q, QdqPlan{{layer}}), UserError) << layer.node;
  };
  fails({"nope", QdqWeight{}, std::nullopt});
  fails({"relu", QdqWeight{}, std::nullopt});
  fails({"conv", QdqWeight{1, false, {}}, std::nullopt});
  fails({"conv", QdqWeight{17, false, {}}, std::nullopt});
  fails({"conv", QdqWeight{8, true, {1.0f, 2.0f}}, std::nullopt});   // 5 channels
  fails({"conv", QdqWeight{8, false, {-1.0f}}, std::nullopt});
  fails({"conv", std::nullopt, QdqActivation{8, NAN, false}});
  Graph twice = g;
  EXPECT_THROW(insert_qdq(twice, QdqPlan{{QdqLayer{"conv", QdqWeight{}, std::nullopt},
                                          QdqLayer{"conv", QdqWeight{}, std::nullopt}}}),
               UserError);
  // A quantized weight is no longer a float constant: a second pass over it is refused.
  Graph again = g;
  insert_qdq(again, QdqPlan{{QdqLayer{"conv", QdqWeight{}, std::nullopt}}});
  EXPECT_THROW(insert_qdq(again, QdqPlan{{QdqLayer{"conv", QdqWeight{}, std::nullopt}}}), UserError);
}

// ---- ONNX Runtime on the exported file --------------------------------------------------------

// ONNX Runtime (graph optimizations on, as a user would run it) against our engine (reference
// kernels). Bound: 1e-5 of the output's scale. One step of any quantizer here moves the output
// by far more (a 8-bit step is ~1e-2 of its input's scale), so passing means both computed the
// same integers at every quantizer and differ only by float summation order (measured: ~1e-7
// relative). A float sum landing within rounding noise of a grid boundary would break this;
// with these seeds none does.
TEST(PassesQdq, OnnxRuntimeAgreesOnExportedSmallCnn) {
  if (!ort_available())
    OCS_SKIP_OR_FAIL("onnxruntime-node not found in " << ocs_cache() / "ort" << " (run scripts/fetch_models.sh)");
  const Graph g = import_onnx_file(small_cnn_path());
  const std::map<std::string, Tensor> inputs{{"input", outlier_tensor({1, 1, 28, 28}, 4)}};
  const fs::path dir = fs::temp_directory_path() / fmt::format("ocs_qdq_ort_{}", getpid());
  for (const GridCase& c : grid_cases()) {
    SCOPED_TRACE(case_name(c));
    const auto max_of = calibrate(g, inputs);
    auto [plan, sim] = make_plan(g, max_of, {c.wbits, c.abits, c.per_channel, c.use_unsigned, 0.7f},
                                 small_cnn_nonnegative_inputs(g));
    Graph q = g;
    insert_qdq(q, plan);
    const Tensor ours = run_engine(q, inputs, true)[0];
    const Tensor ort = run_ort(q, inputs, dir / case_name(c));
    const double diff = max_abs_difference(ours, ort);
    EXPECT_LE(diff, 1e-5 * max_abs(ours)) << "max |ocs - ort| = " << diff;
    if (std::getenv("OCS_VERBOSE")) fmt::print("{}: max |ocs - ort| = {:.3g} (max |out| {:.3g})\n", case_name(c), diff, max_abs(ours));
  }
  fs::remove_all(dir);
}

TEST(PassesQdq, OnnxRuntimeAgreesOnExportedConvAndGemm) {
  if (!ort_available())
    OCS_SKIP_OR_FAIL("onnxruntime-node not found in " << ocs_cache() / "ort" << " (run scripts/fetch_models.sh)");
  const fs::path dir = fs::temp_directory_path() / fmt::format("ocs_qdq_ort_small_{}", getpid());
  for (const GridCase& c : grid_cases()) {
    SCOPED_TRACE(case_name(c));
    for (int which = 0; which < 2; ++which) {
      const Graph g = load(which == 0 ? conv_model(true) : gemm_model(true));
      const std::map<std::string, Tensor> inputs{
          {"x", which == 0 ? outlier_tensor({2, 4, 7, 7}, 8) : outlier_tensor({3, 8}, 9)}};
      auto [plan, sim] = make_plan(g, calibrate(g, inputs),
                                   {c.wbits, c.abits, c.per_channel, c.use_unsigned, 0.7f}, {"r"});
      Graph q = g;
      insert_qdq(q, plan);
      const Tensor ours = run_engine(q, inputs, true)[0];
      const Tensor ort = run_ort(q, inputs, dir / fmt::format("{}_{}", case_name(c), which));
      const double diff = max_abs_difference(ours, ort);
      EXPECT_LE(diff, 1e-5 * max_abs(ours)) << "max |ocs - ort| = " << diff;
      if (std::getenv("OCS_VERBOSE")) fmt::print("{} {}: max |ocs - ort| = {:.3g} (max |out| {:.3g})\n", case_name(c), which, diff, max_abs(ours));
    }
  }
  fs::remove_all(dir);
}

// ---- the deployable layout ------------------------------------------------------------------

// The small CNN (BatchNorm folded as the recipe does) in the Deploy layout: every Conv's input
// and its ReLU'd output quantized, biases as int32 codes; the reference kernels give exactly the
// simulation, codes are uint8 everywhere, and every Conv reads DequantizeLinear on all inputs.
Graph folded_small_cnn() {
  Graph g = import_onnx_file(small_cnn_path());
  fold_batchnorm(g);
  return g;
}

TEST(PassesQdq, DeployLayoutMatchesSimulation) {
  const Graph g = folded_small_cnn();
  const std::map<std::string, Tensor> inputs{{"input", outlier_tensor({1, 1, 28, 28}, 41)}};
  const auto max_of = calibrate(g, inputs);
  for (const GridCase& c : grid_cases()) {
    SCOPED_TRACE(case_name(c));
    auto [plan, sim] = make_plan(g, max_of, {c.wbits, c.abits, c.per_channel, c.use_unsigned, 0.7f},
                                 small_cnn_nonnegative_inputs(g));
    plan.layout = QdqLayout::Deploy;
    std::map<std::string, QdqActivation> points;
    for (const Node& node : g.nodes)
      if (node.op_type == "Relu") {
        const std::string& v = g.values[node.outputs[0]].name;
        points[v] = QdqActivation{c.abits, 0.6f * max_of.at(v), c.use_unsigned};
      }
    // A layer's input is quantized for all its readers (the residual Add reads the pooled input
    // of conv1 too), on the layer's grid: one grid per tensor. (The simulation quantizes it again
    // at the layer, which changes nothing: the grid's values are fixed points of the quantizer.)
    std::map<std::string, QdqActivation> inputs_of_layers;
    for (const QdqLayer& l : plan.layers)
      for (const Node& n : g.nodes)
        if (n.name == l.node) inputs_of_layers[g.values[n.inputs[0]].name] = *l.activation;
    for (const auto& [v, a] : points)
      if (!inputs_of_layers.count(v)) plan.tensors.push_back({v, a});
    for (const auto& [v, a] : inputs_of_layers) points[v] = a;
    Graph q = g;
    const QdqReport report = insert_qdq(q, plan);
    q.verify();
    EXPECT_EQ(report.biases_int32, 5);  // every layer has one once BatchNorm is folded
    for (const Node& node : q.nodes) {
      if (node.op_type == "QuantizeLinear") {
        EXPECT_EQ(q.values[node.outputs[0]].dtype, c.abits <= 8 ? DType::UInt8 : DType::Float32) << node.name;
      }
      if (node.op_type != "Conv" && node.op_type != "Gemm") continue;
      for (ValueId in : node.inputs)
        EXPECT_EQ(q.nodes[*q.producer(in)].op_type, "DequantizeLinear") << node.name;
    }
    const auto want = simulate(g, inputs, sim, points, /*int32_bias=*/true);
    EXPECT_EQ(max_abs_difference(run_engine(q, inputs, true)[0], want[0]), 0.0);
    EXPECT_LE(max_abs_difference(run_engine(q, inputs, false)[0], want[0]), 1e-3 * max_abs(want[0]));
  }
}

// A signed grid in uint8 codes (zero point 2^(b-1)) gives exactly the int8 grid's values.
TEST(PassesQdq, DeploySignedGridEqualsTheInt8Grid) {
  const Graph g = load(conv_model(/*relu_first=*/false));
  const std::map<std::string, Tensor> inputs{{"x", outlier_tensor({2, 4, 7, 7}, 43)}};
  for (int bits : {8, 6, 3}) {
    QdqLayer layer{"conv", QdqWeight{8, false, {}}, QdqActivation{bits, 2.5f, false}};
    Graph inputs_layout = g, deploy = g;
    insert_qdq(inputs_layout, QdqPlan{{layer}});
    QdqPlan plan{{layer}};
    plan.layout = QdqLayout::Deploy;
    // Without a bias the two layouts differ only in the code type.
    for (Graph* q : {&inputs_layout, &deploy}) {
      for (Node& n : q->nodes) if (n.op_type == "Conv") n.inputs.resize(2);
    }
    insert_qdq(deploy, plan);
    int zero_point = -1;
    for (const Node& n : deploy.nodes)
      if (n.op_type == "QuantizeLinear") zero_point = static_cast<int>(deploy.values[n.inputs[2]].constant->to_double_vector()[0]);
    EXPECT_EQ(zero_point, 1 << (bits - 1));
    EXPECT_EQ(max_abs_difference(run_engine(deploy, inputs, true)[0], run_engine(inputs_layout, inputs, true)[0]), 0.0)
        << bits << " bits";
  }
}

// A constant-index Gather in front of a layer (weight OCS) moves onto the uint8 codes, as Concat
// and Slices.
TEST(PassesQdq, DeployMovesTheOcsGatherOntoTheCodes) {
  onnx::ModelProto m = model(13);
  auto* gp = m.mutable_graph();
  *gp->add_input() = value_info("x", {1, 4, 5, 5});
  *gp->add_output() = value_info("y", {1, 3, 5, 5});
  tensor_to_proto(outlier_tensor({3, 6, 1, 1}, 44), "W", gp->add_initializer());
  tensor_to_proto(Tensor::from_vector<int64_t>({6}, {0, 1, 2, 3, 2, 0}), "idx", gp->add_initializer());
  auto gather = node("Gather", {"x", "idx"}, {"xg"}, "gather");
  auto* axis = gather.add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(1);
  *gp->add_node() = gather;
  *gp->add_node() = node("Conv", {"xg", "W"}, {"y"}, "conv");
  const Graph g = load(m);
  const std::map<std::string, Tensor> inputs{{"x", outlier_tensor({1, 4, 5, 5}, 45)}};
  QdqLayer layer{"conv", QdqWeight{8, false, {}}, QdqActivation{8, 2.0f, false}};
  QdqPlan plan{{layer}};
  plan.layout = QdqLayout::Deploy;
  Graph q = g;
  const QdqReport report = insert_qdq(q, plan);
  EXPECT_EQ(report.gathers_on_codes, 1);
  // [0, 1, 2, 3, 2, 0] on the codes of a Conv's input: a 1x1 Conv with one-hot int8 rows between
  // the codes' DequantizeLinear and a QuantizeLinear on the same grid (passes/copy_convs.h).
  int copy_convs = 0;
  for (const Node& n : q.nodes) {
    EXPECT_NE(n.op_type, "Gather");
    EXPECT_NE(n.op_type, "Slice");
    if (n.op_type != "Conv" || n.name == "conv") continue;  // "conv" is the split layer
    ++copy_convs;
    const Node& w = q.nodes[*q.producer(n.inputs[1])];
    ASSERT_EQ(w.op_type, "DequantizeLinear");
    const Tensor& rows = *q.values[w.inputs[0]].constant;
    ASSERT_EQ(rows.dtype(), DType::Int8);
    EXPECT_EQ(rows.shape(), (Shape{6, 4, 1, 1}));
    const std::vector<int64_t> idx = {0, 1, 2, 3, 2, 0};
    for (int64_t r = 0; r < 6; ++r)
      for (int64_t c = 0; c < 4; ++c) EXPECT_EQ(rows.data<int8_t>()[r * 4 + c], c == idx[r] ? 1 : 0) << r << ", " << c;
    const Node& in = q.nodes[*q.producer(n.inputs[0])];
    EXPECT_EQ(in.op_type, "DequantizeLinear");
    EXPECT_EQ(q.values[in.inputs[0]].dtype, DType::UInt8);
    const auto readers = q.consumers(n.outputs[0]);
    ASSERT_EQ(readers.size(), 1u);
    EXPECT_EQ(q.nodes[readers[0]].op_type, "QuantizeLinear");
    EXPECT_EQ(q.nodes[readers[0]].inputs[1], in.inputs[1]);  // the same grid
  }
  EXPECT_EQ(copy_convs, 1);
  // Our engine reads it back as a Gather on the codes (and the function does not change).
  Graph read = q;
  EXPECT_EQ(read_copy_convs(read), 1);
  read.verify();
  EXPECT_EQ(count_ops(read, "Gather"), 1);
  EXPECT_EQ(count_ops(read, "Conv"), 1);
  EXPECT_EQ(max_abs_difference(run_engine(read, inputs, true)[0], run_engine(q, inputs, true)[0]), 0.0);
  // x's own DequantizeLinear had no reader left (the copies read the codes): it is gone.
  for (const Node& n : q.nodes)
    EXPECT_TRUE(!q.consumers(n.outputs[0]).empty() || q.is_graph_output(n.outputs[0])) << n.name << " is unread";
  // Nor is any constant (the Gather's indices went with it; an exported file would keep them).
  for (ValueId v = 0; v < static_cast<ValueId>(q.values.size()); ++v)
    if (q.values[v].constant) EXPECT_FALSE(q.consumers(v).empty()) << q.values[v].name << " is unread";
  std::map<std::string, SimLayer> sim{{"conv", SimLayer{layer.weight, 0, layer.activation}}};
  EXPECT_EQ(max_abs_difference(run_engine(q, inputs, true)[0], simulate(g, inputs, sim)[0]), 0.0);
}

}  // namespace
}  // namespace ocs
