// pool_before_relu (passes/pool_before_relu.h): the model before and after the swap compute the
// same values exactly (our reference kernels, our engine, ONNX Runtime), and ONNX Runtime keeps
// the MaxPool in float after it (the reason for the pass: before it, ORT moves the
// QuantizeLinear up and pools the uint8 codes). Pairs that differ in any condition stay.
#include "passes/graph_edit.h"
#include "passes/pool_before_relu.h"

#include "model_builder.h"
#include "ort_runner.h"
#include "passes_test_util.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <unistd.h>

namespace ocs {
namespace {

using namespace ocs::testing;

enum class Variant { Plain, ReluReadTwice, PoolIndices, AveragePool };

// x [1, 3, 16, 16] -> Conv 3x3 (16 channels, float) -> Relu -> MaxPool 3x3 s2 -> QuantizeLinear ->
// DequantizeLinear -> Conv 1x1 (int8 weights behind a DequantizeLinear) -> y: ResNet's stem in the
// deployable layout.
onnx::ModelProto stem_model(Variant variant) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 3, 16, 16});
  tensor_to_proto(random_tensor({16, 3, 3, 3}, 3, -0.5f, 0.5f), "w1", g->add_initializer());
  std::vector<int8_t> codes(16 * 16);
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = static_cast<int8_t>(static_cast<int>(i * 37 % 255) - 127);
  tensor_to_proto(Tensor::from_vector<int8_t>({16, 16, 1, 1}, codes), "w2_q", g->add_initializer());
  tensor_to_proto(Tensor::scalar<float>(0.01f), "w2_scale", g->add_initializer());
  tensor_to_proto(Tensor::scalar<int8_t>(0), "w2_zero", g->add_initializer());
  tensor_to_proto(Tensor::scalar<float>(0.02f), "scale", g->add_initializer());
  tensor_to_proto(Tensor::scalar<uint8_t>(0), "zero", g->add_initializer());
  auto conv1 = node("Conv", {"x", "w1"}, {"c1"}, "conv1");
  add_ints_attribute(conv1, "pads", {1, 1, 1, 1});
  *g->add_node() = conv1;
  *g->add_node() = node("Relu", {"c1"}, {"r"}, "relu");
  auto pool = node(variant == Variant::AveragePool ? "AveragePool" : "MaxPool", {"r"},
                   variant == Variant::PoolIndices ? std::vector<std::string>{"p", "indices"} : std::vector<std::string>{"p"},
                   "pool");
  add_ints_attribute(pool, "kernel_shape", {3, 3});
  add_ints_attribute(pool, "strides", {2, 2});
  add_ints_attribute(pool, "pads", {1, 1, 1, 1});
  *g->add_node() = pool;
  *g->add_node() = node("QuantizeLinear", {"p", "scale", "zero"}, {"p_q"}, "quantize");
  *g->add_node() = node("DequantizeLinear", {"p_q", "scale", "zero"}, {"p_d"}, "dequantize");
  *g->add_node() = node("DequantizeLinear", {"w2_q", "w2_scale", "w2_zero"}, {"w2"}, "w2_dequantize");
  *g->add_node() = node("Conv", {"p_d", "w2"}, {"y"}, "conv2");
  *g->add_output() = value_info("y", {});
  if (variant == Variant::ReluReadTwice) *g->add_output() = value_info("r", {});
  if (variant == Variant::PoolIndices) *g->add_output() = value_info("indices", {}, onnx::TensorProto::INT64);
  return m;
}

std::map<std::string, Tensor> inputs() { return {{"x", random_tensor({1, 3, 16, 16}, 5, -2.0f, 2.0f)}}; }

// The op types of ONNX Runtime's optimised graph (bench/ort_int8.js count), as JSON.
nlohmann::json ort_ops(const Graph& g, const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  export_onnx_file(g, dir / "model.onnx", /*overwrite=*/true);
  const std::string command = fmt::format("node '{}/bench/ort_int8.js' count '{}' >'{}' 2>'{}'", OCS_SOURCE_DIR,
                                          (dir / "model.onnx").string(), (dir / "count.json").string(),
                                          (dir / "count.log").string());
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  return nlohmann::json::parse(std::ifstream(dir / "count.json")).at("ops");
}

TEST(PassesPoolBeforeRelu, ReluThenMaxPoolSwapsAndOnnxRuntimePoolsInFloat) {
  const Graph before = import_model(stem_model(Variant::Plain));
  Graph after = before;
  EXPECT_EQ(pool_before_relu(after), 1);
  after.verify();
  EXPECT_EQ(after.nodes[1].op_type, "MaxPool");  // right after the Conv, where the Relu was
  EXPECT_EQ(after.nodes[*after.producer(after.find_value("p"))].op_type, "Relu");

  // Each engine against itself on the model before (the float Conv after the codes sums in its
  // own order).
  for (const bool reference : {true, false})
    EXPECT_EQ(max_abs_difference(run_graph(after, inputs(), reference)[0], run_graph(before, inputs(), reference)[0]), 0.0)
        << (reference ? "reference kernels" : "engine");
  if (!ort_available()) OCS_SKIP_OR_FAIL("onnxruntime-node not found in " << ocs_cache() / "ort");
  const auto scratch = std::filesystem::temp_directory_path() / fmt::format("ocs_pool_before_relu_{}", getpid());
  EXPECT_EQ(max_abs_difference(run_ort(after, inputs(), scratch / "after_run"), run_ort(before, inputs(), scratch / "before_run")), 0.0)
      << "ONNX Runtime";
  // Before: ORT pools the codes (a plain MaxPool on uint8); after: its blocked float MaxPool.
  const auto ops_before = ort_ops(before, scratch / "before");
  const auto ops_after = ort_ops(after, scratch / "after");
  EXPECT_FALSE(ops_before.contains("com.microsoft.nchwc.MaxPool")) << ops_before.dump();
  EXPECT_EQ(ops_after.value("com.microsoft.nchwc.MaxPool", 0), 1) << ops_after.dump();
  std::filesystem::remove_all(scratch);
}

TEST(PassesPoolBeforeRelu, OtherPairsStay) {
  for (const auto& [name, variant] : {std::pair{"Relu read twice", Variant::ReluReadTwice},
                                      std::pair{"MaxPool with indices", Variant::PoolIndices},
                                      std::pair{"AveragePool", Variant::AveragePool}}) {
    Graph g = import_model(stem_model(variant));
    EXPECT_EQ(pool_before_relu(g), 0) << name;
    EXPECT_EQ(g.nodes[*g.producer(g.find_value("r"))].op_type, "Relu") << name;
  }
}

}  // namespace
}  // namespace ocs
