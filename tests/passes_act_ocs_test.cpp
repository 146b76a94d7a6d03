// ocs_split_activations: the greedy channel choice and the split vectors against hand-computed
// values, float outputs unchanged (max |after - before| <= 1e-5 * max |before|: duplicated
// channels only reorder the layer's float sum, and the QA offsets round once per half), and
// the point of QA splitting: after QuantizeLinear/DequantizeLinear on the split activation, the
// layer sees each split channel quantized on the finer grid without being clipped.
#include "engine/session.h"
#include "io/npy.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"
#include "ort_runner.h"
#include "passes/insert_qdq.h"
#include "passes/ocs_split_activations.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <unistd.h>

namespace ocs {
namespace {
using namespace ocs::testing;
namespace fs = std::filesystem;

constexpr double kFloatTolerance = 1e-5;  // relative to max |output|

// Normal values with every 13th times 5: the outliers activation OCS is about.
Tensor outlier_tensor(Shape shape, uint32_t seed) { return random_normal_tensor(std::move(shape), seed, 1.0f, {13, 5.0f}); }

Graph load(const onnx::ModelProto& m) { return import_onnx_bytes(serialize(m), ".", "test model"); }

void add_int_attribute(onnx::NodeProto& n, const std::string& key, int64_t value) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

// x [2, C, 6, 6] -> Conv(W [5, C, 3, 3], b, pads 1) -> y
onnx::ModelProto conv_model(int64_t channels, int64_t group = 1) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, channels, 6, 6});
  const int64_t out = group == 1 ? 5 : channels;
  *g->add_output() = value_info("y", {2, out, 6, 6});
  tensor_to_proto(outlier_tensor({out, channels / group, 3, 3}, 51), "W", g->add_initializer());
  tensor_to_proto(outlier_tensor({out}, 52), "b", g->add_initializer());
  auto conv = node("Conv", {"x", "W", "b"}, {"y"}, "conv");
  auto* pads = conv.add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int k = 0; k < 4; ++k) pads->add_ints(1);
  if (group != 1) add_int_attribute(conv, "group", group);
  *g->add_node() = conv;
  return m;
}

// Gemm over K = 8 input channels, N = 6 outputs, M = 3 rows, with either operand transposed.
onnx::ModelProto gemm_model(bool trans_a, bool trans_b) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", trans_a ? Shape{8, 3} : Shape{3, 8});
  *g->add_output() = value_info("y", {3, 6});
  tensor_to_proto(outlier_tensor(trans_b ? Shape{6, 8} : Shape{8, 6}, 53), "B", g->add_initializer());
  tensor_to_proto(outlier_tensor({6}, 54), "C", g->add_initializer());
  auto gemm = node("Gemm", {"x", "B", "C"}, {"y"}, "gemm");
  add_int_attribute(gemm, "transA", trans_a);
  add_int_attribute(gemm, "transB", trans_b);
  *g->add_node() = gemm;
  return m;
}

// x [2, 3, 6] -> MatMul(B [6, 4]) -> y [2, 3, 4]
onnx::ModelProto matmul_model() {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, 3, 6});
  *g->add_output() = value_info("y", {2, 3, 4});
  tensor_to_proto(outlier_tensor({6, 4}, 55), "B", g->add_initializer());
  *g->add_node() = node("MatMul", {"x", "B"}, {"y"}, "matmul");
  return m;
}

int count_ops(const Graph& g, const std::string& op) {
  int n = 0;
  for (const Node& node : g.nodes) n += node.op_type == op;
  return n;
}

std::vector<Tensor> run(const Graph& g, const std::map<std::string, Tensor>& inputs, bool reference = true) {
  SessionOptions options;
  options.reference_kernels_only = reference;
  Session session(std::make_shared<const Graph>(g), options);
  return session.run(inputs);
}

