// passes/weighted_layer.h: the channel axes of every weighted layer, checked against the ONNX
// operator definitions (the shapes each op's inputs take), and which nodes the matcher accepts.
#include "passes/weighted_layer.h"

#include <gtest/gtest.h>

namespace ocs {
namespace {

// A graph holding one node `op` with data x of `x_shape` and a constant weight of `w_shape`.
Graph one_layer(const std::string& op, const Shape& x_shape, const Shape& w_shape,
                std::map<std::string, int64_t> ints = {}) {
  Graph g;
  Value x;
  x.name = "x";
  x.dtype = DType::Float32;
  x.shape = x_shape;
  Value w;
  w.name = "w";
  w.dtype = DType::Float32;
  w.shape = w_shape;
  w.constant = Tensor(DType::Float32, w_shape);
  Value y;
  y.name = "y";
  y.dtype = DType::Float32;
  const ValueId xi = g.add_value(x), wi = g.add_value(w), yi = g.add_value(y);
  Node n;
  n.op_type = op;
  n.name = "layer";
  n.inputs = {xi, wi};
  n.outputs = {yi};
  for (const auto& [key, value] : ints) {
    Attribute a;
    a.kind = Attribute::Kind::Int;
    a.i = value;
    n.attributes[key] = a;
  }
  g.nodes.push_back(n);
  g.inputs = {xi};
  g.outputs = {yi};
  return g;
}

struct Axes {
  int64_t in, out, data;
};

Axes axes_of(const Graph& g) {
  const Node& n = g.nodes[0];
  return {weight_input_channel_axis(n, g, 1), weight_output_channel_axis(n, g.values[n.inputs[1]].constant->rank()),
          data_channel_axis(n, g)};
}

TEST(WeightedLayer, AxesFollowTheOnnxDefinitions) {
  // Conv: X [N, C, H, W], W [C_out, C / group, kH, kW].
  Axes a = axes_of(one_layer("Conv", {1, 4, 5, 5}, {6, 4, 3, 3}));
  EXPECT_EQ(a.in, 1);
  EXPECT_EQ(a.out, 0);
  EXPECT_EQ(a.data, 1);
  // ConvTranspose: W [C, C_out / group, kH, kW].
  a = axes_of(one_layer("ConvTranspose", {1, 4, 5, 5}, {4, 6, 3, 3}));
  EXPECT_EQ(a.in, 0);
  EXPECT_EQ(a.out, 1);
  // Gemm: A [M, K] or [K, M] (transA); B [K, N] or [N, K] (transB).
  a = axes_of(one_layer("Gemm", {2, 8}, {8, 3}));
  EXPECT_EQ(a.in, 0);
  EXPECT_EQ(a.out, 1);
  EXPECT_EQ(a.data, 1);
  a = axes_of(one_layer("Gemm", {8, 2}, {3, 8}, {{"transA", 1}, {"transB", 1}}));
  EXPECT_EQ(a.in, 1);
  EXPECT_EQ(a.out, 0);
  EXPECT_EQ(a.data, 0);
  // MatMul: X [..., K], B [..., K, N]; a 1-D B is [K] (no output axis).
  a = axes_of(one_layer("MatMul", {2, 5, 8}, {8, 3}));
  EXPECT_EQ(a.in, 0);
  EXPECT_EQ(a.out, 1);
  EXPECT_EQ(a.data, 2);
  a = axes_of(one_layer("MatMul", {2, 5, 8}, {2, 8, 3}));
  EXPECT_EQ(a.in, 1);
  EXPECT_EQ(a.out, 2);
  a = axes_of(one_layer("MatMul", {2, 8}, {8}));
  EXPECT_EQ(a.in, 0);
  EXPECT_EQ(a.out, -1);
  // LSTM: W [dirs, 4H, I] and R [dirs, 4H, H]: the input axis is 2 for both.
  const Graph lstm = one_layer("LSTM", {3, 1, 8}, {1, 16, 8});
  EXPECT_EQ(weight_input_channel_axis(lstm.nodes[0], lstm, 1), 2);
  EXPECT_EQ(weight_input_channel_axis(lstm.nodes[0], lstm, 2), 2);
  // Not a layer, or not its weight input.
  EXPECT_EQ(weight_input_channel_axis(lstm.nodes[0], lstm, 3), -1);
  const Graph relu = one_layer("Relu", {2, 8}, {8});
  EXPECT_EQ(weight_input_channel_axis(relu.nodes[0], relu, 1), -1);
}

TEST(WeightedLayer, MatcherTakesConvGemmAndMatMulWithAFloatConstantWeight) {
  EXPECT_TRUE(match_weighted_layer(one_layer("Conv", {1, 4, 5, 5}, {6, 4, 3, 3}), 0));
  EXPECT_TRUE(match_weighted_layer(one_layer("Gemm", {2, 8}, {8, 3}), 0));
  const auto matmul = match_weighted_layer(one_layer("MatMul", {2, 5, 8}, {8, 3}), 0);
  ASSERT_TRUE(matmul);
  EXPECT_EQ(matmul->weight_axis, 0);
  EXPECT_EQ(matmul->weight_out_axis, 1);
  EXPECT_EQ(matmul->data_axis, 2);
  std::string reason;
  EXPECT_FALSE(match_weighted_layer(one_layer("MatMul", {2, 5, 8}, {2, 8, 3}), 0, &reason));
  EXPECT_EQ(reason, "MatMul weight is not 2-D");
  Graph runtime_weight = one_layer("Gemm", {2, 8}, {8, 3});
  runtime_weight.values[1].constant.reset();
  EXPECT_FALSE(match_weighted_layer(runtime_weight, 0, &reason));
  EXPECT_EQ(reason, "weight is not a float32 constant");
  EXPECT_FALSE(match_weighted_layer(one_layer("ConvTranspose", {1, 4, 5, 5}, {4, 6, 3, 3}), 0));
  Graph other_domain = one_layer("Conv", {1, 4, 5, 5}, {6, 4, 3, 3});
  other_domain.nodes[0].domain = "com.example";
  EXPECT_FALSE(match_weighted_layer(other_domain, 0));
}

}  // namespace
}  // namespace ocs
