// ocs_split_weights: the split model computes the same function (run before and after), has the
// expected Gathers and widened weights, survives export and re-import, and its weight SQNR at a
// low bit width rises with the expand ratio.
// Metric: max |before - after| / max |before| < 1e-5. The QA halves are each rounded once to
// float32 and the layer sums C_in + k products instead of C_in, so outputs move by float ulps.
#include "passes/fold_batchnorm.h"
#include "passes/ocs_split_weights.h"
#include "passes/graph_edit.h"
#include "quant/fake_quant.h"

#include "model_builder.h"
#include "passes_test_util.h"

#include <nlohmann/json.hpp>

namespace ocs {
namespace {

using namespace ocs::testing;

constexpr double kTolerance = 1e-5;
// For oneDNN kernels on PP-OCR rec only: see the test.
constexpr double kFastKernelTolerance = 1e-4;

void expect_same_outputs(const Graph& before, const Graph& after,
                         const std::map<std::string, Tensor>& inputs, double tolerance = kTolerance) {
  const std::vector<Tensor> want = run_graph(before, inputs);
  const std::vector<Tensor> got = run_graph(after, inputs);
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    const double diff = max_relative_difference(want[i], got[i]);
    EXPECT_LT(diff, tolerance) << "output " << i;
  }
}

const OcsWeightLayerReport* find_layer(const OcsSplitWeightsReport& report, const std::string& node) {
  for (const auto& layer : report.layers)
    if (layer.node == node) return &layer;
  return nullptr;
}

void add_int_attribute(onnx::NodeProto& n, const std::string& key, int64_t value) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

// A weight with an outlier, so that splitting matters.
Tensor outlier_weight(Shape shape, uint32_t seed, int64_t flat_index, float value) {
  Tensor w = random_tensor(std::move(shape), seed, -0.5f, 0.5f);
  w.data<float>()[flat_index] = value;
  return w;
}

// x [1, 4, 7, 7] -> conv (group 1) [1, 8, 5, 5] -> depthwise conv [1, 8, 3, 3] -> grouped conv (1x1) -> reshape [2, 4, 9] -> MatMul [.., K] x [K, N] ->
// Gemm with transA and transB.
onnx::ModelProto mixed_model() {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 4, 7, 7});
  *g->add_output() = value_info("y", {6, 3});
  tensor_to_proto(outlier_weight({8, 4, 3, 3}, 1, 13, 4.0f), "w_conv", g->add_initializer());
  tensor_to_proto(random_tensor({8}, 2), "b_conv", g->add_initializer());
  tensor_to_proto(random_tensor({8, 1, 3, 3}, 3), "w_dw", g->add_initializer());
  tensor_to_proto(random_tensor({8, 4, 1, 1}, 4), "w_group", g->add_initializer());
  tensor_to_proto(Tensor::from_vector<int64_t>({3}, {2, 4, 9}), "shape", g->add_initializer());
  tensor_to_proto(outlier_weight({9, 6}, 5, 20, -3.0f), "w_mm", g->add_initializer());
  tensor_to_proto(outlier_weight({3, 8}, 6, 7, 2.5f), "w_gemm", g->add_initializer());
  auto conv = node("Conv", {"x", "w_conv", "b_conv"}, {"c1"}, "conv");
  add_int_attribute(conv, "group", 1);
  *g->add_node() = conv;
  auto dw = node("Conv", {"c1", "w_dw"}, {"c2"}, "depthwise");
  add_int_attribute(dw, "group", 8);
  *g->add_node() = dw;
  auto grouped = node("Conv", {"c2", "w_group"}, {"c3"}, "grouped");
  add_int_attribute(grouped, "group", 2);
  *g->add_node() = grouped;
  *g->add_node() = node("Reshape", {"c3", "shape"}, {"r"}, "reshape");      // [2, 4, 9]
  *g->add_node() = node("MatMul", {"r", "w_mm"}, {"mm"}, "matmul");          // [2, 4, 6]
  tensor_to_proto(Tensor::from_vector<int64_t>({2}, {8, 6}), "shape2", g->add_initializer());
  *g->add_node() = node("Reshape", {"mm", "shape2"}, {"mm2"}, "reshape2");  // [8, 6]
  auto gemm = node("Gemm", {"mm2", "w_gemm"}, {"y"}, "gemm");                // A^T [6, 8] x B^T [8, 3]
  add_int_attribute(gemm, "transA", 1);
  add_int_attribute(gemm, "transB", 1);
  *g->add_node() = gemm;
  return m;
}