// max|x| per index of `axis`.
std::vector<float> channel_max(const Tensor& x, int64_t axis) {
  int64_t inner = 1;
  for (int64_t d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  std::vector<float> m(static_cast<size_t>(x.dim(axis)), 0.0f);
  const std::vector<float> v = x.to_vector<float>();
  for (size_t k = 0; k < v.size(); ++k) {
    const auto c = static_cast<size_t>((static_cast<int64_t>(k) / inner) % x.dim(axis));
    m[c] = std::max(m[c], std::fabs(v[k]));
  }
  return m;
}

// A request with the fields these tests vary (the threshold stays the split maximum).
ActivationSplitRequest split_request(std::string node, std::vector<float> channel_max, double ratio,
                                     OcsSplitMode mode = OcsSplitMode::QuantAware,
                                     int bits = 8, bool is_unsigned = false) {
  ActivationSplitRequest r;
  r.node = std::move(node);
  r.channel_max = std::move(channel_max);
  r.expand_ratio = ratio;
  r.mode = mode;
  r.bits = bits;
  r.is_unsigned = is_unsigned;
  return r;
}

const Tensor& constant_of(const Graph& g, ValueId id) {
  EXPECT_TRUE(g.values[id].constant) << g.values[id].name;
  return *g.values[id].constant;
}

// ---- hand-computed ----------------------------------------------------------------------------

TEST(PassesActOcs, GreedyChoiceAndSplitVectorsMatchHandComputedValues) {
  // channel max [1, 8, 3, 5], r = 0.75 -> k = ceil(3) = 3 splits:
  //   split 1 (max 8): [1, 4, 3, 5, 4];  split 3 (max 5): [1, 4, 3, 2.5, 4, 2.5];
  //   split position 1 again (max 4, the lowest position of the two 4s): [1, 2, 3, 2.5, 4, 2.5, 2]
  // Sources [0, 1, 2, 3, 1, 3, 1]; multipliers [1, 1/4, 1, 1/2, 1/2, 1/2, 1/4]; threshold 4.
  // QA offsets in steps D: channel 1: -1/4 then (-1/4)/2 - 1/4 = -3/8 in place and
  // (-1/4)/2 + 1/4 = 1/8 appended, the first appended half keeps +1/4; channel 3: -1/4, +1/4.
  // 4-bit signed: D = 4 / 7.
  for (OcsSplitMode mode : {OcsSplitMode::Naive, OcsSplitMode::QuantAware}) {
    Graph g = load(conv_model(4));
    const Tensor w_before = *g.values[g.find_value("W")].constant;
    const ActivationSplitRequest request = split_request("conv", {1, 8, 3, 5}, 0.75, mode, 4);
    const auto results = ocs_split_activations(g, {request});
    ASSERT_EQ(results.size(), 1u);
    const ActivationSplitResult& r = results[0];
    EXPECT_EQ(r.split_channels, (std::vector<int64_t>{1, 3, 1}));
    EXPECT_EQ(r.channels_before, 4);
    EXPECT_EQ(r.channels_after, 7);
    EXPECT_EQ(r.threshold_before, 8.0f);
    EXPECT_EQ(r.threshold_after, 4.0f);

    const bool qa = mode == OcsSplitMode::QuantAware;
    EXPECT_EQ(count_ops(g, "Gather"), 1);
    EXPECT_EQ(count_ops(g, "Mul"), 1);
    EXPECT_EQ(count_ops(g, "Add"), qa ? 1 : 0);
    ASSERT_EQ(g.nodes[0].op_type, "Gather");
    EXPECT_EQ(g.nodes[0].attr_int("axis", 0), 1);
    EXPECT_EQ(constant_of(g, g.nodes[0].inputs[1]).to_vector<int64_t>(),
              (std::vector<int64_t>{0, 1, 2, 3, 1, 3, 1}));
    const Tensor& m = constant_of(g, g.nodes[1].inputs[1]);
    EXPECT_EQ(m.shape(), (Shape{7, 1, 1}));
    EXPECT_EQ(m.to_vector<float>(), (std::vector<float>{1, 0.25f, 1, 0.5f, 0.5f, 0.5f, 0.25f}));
    if (qa) {
      const float d = static_cast<float>(4.0 / 7.0);
      EXPECT_EQ(r.step, d);
      const std::vector<double> alpha{0, -0.375, 0, -0.25, 0.25, 0.25, 0.125};
      const std::vector<float> a = constant_of(g, g.nodes[2].inputs[1]).to_vector<float>();
      ASSERT_EQ(a.size(), alpha.size());
      for (size_t k = 0; k < a.size(); ++k) EXPECT_FLOAT_EQ(a[k], static_cast<float>(alpha[k] * d)) << k;
    } else {
      EXPECT_EQ(r.step, 0.0f);
    }
    // The weight's input channels are duplicated, not halved; the old weight is gone.
    const Node& conv = g.nodes.back();
    const Tensor& w = constant_of(g, conv.inputs[1]);
    EXPECT_EQ(w.shape(), (Shape{5, 7, 3, 3}));
    EXPECT_EQ(g.find_value("W"), kNoValue);
    const std::vector<int64_t> sources{0, 1, 2, 3, 1, 3, 1};
    const float* after = w.data<float>();
    const float* before = w_before.data<float>();
    for (int64_t o = 0; o < 5; ++o)
      for (int64_t j = 0; j < 7; ++j)
        for (int64_t k = 0; k < 9; ++k)
          ASSERT_EQ(after[(o * 7 + j) * 9 + k], before[(o * 4 + sources[j]) * 9 + k]);
    g.verify();
  }
}

TEST(PassesActOcs, RatioZeroChangesNothingAndRatiosRoundUp) {
  Graph g = load(conv_model(4));
  const size_t nodes = g.nodes.size();
  auto results = ocs_split_activations(g, {split_request("conv", {1, 2, 3, 4}, 0.0)});
  EXPECT_TRUE(results[0].split_channels.empty());
  EXPECT_EQ(g.nodes.size(), nodes);
  // Any r > 0 splits at least one channel; 0.1 * 30 is 3 splits, not 4.
  Graph small = load(conv_model(30));
  results = ocs_split_activations(small, {split_request("conv", std::vector<float>(30, 1.0f), 0.1)});
  EXPECT_EQ(results[0].split_channels.size(), 3u);
  Graph one = load(conv_model(4));
  results = ocs_split_activations(one, {split_request("conv", {1, 2, 3, 4}, 0.01)});
  EXPECT_EQ(results[0].split_channels, (std::vector<int64_t>{3}));
}

// ---- float outputs unchanged --------------------------------------------------------------

void expect_float_identical(const Graph& g, const Tensor& x, int64_t axis, double ratio) {
  const auto want = run(g, {{"x", x}});
  for (OcsSplitMode mode : {OcsSplitMode::Naive, OcsSplitMode::QuantAware}) {
    SCOPED_TRACE(mode == OcsSplitMode::Naive ? "naive" : "qa");
    Graph split = g;
    const auto results = ocs_split_activations(split, {split_request(g.nodes[0].name, channel_max(x, axis), ratio, mode, 5)});
    split.verify();
    EXPECT_GT(results[0].channels_after, results[0].channels_before);
    EXPECT_LT(results[0].threshold_after, results[0].threshold_before);
    for (bool reference : {true, false}) {
      const auto got = run(split, {{"x", x}}, reference);
      EXPECT_LT(max_relative_difference(want[0], got[0]), kFloatTolerance) << (reference ? "reference" : "fast");
    }
  }
}

TEST(PassesActOcs, ConvOutputUnchanged) {
  expect_float_identical(load(conv_model(6)), outlier_tensor({2, 6, 6, 6}, 1), 1, 0.5);
}

TEST(PassesActOcs, GemmOutputUnchanged) {
  for (bool trans_a : {false, true})
    for (bool trans_b : {false, true}) {
      SCOPED_TRACE(fmt::format("transA {} transB {}", trans_a, trans_b));
      const Tensor x = outlier_tensor(trans_a ? Shape{8, 3} : Shape{3, 8}, 2);
      expect_float_identical(load(gemm_model(trans_a, trans_b)), x, trans_a ? 0 : 1, 0.3);
    }
}

TEST(PassesActOcs, MatMulOutputUnchanged) {
  expect_float_identical(load(matmul_model()), outlier_tensor({2, 3, 6}, 3), 2, 0.4);
}

// All five layers of the small CNN at once (the stem has one input channel: split once).
TEST(PassesActOcs, SmallCnnOutputUnchanged) {
  const Graph g = import_onnx_file(fs::path(OCS_SOURCE_DIR) / "tests" / "data" / "small_cnn.onnx");
  const std::map<std::string, Tensor> inputs{{"input", outlier_tensor({1, 1, 28, 28}, 4)}};
  // Per-channel max of every layer input (axis 1: NCHW for Conv, [N, K] for the Gemm).
  std::map<std::string, std::vector<float>> max_of;
  Session calib(std::make_shared<const Graph>(g));
  const auto want = calib.run(inputs, [&](const Graph& graph, ValueId id, const Tensor& t) {
    if (t.dtype() == DType::Float32 && t.rank() >= 2) max_of[graph.values[id].name] = channel_max(t, 1);
  });
  for (OcsSplitMode mode : {OcsSplitMode::Naive, OcsSplitMode::QuantAware}) {
    Graph split = g;
    std::vector<ActivationSplitRequest> requests;
    for (const Node& node : g.nodes)
      if (node.op_type == "Conv" || node.op_type == "Gemm")
        requests.push_back(split_request(node.name, max_of.at(g.values[node.inputs[0]].name), 0.1, mode, 6));
    const auto results = ocs_split_activations(split, requests);
    EXPECT_EQ(results.size(), 5u);  // stem, conv1, conv2, down, fc
    EXPECT_EQ(count_ops(split, "Gather"), 5);
    EXPECT_EQ(count_ops(split, "Add"), mode == OcsSplitMode::QuantAware ? 6 : 1);  // + the residual Add
    for (bool reference : {true, false})
      EXPECT_LT(max_relative_difference(want[0], run(split, inputs, reference)[0]), kFloatTolerance);
  }
}

// ---- quantization-aware splitting with the quantizer in place ------------------------------

// x -> Conv, 4-bit signed activations. After a QA split and QDQ with the split threshold t',
// the layer sees x_hat with
//   split channels:   D * round(x / D)                      (no clamp: the halves carry it)
//   other channels:   D * clamp(round(x / D), -8, 7)
// D = fl(t' / 7): the quantized halves add up to the quantized unsplit value (docs/METHOD.md).
// Simulated here by feeding x_hat to the unsplit float Conv. Tolerance 1e-5 relative: float
// summation order, plus the rounding of x/2 -+ D/4, which can move a value lying within float
// noise of a rounding boundary by one step (none does with this seed).
TEST(PassesActOcs, QuantAwareHalvesSumToTheFinerGrid) {
  const Graph g = load(conv_model(6));
  const Tensor x = outlier_tensor({2, 6, 6, 6}, 5);
  const std::vector<float> maxima = channel_max(x, 1);
  for (OcsSplitMode mode : {OcsSplitMode::QuantAware, OcsSplitMode::Naive}) {
    Graph split = g;
    const auto results = ocs_split_activations(split, {split_request("conv", maxima, 0.5, mode, 4)});
    const ActivationSplitResult& r = results[0];
    insert_qdq(split, QdqPlan{{QdqLayer{"conv", std::nullopt, QdqActivation{4, r.threshold_after, false}}}});
    split.verify();

    const float d = static_cast<float>(static_cast<double>(r.threshold_after) / 7.0);
    std::vector<float> x_hat = x.to_vector<float>();
    for (size_t k = 0; k < x_hat.size(); ++k) {
      const int64_t c = (static_cast<int64_t>(k) / 36) % 6;
      const bool was_split = std::count(r.split_channels.begin(), r.split_channels.end(), c) > 0;
      float q = std::nearbyint(x_hat[k] / d);
      if (!was_split) q = std::clamp(q, -8.0f, 7.0f);
      x_hat[k] = q * d;
    }
    const auto want = run(g, {{"x", Tensor::from_vector<float>(x.shape(), x_hat)}});
    const double diff = max_relative_difference(want[0], run(split, {{"x", x}})[0]);
    if (mode == OcsSplitMode::QuantAware) {
      EXPECT_LT(diff, kFloatTolerance);
    } else {
      // The naive halves round separately; their sum misses by a step somewhere.
      EXPECT_GT(diff, 1e-3);
    }
  }
}

// ---- errors -----------------------------------------------------------------------------------

TEST(PassesActOcs, BadRequestsAreUserErrors) {
  const Graph g = load(conv_model(4));
  auto fails = [&](const Graph& base, ActivationSplitRequest r) {
    Graph q = base;
    EXPECT_THROW(ocs_split_activations(q, {r}), UserError) << r.node;
  };
  fails(g, split_request("nope", {1, 2, 3, 4}, 0.5));
  fails(g, split_request("conv", {1, 2, 3}, 0.5));          // 4 channels
  fails(g, split_request("conv", {1, 2, 3, NAN}, 0.5));
  fails(g, split_request("conv", {1, 2, 3, 4}, -0.5));
  fails(g, split_request("conv", {1, 2, 3, 4}, 0.5, OcsSplitMode::QuantAware, 1));
  fails(load(conv_model(4, /*group=*/2)), split_request("conv", {1, 2, 3, 4}, 0.5));
  Graph quantized = g;  // after insert_qdq the weight is no longer a float constant
  insert_qdq(quantized, QdqPlan{{QdqLayer{"conv", QdqWeight{}, std::nullopt}}});
  fails(quantized, split_request("conv", {1, 2, 3, 4}, 0.5));
}

// ---- ONNX Runtime on the exported split + QDQ model -------------------------------------------

// The split layer (Gather/Mul/Add) followed by 5-bit QDQ, exported and run by ONNX Runtime,
// agrees with our engine to 1e-4 of the output's scale (see passes_qdq_test.cpp for the bound).
TEST(PassesActOcs, OnnxRuntimeAgreesOnExportedSplitModel) {
  if (!ort_available())
    OCS_SKIP_OR_FAIL("onnxruntime-node not found in " << ocs_cache() / "ort" << " (run scripts/fetch_models.sh)");
  const Graph g = load(conv_model(6));
  const Tensor x = outlier_tensor({2, 6, 6, 6}, 6);
  Graph split = g;
  const auto r = ocs_split_activations(split, {split_request("conv", channel_max(x, 1), 0.5, OcsSplitMode::QuantAware, 5)});
  insert_qdq(split, QdqPlan{{QdqLayer{"conv", QdqWeight{6, true, {}}, QdqActivation{5, r[0].threshold_after, false}}}});
  const Tensor ours = run(split, {{"x", x}})[0];

  const fs::path dir = fs::temp_directory_path() / fmt::format("ocs_act_ocs_ort_{}", getpid());
  fs::create_directories(dir);
  export_onnx_file(split, dir / "model.onnx", true);
  write_npy(dir / "x.npy", x);
  const std::string command = fmt::format("node '{}/scripts/ort_run.js' '{}' '{}' 'x={}' 2>'{}'",
                                          OCS_SOURCE_DIR, (dir / "model.onnx").string(), (dir / "out").string(),
                                          (dir / "x.npy").string(), (dir / "ort.log").string());
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const Tensor ort = read_npy(dir / "out" / "y.npy");
  EXPECT_LT(max_relative_difference(ours, ort), 1e-4);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ocs
