// Regression tests for what the fuzz targets of tests/fuzz found (docs/FUZZING.md lists the
// findings). Each test builds the failing structure itself.
#include "engine/session.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include <memory>

namespace ocs {
namespace {

using namespace ocs::testing;

// y = x W with W [4, 3] a constant.
std::string matmul_model() {
  onnx::ModelProto m = model(14);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, 4});
  *g->add_output() = value_info("y", {2, 3});
  std::vector<float> w(12);
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i) - 5.5f;
  tensor_to_proto(Tensor::from_vector<float>({4, 3}, w), "w", g->add_initializer());
  *g->add_node() = node("MatMul", {"x", "w"}, {"y"}, "matmul");
  return serialize(m);
}

std::vector<float> run_model(const Graph& graph, const Tensor& x) {
  Session session(std::make_shared<const Graph>(graph), {.reference_kernels_only = true});
  return session.run({{"x", x}}).at(0).to_vector<float>();
}

// Closed form of matmul_model() for x = [[1, 0, 0, 0], [0, 0, 0, 2]]: row 0 of W
// and twice row 3.
const std::vector<float> kExpected = {-5.5f, -4.5f, -3.5f, 2 * 3.5f, 2 * 4.5f, 2 * 5.5f};

Tensor test_input() { return Tensor::from_vector<float>({2, 4}, {1, 0, 0, 0, 0, 0, 0, 2}); }

// fuzz_graph: a graph output whose shape is unknown (legal in ONNX: rank unknown; the OCS pass
// leaves the output of a split last layer so) made the export fail ONNX 1.12's checker ("Field
// 'shape' of 'type' is required but missing"): an InternalError, `ocs quantize` exit code 3.
TEST(FuzzRegressions, ExportKeepsAShapelessGraphOutput) {
  Graph graph = import_onnx_bytes(matmul_model(), ".", "matmul.onnx");
  graph.values[graph.outputs[0]].shape.reset();
  const std::string exported = export_onnx_bytes(graph);
  onnx::ModelProto proto;
  ASSERT_TRUE(proto.ParseFromString(exported));
  // Still rank-unknown: an empty shape would claim a scalar.
  EXPECT_FALSE(proto.graph().output(0).type().tensor_type().has_shape());
  const Graph reimported = import_onnx_bytes(exported, ".", "exported.onnx");
  EXPECT_EQ(run_model(reimported, test_input()), kExpected);
}

// fuzz_graph: Add of a 4-D value the fast engine holds in a oneDNN layout (GlobalAveragePool's
// [1, 1, 1, 1] output) and a rank-3 constant of as many elements: the fast kernel tried a
// reorder from the 3-D constant to the 4-D layout, and oneDNN's refusal (dnnl::error) escaped.
TEST(FuzzRegressions, FastAddOfALowerRankOperandWithTheSameElements) {
  onnx::ModelProto m = model(14);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 1, 3, 1});
  *g->add_output() = value_info("y", {1, 1, 1, 1});
  tensor_to_proto(Tensor::from_vector<float>({1, 1, 1}, {10}), "c", g->add_initializer());
  *g->add_node() = node("GlobalAveragePool", {"x"}, {"mean"}, "pool");
  *g->add_node() = node("Add", {"mean", "c"}, {"y"}, "add");
  auto graph = std::make_shared<const Graph>(import_onnx_bytes(serialize(m), ".", "add.onnx"));
  const Tensor x = Tensor::from_vector<float>({1, 1, 3, 1}, {1, 2, 6});
  for (bool reference : {false, true}) {
    Session session(graph, {.reference_kernels_only = reference});
    EXPECT_EQ(session.run({{"x", x}}).at(0).to_vector<float>(), std::vector<float>{13}) << reference;
  }
}