TEST(PassesOcsSplitWeights, MixedLayersGathersAndSkips) {
  const Graph before = import_onnx_bytes(serialize(mixed_model()), ".", "mixed");
  Graph after = before;
  OcsSplitWeightsOptions options;
  options.ratio = 0.3;
  const OcsSplitWeightsReport report = ocs_split_weights(after, options);
  ASSERT_EQ(report.layers.size(), 5u);

  const auto* conv = find_layer(report, "conv");
  ASSERT_TRUE(conv);
  EXPECT_TRUE(conv->skipped.empty());
  EXPECT_EQ(conv->in_channels, 4);
  EXPECT_EQ(conv->splits, 2);  // ceil(0.3 * 4)
  EXPECT_EQ(conv->channels_split.at(0), 1);  // flat index 13 = output 0, input channel 1
  EXPECT_NEAR(conv->weights_added_percent, 50.0, 1e-9);
  EXPECT_NE(find_layer(report, "depthwise")->skipped.find("depthwise"), std::string::npos);
  EXPECT_NE(find_layer(report, "grouped")->skipped.find("grouped"), std::string::npos);
  const auto* mm = find_layer(report, "matmul");
  EXPECT_EQ(mm->in_channels, 9);
  EXPECT_EQ(mm->splits, 3);
  EXPECT_EQ(mm->channels_split.at(0), 3);  // flat index 20 of [9, 6] is row 3
  const auto* gemm = find_layer(report, "gemm");
  EXPECT_EQ(gemm->in_channels, 8);  // transB: B is [N = 3, K = 8]
  EXPECT_EQ(gemm->channels_split.at(0), 7);
  EXPECT_EQ(report.weights_added, 2 * 8 * 9 + 3 * 6 + 3 * 3);

  EXPECT_EQ(count_ops(after, "Gather"), 3);
  // The Gathers: Conv input along axis 1, MatMul input along its last axis (2), Gemm's transposed
  // A along axis 0.
  for (const Node& node : after.nodes) {
    if (node.op_type != "Gather") continue;
    const Node& next = after.nodes[&node - after.nodes.data() + 1];
    const int64_t axis = node.attr_int("axis", -99);
    if (next.name == "conv") {
      EXPECT_EQ(axis, 1);
    } else if (next.name == "matmul") {
      EXPECT_EQ(axis, 2);
    } else {
      EXPECT_EQ(next.name, "gemm");
      EXPECT_EQ(axis, 0);
    }
  }
  const Node& conv_node = *std::find_if(after.nodes.begin(), after.nodes.end(),
                                        [](const Node& n) { return n.name == "conv"; });
  EXPECT_EQ(after.values[conv_node.inputs[1]].constant->shape(), (Shape{8, 6, 3, 3}));
  const Node& gemm_node = *std::find_if(after.nodes.begin(), after.nodes.end(),
                                        [](const Node& n) { return n.name == "gemm"; });
  EXPECT_EQ(after.values[gemm_node.inputs[1]].constant->shape(), (Shape{3, 11}));

  const std::map<std::string, Tensor> inputs{{"x", random_tensor({1, 4, 7, 7}, 77)}};
  expect_same_outputs(before, after, inputs);
  // Both modes, reference kernels too.
  Graph naive = before;
  options.mode = OcsSplitMode::Naive;
  ocs_split_weights(naive, options);
  expect_same_outputs(before, naive, inputs);
  EXPECT_LT(max_relative_difference(run_graph(before, inputs, true)[0], run_graph(after, inputs, true)[0]),
            kTolerance);
  // The report serializes.
  const nlohmann::json j = ocs_split_weights_json(report);
  EXPECT_EQ(j["layers"].size(), 5u);
}

