// The reference's orders as options (issue 13): --ocs-clip-on original computes the weight
// threshold of OCS + clip on the unsplit weight, and --no-fold-batchnorm keeps BatchNormalization
// as a float op after the quantized layer. Checked against the clip method run independently on
// the unsplit weights, the float model, and ONNX Runtime on the exported QDQ model.
#include "calib/clip_method.h"
#include "data/sample_source.h"
#include "engine/session.h"
#include "onnx/onnx_io.h"
#include "ort_runner.h"
#include "passes/fold_batchnorm.h"
#include "recipe/quantizer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

namespace ocs {
namespace {
namespace fs = std::filesystem;
using namespace ocs::testing;

const fs::path kSmallCnn = fs::path(OCS_SOURCE_DIR) / "tests" / "data" / "small_cnn.onnx";

std::map<std::string, Tensor> calibration_arrays(uint32_t seed) {
  return {{"input", random_tensor({64, 1, 28, 28}, seed)}};
}

Tensor sample_input(uint32_t seed) {
  return random_tensor({1, 1, 28, 28}, seed);
}

Tensor run(const Graph& g, const Tensor& x) {
  SessionOptions options;
  options.reference_kernels_only = true;
  return Session(std::make_shared<const Graph>(g), options).run({{"input", x}})[0];
}

Tensor weight_of(const Graph& g, const std::string& node) {
  for (const Node& n : g.nodes)
    if (n.name == node && g.values[n.inputs[1]].constant) return *g.values[n.inputs[1]].constant;
  ADD_FAILURE() << "no node " << node << " with a constant weight";
  return Tensor::from_vector<float>({1}, {0.0f});
}

QuantizeOptions ocs_mse_options(const std::string& clip_on) {
  QuantizeOptions options;
  options.weight_bits = 4;
  options.activation_bits = 0;
  options.ocs_ratio = 0.1;
  options.weight_clip = "mse";
  options.ocs_clip_on = clip_on;
  options.keep_first_last_float = false;
  options.format = "split-float";  // the plan holds the thresholds; the graph the split weights
  return options;
}

TEST(QuantizerReferenceOrder, OcsClipOnOriginalUsesTheUnsplitWeightsThreshold) {
  const Graph g = import_onnx_file(kSmallCnn);
  Graph folded = g;  // the quantizer's unsplit weights are those after BatchNorm folding
  fold_batchnorm(folded);
  const auto mse = make_clip_method("mse");
  const QuantizeResult original = quantize_model(g, ocs_mse_options("original"), nullptr);
  // The threshold comes from the naive split (also under QA), so the naive split model shows it.
  QuantizeOptions naive = ocs_mse_options("split");
  naive.split = "naive";
  const QuantizeResult split = quantize_model(g, naive, nullptr);
  int checked = 0, differ = 0;
  for (size_t i = 0; i < original.plan.layers.size(); ++i) {
    const LayerPlan& o = original.plan.layers[i];
    const LayerPlan& s = split.plan.layers[i];
    if (!o.quantized() || o.channels_split.empty()) continue;
    ASSERT_TRUE(o.weight_threshold && s.weight_threshold) << o.node;
    EXPECT_EQ(*o.weight_threshold, mse->threshold_of_tensor(weight_of(folded, o.node), 4)) << o.node;
    // `split` (the default) is the method on the split weight.
    EXPECT_EQ(*s.weight_threshold, mse->threshold_of_tensor(weight_of(split.graph, s.node), 4)) << s.node;
    differ += *o.weight_threshold != *s.weight_threshold;
    ++checked;
  }
  EXPECT_GE(checked, 4);
  EXPECT_GE(differ, 1);
}

TEST(QuantizerReferenceOrder, OcsClipOnOriginalKeepsTheSplitModelIdenticalInFloat) {
  const Graph g = import_onnx_file(kSmallCnn);
  const QuantizeOptions options = ocs_mse_options("original");
  const QuantizeResult result = quantize_model(g, options, nullptr);
  for (uint32_t seed : {5u, 6u}) {
    const Tensor x = sample_input(seed);
    EXPECT_LT(max_relative_difference(run(g, x), run(result.graph, x)), 1e-5);
  }
}

TEST(QuantizerReferenceOrder, OcsClipOnIsValidated) {
  QuantizeOptions options;
  options.ocs_clip_on = "unsplit";
  EXPECT_THROW(options.validate(), UserError);
  options.ocs_clip_on = "original";
  options.per_channel = true;
  EXPECT_THROW(options.validate(), UserError);
  options.per_channel = false;
  options.validate();
  nlohmann::json config = {{"ocs_clip_on", "original"}, {"fold_batchnorm", false}};
  QuantizeOptions merged;
  merged.merge_json(config, "test");
  EXPECT_EQ(merged.ocs_clip_on, "original");
  EXPECT_FALSE(merged.fold_batchnorm);
}

int64_t count_ops(const Graph& g, const std::string& op) {
  int64_t n = 0;
  for (const Node& node : g.nodes) n += node.op_type == op;
  return n;
}

// Without folding, every BatchNormalization stays, in float, right after its quantized conv; the
// exported QDQ model runs in ONNX Runtime and agrees with our engine.
// In both QDQ layouts (the deployable one quantizes the Conv's output before the float BatchNorm).
class NoFoldBatchnorm : public ::testing::TestWithParam<const char*> {};

TEST_P(NoFoldBatchnorm, KeepsBatchNormFloatAfterTheQuantizedConv) {
  const Graph g = import_onnx_file(kSmallCnn);
  ArraySampleSource calib(g, calibration_arrays(3), 64);
  QuantizeOptions options;
  options.format = GetParam();
  options.weight_bits = 6;
  options.activation_bits = 8;
  options.ocs_ratio = 0.05;
  options.weight_clip = "mse";
  options.activation_clip = "kl";
  options.fold_batchnorm = false;
  options.keep_first_last_float = false;
  const QuantizeResult result = quantize_model(g, options, &calib);
  EXPECT_EQ(result.plan.batchnorms_folded, 0);
  EXPECT_EQ(count_ops(result.graph, "BatchNormalization"), count_ops(g, "BatchNormalization"));
  int quantized_convs_before_bn = 0;
  for (const Node& bn : result.graph.nodes) {
    if (bn.op_type != "BatchNormalization") continue;
    auto producer = result.graph.producer(bn.inputs[0]);
    ASSERT_TRUE(producer.has_value());
    while (result.graph.nodes[*producer].op_type == "DequantizeLinear" ||
           result.graph.nodes[*producer].op_type == "QuantizeLinear")
      producer = result.graph.producer(result.graph.nodes[*producer].inputs[0]);
    const Node& conv = result.graph.nodes[*producer];
    EXPECT_EQ(conv.op_type, "Conv");
    const auto weight_producer = result.graph.producer(conv.inputs[1]);
    quantized_convs_before_bn += weight_producer && result.graph.nodes[*weight_producer].op_type == "DequantizeLinear";
  }
  EXPECT_EQ(quantized_convs_before_bn, count_ops(g, "BatchNormalization"));
  const Tensor x = sample_input(4);
  const Tensor ours = run(result.graph, x);
  EXPECT_LT(max_relative_difference(run(g, x), ours), 0.1);  // close to the float model
  if (!ort_available()) OCS_SKIP_OR_FAIL("onnxruntime-node not found in " << ocs_cache() / "ort" << " (run scripts/fetch_models.sh)");
  const fs::path dir = fs::temp_directory_path() / fmt::format("ocs_no_fold_bn_ort_{}", getpid());
  const Tensor ort = run_ort(result.graph, {{"input", x}}, dir);
  EXPECT_LT(max_relative_difference(ours, ort), 1e-5);
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Layouts, NoFoldBatchnorm, ::testing::Values("qdq-inputs", "qdq"),
                         [](const auto& info) { return std::string(info.param) == "qdq" ? "Deployable" : "Paper"; });

}  // namespace
}  // namespace ocs
