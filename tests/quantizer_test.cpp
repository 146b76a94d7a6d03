// `ocs quantize`'s recipe end to end: the split float model is functionally identical to the
// original, the QDQ model exported with OCS runs in ONNX Runtime and agrees with our engine, the
// report says what was done, and bad options are user errors.
#include "engine/session.h"
#include "eval/fashion_mnist.h"
#include "data/sample_source.h"
#include "io/npy.h"
#include "onnx/onnx_io.h"
#include "ort_runner.h"
#include "passes/fold_batchnorm.h"
#include "recipe/quantizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <unistd.h>

namespace ocs {
namespace {
namespace fs = std::filesystem;
using namespace ocs::testing;

const fs::path kSmallCnn = fs::path(OCS_SOURCE_DIR) / "tests" / "data" / "small_cnn.onnx";

// 64 calibration samples in [-1, 1] for small_cnn's input [1, 1, 28, 28] (batch fixed at 1).
std::map<std::string, Tensor> calibration_arrays(uint32_t seed) {
  return {{"input", random_tensor({64, 1, 28, 28}, seed)}};
}

Tensor run(const Graph& g, const Tensor& x, bool reference) {
  SessionOptions options;
  options.reference_kernels_only = reference;
  return Session(std::make_shared<const Graph>(g), options).run({{"input", x}})[0];
}

TEST(Quantizer, SplitFloatModelIsFunctionallyIdentical) {
  const Graph g = import_onnx_file(kSmallCnn);
  ArraySampleSource calib(g, calibration_arrays(1), 64);
  QuantizeOptions options;
  options.format = "split-float";
  options.ocs_ratio = 0.1;
  options.act_ocs_ratio = 0.1;
  options.keep_first_last_float = false;  // split every layer
  QuantizeResult result = quantize_model(g, options, &calib);
  const Tensor x = calibration_arrays(2).at("input").reshaped({64, 1, 28, 28});
  // Compare on a few samples; reference kernels accumulate in double, so only the float32
  // rounding of the split pieces differs. Bound: 1e-5 of the output's scale (issue 3).
  for (int64_t n = 0; n < 4; ++n) {
    Tensor sample(DType::Float32, {1, 1, 28, 28});
    std::copy_n(x.data<float>() + n * 784, 784, sample.data<float>());
    EXPECT_LT(max_relative_difference(run(g, sample, true), run(result.graph, sample, true)), 1e-5);
  }
  // Every layer was split, weights and activations, and the report says so.
  int split_layers = 0;
  for (const auto& row : result.report["layers"]) {
    ASSERT_TRUE(row["quantized"].get<bool>());
    split_layers += !row["channels_split"].empty() && row.contains("act_channels_split");
  }
  EXPECT_EQ(split_layers, 5);
  const double overhead = result.report["model"]["size_overhead_percent"].get<double>();
  EXPECT_GT(overhead, 0.0);
  // The input graph is untouched (a copy was rewritten).
  EXPECT_EQ(import_onnx_file(kSmallCnn).nodes.size(), g.nodes.size());
}

// With per-channel scales the report gives the SQNR of that grid: for each unsplit layer it
// equals an independent per-channel fake quantization (max|w| of each output channel) and is
// at least the per-tensor figure, since every channel's step is at most the tensor's.
TEST(Quantizer, PerChannelReportsThePerChannelSqnr) {
  const Graph g = import_onnx_file(kSmallCnn);
  ArraySampleSource calib(g, calibration_arrays(1), 64);
  QuantizeOptions options;
  options.weight_bits = 4;
  options.activation_bits = 0;
  options.per_channel = true;
  QuantizeResult result = quantize_model(g, options, &calib);
  Graph folded = g;  // the quantizer's weights are those after BatchNorm folding
  fold_batchnorm(folded);
  int checked = 0;
  for (const auto& row : result.report["layers"]) {
    if (!row["quantized"].get<bool>()) continue;
    ASSERT_TRUE(row.contains("weight_sqnr_db_per_channel")) << row["node"];
    const Node* node = nullptr;
    for (const Node& n : folded.nodes)
      if (n.name == row["node"].get<std::string>()) node = &n;
    ASSERT_NE(node, nullptr);
    const Tensor& w = *folded.values[node->inputs[1]].constant;
    const int64_t axis = node->op_type == "Conv" ? 0 : (node->attr_int("transB", 0) ? 0 : 1);
    std::vector<double> thresholds(static_cast<size_t>(w.dim(axis)), 0.0);
    std::vector<double> signal(thresholds.size(), 0.0);
    const std::vector<double> values = w.to_double_vector();
    const Shape& shape = w.shape();
    int64_t inner = 1;
    for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
    auto channel = [&](size_t i) { return static_cast<size_t>((static_cast<int64_t>(i) / inner) % shape[axis]); };
    for (size_t i = 0; i < values.size(); ++i) thresholds[channel(i)] = std::max(thresholds[channel(i)], std::fabs(values[i]));
    double energy = 0, noise = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      const double step = static_cast<double>(static_cast<float>(thresholds[channel(i)]) / 7.0f);
      const double q = std::min(7.0, std::max(-8.0, std::nearbyint(values[i] / step))) * step;
      energy += values[i] * values[i];
      noise += (values[i] - q) * (values[i] - q);
    }
    const double expected = 10 * std::log10(energy / noise);
    EXPECT_NEAR(row["weight_sqnr_db_per_channel"].get<double>(), expected, 0.01) << row["node"];
    EXPECT_GE(row["weight_sqnr_db_per_channel"].get<double>(), row["weight_sqnr_db_no_ocs"].get<double>() - 1e-9);
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

// The trained Fashion-MNIST ResNet (models/fashion_resnet.onnx): the split float model with
// weight and activation OCS on every layer keeps the function to 1e-5 of the output's scale on
// real test images (reference kernels), and the 6/8-bit QDQ model with OCS keeps the
// predictions of at least 97 of 100 test images.
TEST(Quantizer, FashionResnetSplitIsIdenticalAndQuantizedKeepsPredictions) {
  const fs::path model = fs::path(OCS_SOURCE_DIR) / "models" / "fashion_resnet.onnx";
  if (!fs::exists(kFashionMnistDir)) OCS_SKIP_OR_FAIL("dataset-fashion-mnist is not installed (scripts/install_deps.sh)");
  const Graph g = import_onnx_file(model);
  FashionMnistSource calib(kFashionMnistDir, "train", "input", 128, 32);
  QuantizeOptions split_options;
  split_options.format = "split-float";
  split_options.ocs_ratio = 0.05;
  split_options.act_ocs_ratio = 0.05;
  split_options.keep_first_last_float = false;
  QuantizeResult split = quantize_model(g, split_options, &calib);
  QuantizeOptions q_options;
  q_options.weight_bits = 6;
  q_options.activation_bits = 8;
  q_options.ocs_ratio = 0.02;
  QuantizeResult quantized = quantize_model(g, q_options, &calib);
  FashionMnistSource test(kFashionMnistDir, "test", "input", 100, 100);
  const Tensor x = test.next()->at("input");
  const Tensor want = run(g, x, true);
  EXPECT_LT(max_relative_difference(want, run(split.graph, x, true)), 1e-5);
  const Tensor got = run(quantized.graph, x, false);
  int agree = 0;
  for (int64_t n = 0; n < 100; ++n) {
    const float* a = want.data<float>() + n * 10;
    const float* b = got.data<float>() + n * 10;
    agree += std::max_element(a, a + 10) - a == std::max_element(b, b + 10) - b;
  }
  EXPECT_GE(agree, 97);
}

TEST(Quantizer, QdqWithOcsRunsInOnnxRuntimeAndAgrees) {
  const Graph g = import_onnx_file(kSmallCnn);
  ArraySampleSource calib(g, calibration_arrays(3), 64);
  QuantizeOptions options;
  options.weight_bits = 6;
  options.activation_bits = 8;
  options.ocs_ratio = 0.05;
  options.weight_clip = "mse";
  options.activation_clip = "percentile:99.9";
  QuantizeResult result = quantize_model(g, options, &calib);
  const Tensor x = calibration_arrays(4).at("input").reshaped({64, 1, 28, 28});
  Tensor sample(DType::Float32, {1, 1, 28, 28});
  std::copy_n(x.data<float>(), 784, sample.data<float>());
  const Tensor ours = run(result.graph, sample, true);
  // Quantization changes the output, but a 6/8-bit model stays close to the float one.
  EXPECT_LT(max_relative_difference(run(g, sample, true), ours), 0.1);
  if (!ort_available()) OCS_SKIP_OR_FAIL("onnxruntime-node not found in " << ocs_cache() / "ort" << " (run scripts/fetch_models.sh)");
  const fs::path dir = fs::temp_directory_path() / fmt::format("ocs_quantizer_ort_{}", getpid());
  const Tensor ort = run_ort(result.graph, {{"input", sample}}, dir);
  // Same integers at every quantizer: the engines differ only by float summation order.
  EXPECT_LT(max_relative_difference(ours, ort), 1e-5);
  fs::remove_all(dir);
}

// Acceptance (issue 3): PP-OCRv4 rec with 6-bit weights, per tensor, OCS r = 0.05, 8-bit
// activations: the exported QDQ model runs in ONNX Runtime, and ONNX Runtime agrees with our
// engine. Not to float rounding here: ~40 activation quantizers in a row flip a few near-tie
// integers when the two engines sum in different orders, and this model amplifies them. Measured
// on this machine: SQNR 47 dB between the engines, every position decodes to the same character
// (bench numbers in docs/QUANTIZE.md). Bounds: SQNR >= 25 dB, >= 95% same argmax.
TEST(Quantizer, PpocrRecWithOcsRunsInOnnxRuntime) {
  const fs::path model = ocs_cache() / "models" / "ch_PP-OCRv4_rec_infer.onnx";
  const fs::path x_file = ocs_cache() / "golden" / "ppocr_rec" / "inputs" / "x.npy";
  if (!fs::exists(model) || !fs::exists(x_file) || !ort_available())
    OCS_SKIP_OR_FAIL("PP-OCRv4 rec, its golden input or onnxruntime-node is missing (run scripts/fetch_models.sh, "
                     "scripts/make_golden.sh)");
  const Graph g = import_onnx_file(model);
  const Tensor x = read_npy(x_file);
  ArraySampleSource calib(g, {{"x", x}}, 1);
  QuantizeOptions options;
  options.weight_bits = 6;
  options.activation_bits = 8;
  options.ocs_ratio = 0.05;
  QuantizeResult result = quantize_model(g, options, &calib);
  // The outlier layer's weight SQNR rose with OCS.
  for (const auto& row : result.report["layers"]) {
    if (row["node"] == "p2o.Conv.32") {
      EXPECT_GT(row["weight_sqnr_db_ocs"].get<double>(), row["weight_sqnr_db_no_ocs"].get<double>() + 5.0);
    }
  }
  const Tensor ours = Session(std::make_shared<const Graph>(result.graph)).run({{"x", x}})[0];
  const fs::path dir = fs::temp_directory_path() / fmt::format("ocs_quantizer_rec_{}", getpid());
  const Tensor ort = run_ort(result.graph, {{"x", x}}, dir);
  const Difference d = compare_tensors(ours, ort);  // the SQNR below needs finite values
  ASSERT_TRUE(d.comparable()) << d.broken;
  const auto a = ours.to_double_vector(), b = ort.to_double_vector();
  double signal = 0, noise = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    signal += b[i] * b[i];
    noise += (a[i] - b[i]) * (a[i] - b[i]);
  }
  EXPECT_GE(10 * std::log10(signal / std::max(noise, 1e-300)), 25.0);
  const int64_t classes = ours.shape().back(), positions = ours.numel() / classes;
  int64_t agree = 0;
  for (int64_t p = 0; p < positions; ++p) {
    const double* ra = a.data() + p * classes;
    const double* rb = b.data() + p * classes;
    agree += std::max_element(ra, ra + classes) - ra == std::max_element(rb, rb + classes) - rb;
  }
  EXPECT_GE(static_cast<double>(agree) / static_cast<double>(positions), 0.95);
  fs::remove_all(dir);
}

TEST(Quantizer, BadOptionsAreUserErrors) {
  QuantizeOptions bad_bits;
  bad_bits.weight_bits = 1;
  EXPECT_THROW(bad_bits.validate(), UserError);
  QuantizeOptions bad_ratio;
  bad_ratio.ocs_ratio = -0.1;
  EXPECT_THROW(bad_ratio.validate(), UserError);
  QuantizeOptions bad_clip;
  bad_clip.weight_clip = "median";
  EXPECT_THROW(bad_clip.validate(), UserError);
  QuantizeOptions bad_split;
  bad_split.split = "half";
  EXPECT_THROW(bad_split.validate(), UserError);
  QuantizeOptions config;
  EXPECT_THROW(config.merge_json(nlohmann::json{{"wbitz", 4}}, "test"), UserError);
  config.merge_json(nlohmann::json{{"wbits", 5}, {"ocs_ratio", 0.02}}, "test");
  EXPECT_EQ(config.weight_bits, 5);
  EXPECT_DOUBLE_EQ(config.ocs_ratio, 0.02);
  // Activations need calibration data.
  const Graph g = import_onnx_file(kSmallCnn);
  QuantizeOptions needs_calib;
  EXPECT_THROW(quantize_model(g, needs_calib, nullptr), UserError);
  // Calibration data that does not fit the model's input.
  Tensor wrong(DType::Float32, {8, 3, 28, 28});
  EXPECT_THROW(ArraySampleSource(g, {{"input", wrong}}, 8), UserError);
}

// Regression: the message named a flag that does not exist (--keep-first-last).
TEST(Quantizer, NoLayerLeftNamesTheRealFlags) {
  const Graph g = import_onnx_file(kSmallCnn);
  QuantizeOptions options;
  options.activation_bits = 0;
  for (const Node& node : g.nodes)
    if (node.op_type == "Conv" || node.op_type == "Gemm" || node.op_type == "MatMul") options.exclude.push_back(node.name);
  ASSERT_FALSE(options.exclude.empty());
  try {
    quantize_model(g, options, nullptr);
    FAIL() << "quantized a model whose layers are all excluded";
  } catch (const UserError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("--quantize-first-last"), std::string::npos) << message;
    EXPECT_EQ(message.find("--keep-first-last"), std::string::npos) << message;
  }
}

// The plan the sweep reads and the JSON report say the same, row for row.
TEST(Quantizer, ReportIsThePlan) {
  const Graph g = import_onnx_file(kSmallCnn);
  ArraySampleSource calib(g, calibration_arrays(2), 64);
  QuantizeOptions options;
  options.ocs_ratio = 0.1;
  options.weight_bits = 5;
  const QuantizeResult result = quantize_model(g, options, &calib);
  const auto& rows = result.report["layers"];
  ASSERT_EQ(rows.size(), result.plan.layers.size());
  for (size_t k = 0; k < rows.size(); ++k) {
    const LayerPlan& layer = result.plan.layers[k];
    EXPECT_EQ(rows[k]["node"], layer.node);
    EXPECT_EQ(rows[k]["quantized"].get<bool>(), layer.quantized());
    if (!layer.quantized()) continue;
    EXPECT_EQ(rows[k]["channels_split"].get<std::vector<int64_t>>(), layer.channels_split);
    EXPECT_EQ(rows[k]["weight_sqnr_db_no_ocs"].get<double>(), layer.weight_sqnr_db_no_ocs);
    EXPECT_EQ(rows[k]["act_threshold"].get<double>(), static_cast<float>(*layer.act_threshold));
  }
  EXPECT_EQ(result.report["model"]["size_overhead_percent"].get<double>(), result.plan.size_overhead_percent());
  EXPECT_EQ(result.report["model"]["layers_quantized"].get<int64_t>(), result.plan.layers_quantized());
}

}  // namespace
}  // namespace ocs
