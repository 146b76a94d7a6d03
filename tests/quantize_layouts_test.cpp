// The two QDQ layouts of `ocs quantize` (docs/QUANTIZE.md, "Two layouts") on the small CNN with
// weight OCS: each has the structure the docs promise, both compute the same function as their
// split float model up to quantization, and bad layout options are user errors.
#include "data/sample_source.h"
#include "engine/session.h"
#include "onnx/onnx_io.h"
#include "recipe/quantizer.h"
#include "sweep/runner.h"

#include "test_util.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace ocs {
namespace {
namespace fs = std::filesystem;
using namespace ocs::testing;

const fs::path kSmallCnn = fs::path(OCS_SOURCE_DIR) / "tests" / "data" / "small_cnn.onnx";

QuantizeResult quantize(const std::string& format, bool quantize_first_last = true) {
  const Graph g = import_onnx_file(kSmallCnn);
  ArraySampleSource calib(g, {{"input", random_tensor({64, 1, 28, 28}, 7)}}, 64);
  QuantizeOptions options;
  options.ocs_ratio = 0.1;
  options.format = format;
  options.keep_first_last_float = !quantize_first_last;
  return quantize_model(g, options, &calib);
}

const Node* producer(const Graph& g, ValueId v) {
  const auto p = g.producer(v);
  return p ? &g.nodes[*p] : nullptr;
}

bool is_layer(const Node& n) { return n.op_type == "Conv" || n.op_type == "Gemm"; }

TEST(QuantizeLayouts, PaperLayoutQuantizesLayerInputsOnlyInInt8) {
  const QuantizeResult r = quantize("qdq-inputs");
  const Graph& g = r.graph;
  int layers = 0, quantizers = 0;
  for (const Node& n : g.nodes) {
    if (n.op_type == "QuantizeLinear") {
      ++quantizers;
      EXPECT_EQ(g.values[n.outputs[0]].dtype, DType::Int8) << n.name;
    }
    if (!is_layer(n)) continue;
    ++layers;
    // The activation reaches the layer through DequantizeLinear, or through weight OCS's Gather
    // of the dequantized (float) tensor.
    const Node* in = producer(g, n.inputs[0]);
    ASSERT_NE(in, nullptr) << n.name;
    if (in->op_type == "Gather") {
      EXPECT_EQ(g.values[in->inputs[0]].dtype, DType::Float32) << n.name;
      in = producer(g, in->inputs[0]);
    }
    EXPECT_EQ(in->op_type, "DequantizeLinear") << n.name;
    if (n.inputs.size() > 2) {
      EXPECT_TRUE(g.values[n.inputs[2]].constant) << n.name << ": the bias stays float";
    }
  }
  EXPECT_EQ(quantizers, layers);  // one quantizer per layer input, none elsewhere
  EXPECT_FALSE(r.report.contains("quantized_tensors"));
}

TEST(QuantizeLayouts, DeployableLayoutIsWhatRuntimesFuse) {
  const QuantizeResult r = quantize("qdq");
  const Graph& g = r.graph;
  for (const Node& n : g.nodes) {
    if (n.op_type == "QuantizeLinear") {
      EXPECT_EQ(g.values[n.outputs[0]].dtype, DType::UInt8) << n.name;
    }
    if (!is_layer(n) || n.op_type != "Conv") continue;
    // DQ -> Conv(DQ(w), DQ(int32 bias)) -> [Relu] -> Q
    for (ValueId in : n.inputs) {
      const Node* p = producer(g, in);
      ASSERT_NE(p, nullptr) << n.name;
      EXPECT_EQ(p->op_type, "DequantizeLinear") << n.name;
    }
    // A Conv without a bias is the channel copies of weight OCS (passes/copy_convs.h).
    if (n.inputs.size() > 2) EXPECT_EQ(g.values[producer(g, n.inputs[2])->inputs[0]].dtype, DType::Int32) << n.name;
    ValueId out = n.outputs[0];
    auto readers = g.consumers(out);
    if (readers.size() == 1 && g.nodes[readers[0]].op_type == "Relu") readers = g.consumers(g.nodes[readers[0]].outputs[0]);
    ASSERT_EQ(readers.size(), 1u) << n.name;
    EXPECT_EQ(g.nodes[readers[0]].op_type, "QuantizeLinear") << n.name;
  }
  // The report: the tensors and how each split layer got its duplicated channels.
  ASSERT_TRUE(r.report.contains("quantized_tensors"));
  EXPECT_GE(r.report["quantized_tensors"].size(), 4u);
  int split = 0;
  for (const auto& layer : r.report["layers"])
    if (layer.value("quantized", false) && !layer["channels_split"].empty()) {
      ++split;
      EXPECT_TRUE(layer.contains("channel_duplication")) << layer["node"];
    }
  EXPECT_GT(split, 0);
  EXPECT_TRUE(r.report.contains("float_ops_on_8bit_data"));
}

// What the two layouts compute differs only by the extra quantizers of the deployable one.
TEST(QuantizeLayouts, BothStayCloseToTheFloatModel) {
  const Graph g = import_onnx_file(kSmallCnn);
  const Tensor x = random_tensor({1, 1, 28, 28}, 8);
  auto run = [&](const Graph& graph) { return Session(std::make_shared<const Graph>(graph)).run({{"input", x}})[0]; };
  const Tensor want = run(g);
  for (const char* format : {"qdq-inputs", "qdq"}) {
    EXPECT_LT(max_relative_difference(run(quantize(format).graph), want), 0.1) << format;
  }
}

TEST(QuantizeLayouts, BadOptionsAreUserErrors) {
  QuantizeOptions options;
  options.format = "qdq-outputs";
  try {
    options.validate();
    ADD_FAILURE() << "no error";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("qdq-inputs"), std::string::npos) << e.what();
  }
  options.format = "qdq";
  options.signed_activations = options.unsigned_activations = true;
  EXPECT_THROW(options.validate(), UserError);
}

TEST(QuantizeLayouts, SweepsKeepThePapersLayout) {
  EXPECT_EQ(SweepSetup{}.base.format, "qdq-inputs");
  EXPECT_EQ(QuantizeOptions{}.format, "qdq");
}

}  // namespace
}  // namespace ocs