// channel_multiple: zero-weight channels pad each split layer's input to a multiple; the splits,
// the thresholds and the function stay those of the unpadded split.
TEST(PassesOcsSplitWeights, ZeroChannelsPadTheSplitLayersToAMultiple) {
  const Graph before = import_onnx_bytes(serialize(mixed_model()), ".", "mixed");
  OcsSplitWeightsOptions options;
  options.ratio = 0.3;
  Graph unpadded = before;
  const OcsSplitWeightsReport plain = ocs_split_weights(unpadded, options);
  options.channel_multiple = 4;
  Graph after = before;
  const OcsSplitWeightsReport report = ocs_split_weights(after, options);
  // conv: 4 + 2 -> 8; matmul: 9 + 3 = 12 already; gemm: 8 + 3 -> 12.
  for (const auto& [name, padded] : {std::pair{"conv", 2}, std::pair{"matmul", 0}, std::pair{"gemm", 1}}) {
    const auto* layer = find_layer(report, name);
    const auto* reference = find_layer(plain, name);
    ASSERT_TRUE(layer && reference) << name;
    EXPECT_EQ(layer->channels_padded, padded) << name;
    EXPECT_EQ(layer->splits, reference->splits) << name;
    EXPECT_EQ(layer->channels_split, reference->channels_split) << name;
    EXPECT_EQ(layer->threshold_after, reference->threshold_after) << name;
  }
  for (const Node& node : after.nodes) {
    if (node.name != "conv") continue;
    const Tensor& w = *after.values[node.inputs[1]].constant;
    ASSERT_EQ(w.shape(), (Shape{8, 8, 3, 3}));
    for (int64_t o = 0; o < 8; ++o)
      for (int64_t c = 6; c < 8; ++c)
        for (int64_t r = 0; r < 9; ++r) EXPECT_EQ(w.data<float>()[(o * 8 + c) * 9 + r], 0.0f) << o << ", " << c;
  }
  expect_same_outputs(before, after, {{"x", random_tensor({1, 4, 7, 7}, 11)}});
  expect_same_outputs(unpadded, after, {{"x", random_tensor({1, 4, 7, 7}, 12)}});
}

TEST(PassesOcsSplitWeights, ExcludeAndSkipFirstLast) {
  const Graph before = import_onnx_bytes(serialize(mixed_model()), ".", "mixed");
  {
    Graph after = before;
    OcsSplitWeightsOptions options;
    options.exclude = {"matmul"};
    ocs_split_weights(after, options);
    EXPECT_EQ(count_ops(after, "Gather"), 2);
  }
  {
    Graph after = before;
    OcsSplitWeightsOptions options;
    options.skip_first_last = true;
    const OcsSplitWeightsReport report = ocs_split_weights(after, options);
    EXPECT_EQ(count_ops(after, "Gather"), 1);  // only the MatMul in the middle
    EXPECT_NE(find_layer(report, "conv")->skipped.find("first"), std::string::npos);
    EXPECT_NE(find_layer(report, "gemm")->skipped.find("last"), std::string::npos);
    EXPECT_TRUE(find_layer(report, "matmul")->skipped.empty());
  }
  {
    Graph after = before;
    OcsSplitWeightsOptions options;
    options.ratio = 0.0;
    ocs_split_weights(after, options);
    EXPECT_EQ(count_ops(after, "Gather"), 0);
    EXPECT_EQ(after.nodes.size(), before.nodes.size());
  }
}