// fuzz_graph (OCS_FUZZ_NAN=1): oneDNN's max pooling skips NaN (its maximum starts at the lowest
// float), so a window of NaN gave -3.4e38 on the fast path where the reference keeps a NaN met
// first in a window. The fast kernels now leave NaN data to the reference; on their own, after a
// Conv (the layout path), both give [NaN, NaN, 7].
TEST(FuzzRegressions, FastMaxPoolKeepsNaNAsTheReferenceDoes) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor x = Tensor::from_vector<float>({1, 1, 2, 6}, {nan, nan, nan, 5, 1, nan, nan, nan, 2, 3, 4, 7});
  for (bool after_conv : {false, true}) {
    onnx::ModelProto m = model(13);
    auto* g = m.mutable_graph();
    *g->add_input() = value_info("x", {1, 1, 2, 6});
    *g->add_output() = value_info("y", {1, 1, 1, 3});
    auto pool = node("MaxPool", {after_conv ? "c" : "x"}, {"y"}, "pool");
    auto* k = pool.add_attribute();
    k->set_name("kernel_shape");
    k->set_type(onnx::AttributeProto::INTS);
    k->add_ints(2), k->add_ints(2);
    auto* st = pool.add_attribute();
    *st = *k;
    st->set_name("strides");
    if (after_conv) {
      tensor_to_proto(Tensor::from_vector<float>({1, 1, 1, 1}, {1}), "w", g->add_initializer());
      *g->add_node() = node("Conv", {"x", "w"}, {"c"}, "conv");
    }
    *g->add_node() = pool;
    auto graph = std::make_shared<const Graph>(import_onnx_bytes(serialize(m), ".", "pool.onnx"));
    for (bool reference : {false, true}) {
      const std::vector<float> y = Session(graph, {.reference_kernels_only = reference}).run({{"x", x}}).at(0).to_vector<float>();
      ASSERT_EQ(y.size(), 3u);
      EXPECT_TRUE(std::isnan(y[0]) && std::isnan(y[1]) && y[2] == 7) << "conv " << after_conv << " reference " << reference
                                                                     << ": " << y[0] << " " << y[1] << " " << y[2];
    }
  }
}

// fuzz_onnx_model: ONNX 1.12's shape inference (run by import) read past the end of the input's
// dims for a Conv without kernel_shape whose weight has more dims than its input: a SIGSEGV
// inside libonnx. ConvInteger shares the code.
onnx::ModelProto conv_model(const std::string& op, std::vector<int64_t> x_shape, int32_t type) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", x_shape, type);
  *g->add_output() = value_info("y", {}, op == "Conv" ? type : int32_t{onnx::TensorProto::INT32});
  g->mutable_output(0)->mutable_type()->mutable_tensor_type()->clear_shape();
  const Tensor w = type == onnx::TensorProto::FLOAT ? Tensor::from_vector<float>({4, 2, 3, 3}, std::vector<float>(72, 0.5f))
                                                    : Tensor::from_vector<uint8_t>({4, 2, 3, 3}, std::vector<uint8_t>(72, 1));
  tensor_to_proto(w, "w", g->add_initializer());
  *g->add_node() = node(op, {"x", "w"}, {"y"}, "conv");
  return m;
}

TEST(FuzzRegressions, ConvWeightOfHigherRankThanItsInputIsRefused) {
  for (const auto& [op, type] : {std::pair{"Conv", int32_t{onnx::TensorProto::FLOAT}},
                                 std::pair{"ConvInteger", int32_t{onnx::TensorProto::UINT8}}}) {
    const std::string bytes = serialize(conv_model(op, {1, 2, 5}, type));
    EXPECT_THROW(
        {
          auto graph = std::make_shared<const Graph>(import_onnx_bytes(bytes, ".", "conv.onnx"));
          Session(graph).run({{"x", Tensor(DType::Float32, {1, 2, 5})}});
        },
        UserError) << op;
  }
}

// The kernel shape import now writes for shape inference is the weight's: a valid Conv without
// kernel_shape still gets its output shape inferred and computes the same as with it.
TEST(FuzzRegressions, ConvWithoutKernelShapeStillGetsItsShapes) {
  const Graph graph = import_onnx_bytes(serialize(conv_model("Conv", {1, 2, 5, 5}, onnx::TensorProto::FLOAT)), ".", "conv.onnx");
  ASSERT_TRUE(graph.values[graph.outputs[0]].shape.has_value());
  EXPECT_EQ(*graph.values[graph.outputs[0]].shape, (Shape{1, 4, 3, 3}));
  Tensor x = Tensor::from_vector<float>({1, 2, 5, 5}, std::vector<float>(50, 1.0f));
  Session session(std::make_shared<const Graph>(graph), {.reference_kernels_only = true});
  // Every output sums 2 x 3 x 3 products 1 x 0.5.
  EXPECT_EQ(session.run({{"x", x}}).at(0).to_vector<float>(), std::vector<float>(36, 9.0f));
}

}  // namespace
}  // namespace ocs
