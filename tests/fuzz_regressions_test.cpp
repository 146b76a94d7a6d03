// Regression tests for what the fuzz targets of tests/fuzz found (docs/FUZZING.md lists the
// findings). Each test builds the failing structure itself.
#include "engine/session.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"
#include "quant/quantizer.h"

#include <gtest/gtest.h>

#include <memory>

namespace ocs {
namespace {

using namespace ocs::testing;

// y = x W with W [4, 3] a constant; the graph output y is declared without a shape (legal: its
// rank is unknown), as converters and hand-built graphs often leave it.
std::string matmul_with_shapeless_output() {
  onnx::ModelProto m = model(14);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, 4});
  std::vector<float> w(12);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i) - 5.5f;
  tensor_to_proto(Tensor::from_vector<float>({4, 3}, w), "w", g->add_initializer());
  *g->add_node() = node("MatMul", {"x", "w"}, {"y"}, "matmul");
  auto* y = g->add_output();
  y->set_name("y");
  y->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  return serialize(m);
}

std::vector<float> run_model(const Graph& graph, const Tensor& x) {
  Session session(std::make_shared<const Graph>(graph), {.reference_kernels_only = true});
  return session.run({{"x", x}}).at(0).to_vector<float>();
}

// Closed form of matmul_with_shapeless_output() for x = [[1, 0, 0, 0], [0, 0, 0, 2]]: row 0 of W
// and twice row 3.
const std::vector<float> kExpected = {-5.5f, -4.5f, -3.5f, 2 * 3.5f, 2 * 4.5f, 2 * 5.5f};

Tensor test_input() { return Tensor::from_vector<float>({2, 4}, {1, 0, 0, 0, 0, 0, 0, 2}); }

// fuzz_graph: the export of such a model failed ONNX 1.12's checker ("Field 'shape' of 'type' is
// required but missing"), an InternalError, so `ocs quantize` ended with exit code 3.
TEST(FuzzRegressions, ExportKeepsAShapelessGraphOutput) {
  const Graph graph = import_onnx_bytes(matmul_with_shapeless_output(), ".", "shapeless.onnx");
  EXPECT_FALSE(graph.values[graph.outputs[0]].shape.has_value());
  const std::string exported = export_onnx_bytes(graph);
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(exported));
  // Still rank-unknown: an empty shape would claim a scalar.
  EXPECT_FALSE(proto.graph().output(0).type().tensor_type().has_shape());
  const Graph reimported = import_onnx_bytes(exported, ".", "exported.onnx");
  EXPECT_EQ(run_model(reimported, test_input()), kExpected);
}

TEST(FuzzRegressions, SplitFloatQuantizeOfAShapelessOutputExports) {
  const Graph graph = import_onnx_bytes(matmul_with_shapeless_output(), ".", "shapeless.onnx");
  QuantizeOptions options;
  options.format = "split-float";
  options.activation_bits = 0;
  options.keep_first_last_float = false;
  options.ocs_ratio = 0.5;
  const Graph split = quantize_model(graph, options, nullptr).graph;
  const Graph reimported = import_onnx_bytes(export_onnx_bytes(split), ".", "split.onnx");
  // OCS halves a weight row into two exact halves: the function is unchanged.
  EXPECT_EQ(run_model(reimported, test_input()), kExpected);
}

}  // namespace
}  // namespace ocs