// A 1-D convolution and a MatMul on a 2-D input share one activation: each gets its own Gather
// (axis 1 for both), and the function is unchanged.
TEST(PassesOcsSplitWeights, Conv1dAndMatMulSharingAnInput) {
  onnx::ModelProto m = model(11);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {5, 6});
  *g->add_output() = value_info("c", {1, 4, 3});
  *g->add_output() = value_info("mm", {5, 2});
  tensor_to_proto(Tensor::from_vector<int64_t>({3}, {1, 5, 6}), "shape", g->add_initializer());
  tensor_to_proto(outlier_weight({4, 5, 4}, 8, 9, 3.0f), "w_conv", g->add_initializer());
  tensor_to_proto(outlier_weight({6, 2}, 9, 3, -2.0f), "w_mm", g->add_initializer());
  *g->add_node() = node("Reshape", {"x", "shape"}, {"x3"}, "reshape");  // [1, 5, 6]: N, C, L
  *g->add_node() = node("Conv", {"x3", "w_conv"}, {"c"}, "conv1d");
  *g->add_node() = node("MatMul", {"x", "w_mm"}, {"mm"}, "matmul");
  const Graph before = import_onnx_bytes(serialize(m), ".", "conv1d");
  Graph after = before;
  OcsSplitWeightsOptions options;
  options.ratio = 0.4;  // conv: ceil(2) = 2 splits of 5 channels; MatMul: ceil(2.4) = 3 of 6
  const OcsSplitWeightsReport report = ocs_split_weights(after, options);
  EXPECT_EQ(find_layer(report, "conv1d")->channels_split,
            (std::vector<int64_t>{2, 2}));  // flat index 9 of [4, 5, 4]: channel 2, then again
  EXPECT_EQ(find_layer(report, "matmul")->channels_split.at(0), 1);  // flat 3 of [6, 2]: row 1
  EXPECT_EQ(count_ops(after, "Gather"), 2);
  for (const Node& node : after.nodes) {
    if (node.op_type == "Gather") {
      EXPECT_EQ(node.attr_int("axis", -99), 1);
    }
  }
  expect_same_outputs(before, after, {{"x", random_tensor({5, 6}, 10)}});
}

// Fold BN, split, compare; then export, re-import and compare again.
TEST(PassesOcsSplitWeights, SmallCnn) {
  const Graph original = import_onnx_file(small_cnn_path());
  Graph folded = original;
  ASSERT_EQ(fold_batchnorm(folded), 4);
  const std::map<std::string, Tensor> inputs{{"input", random_tensor({1, 1, 28, 28}, 9)}};
  for (bool skip_first_last : {false, true}) {
    SCOPED_TRACE(skip_first_last ? "skip first/last" : "all layers");
    Graph split = folded;
    OcsSplitWeightsOptions options;
    options.ratio = 0.05;
    options.bits = 6;
    options.skip_first_last = skip_first_last;
    const OcsSplitWeightsReport report = ocs_split_weights(split, options);
    EXPECT_EQ(count_ops(split, "Gather"), skip_first_last ? 3 : 5);
    EXPECT_EQ(count_ops(split, "Conv"), 4);
    EXPECT_EQ(count_ops(split, "Gemm"), 1);
    for (const auto& layer : report.layers)
      if (layer.skipped.empty()) {
        EXPECT_EQ(layer.splits, ocs_split_count(0.05, layer.in_channels)) << layer.node;
        EXPECT_GE(layer.sqnr_after_db, layer.sqnr_before_db - 0.5) << layer.node;
      }
    expect_same_outputs(original, split, inputs);
    const Graph reimported = import_onnx_bytes(export_onnx_bytes(split), ".", "split small_cnn");
    const std::vector<Tensor> a = run_graph(split, inputs), b = run_graph(reimported, inputs);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].to_vector<float>(), b[i].to_vector<float>());
  }
}

TEST(PassesOcsSplitWeights, PpOcrRecSameOutputsAndSqnrRisesWithRatio) {
  if (!std::filesystem::exists(ppocr_rec_model_path()) || !std::filesystem::exists(ppocr_rec_input_path()))
    OCS_SKIP_OR_FAIL("PP-OCRv4 rec model or golden input absent (run scripts/fetch_models.sh and "
                     "scripts/make_golden.sh)");
  const Graph original = import_onnx_file(ppocr_rec_model_path());
  Graph folded = original;
  fold_batchnorm(folded);
  const std::map<std::string, Tensor> inputs{{"x", read_npy(ppocr_rec_input_path())}};
  // Two metrics. Reference kernels (plain loops), r = 0.05: < 1e-5, what the split itself changes.
  // oneDNN kernels, every r: < 1e-4, because oneDNN's float32 sums in another order and the
  // unmodified model already moves by ~2e-5 between the two kernel sets (printed below).
  const std::vector<Tensor> want = run_graph(original, inputs);
  const std::vector<Tensor> want_reference = run_graph(original, inputs, true);
  std::printf("noise floor, unmodified model, oneDNN vs reference kernels: %.3g\n",
              max_relative_difference(want_reference[0], want[0]));

  const std::vector<double> ratios{0.01, 0.02, 0.05, 0.1};
  std::vector<OcsSplitWeightsReport> reports;
  for (double ratio : ratios) {
    Graph split = folded;
    OcsSplitWeightsOptions options;
    options.ratio = ratio;
    options.bits = 6;
    options.skip_first_last = true;
    reports.push_back(ocs_split_weights(split, options));
    int64_t split_layers = 0;
    for (const auto& layer : reports.back().layers) split_layers += layer.skipped.empty() ? 1 : 0;
    EXPECT_EQ(count_ops(split, "Gather"), count_ops(folded, "Gather") + split_layers);
    const std::vector<Tensor> got = run_graph(split, inputs);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const double diff = max_relative_difference(want[i], got[i]);
      std::printf("r = %.2f: %lld layers split, +%.2f%% weights, output %zu max rel diff %.3g\n",
                  ratio, static_cast<long long>(split_layers),
                  100.0 * static_cast<double>(reports.back().weights_added) /
                      static_cast<double>(reports.back().weights_before),
                  i, diff);
      EXPECT_LT(diff, kFastKernelTolerance);
    }
    if (ratio == 0.05) {
      const std::vector<Tensor> got_reference = run_graph(split, inputs, true);
      for (size_t i = 0; i < want.size(); ++i) {
        const double diff = max_relative_difference(want_reference[i], got_reference[i]);
        std::printf("r = 0.05, reference kernels: output %zu max rel diff %.3g\n", i, diff);
        EXPECT_LT(diff, kTolerance);
      }
      const Graph reimported = import_onnx_bytes(export_onnx_bytes(split), ".", "split rec");
      const std::vector<Tensor> again = run_graph(reimported, inputs);
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_EQ(got[i].to_vector<float>(), again[i].to_vector<float>());
    }
  }

  // Outlier layers: those whose largest |w| stands far out from the rest of its tensor, measured
  // as the r = 0.1 split halving (or better) the threshold. Their 6-bit SQNR must rise with r.
  std::printf("%-22s %5s %8s  %s\n", "layer (6-bit SQNR dB)", "C_in", "before",
              "r=0.01 / 0.02 / 0.05 / 0.1");
  int outlier_layers = 0;
  const auto& last = reports.back().layers;
  for (size_t l = 0; l < last.size(); ++l) {
    if (!last[l].skipped.empty()) continue;
    std::string row = fmt::format("{:<22} {:>5} {:>8.2f} ", last[l].node, last[l].in_channels,
                                  last[l].sqnr_before_db);
    for (const auto& report : reports) row += fmt::format(" {:>7.2f}", report.layers[l].sqnr_after_db);
    const bool outlier = last[l].threshold_after <= 0.5 * last[l].threshold_before;
    std::printf("%s%s\n", row.c_str(), outlier ? "  <- outlier" : "");
    if (!outlier) continue;
    ++outlier_layers;
    for (size_t r = 0; r < reports.size(); ++r) {
      const double previous = r == 0 ? last[l].sqnr_before_db : reports[r - 1].layers[l].sqnr_after_db;
      // Non-decreasing up to 0.1 dB of rounding noise, and overall a clear gain.
      EXPECT_GE(reports[r].layers[l].sqnr_after_db, previous - 0.1) << last[l].node << " r index " << r;
    }
    EXPECT_GT(last[l].sqnr_after_db, last[l].sqnr_before_db + 3.0) << last[l].node;
  }
  EXPECT_GT(outlier_layers, 0);
}

}  // namespace
}  // namespace ocs
