// Hand-computed cases for the reference nn kernels (conv, pool, norm, gemm). Each expected value
// is worked out in the comment next to it or is a closed form; tolerance 1e-5 absolute unless
// stated (the reference accumulates in double, so these are exact up to float rounding).
#include "nn_test_util.h"

#include <numeric>

namespace ocs {
namespace {

using namespace nn_test;

std::vector<float> iota_floats(size_t count, float start = 0.0f) {
  std::vector<float> v(count);
  std::iota(v.begin(), v.end(), start);
  return v;
}

Tensor floats(Shape shape, std::vector<float> values) { return Tensor::from_vector<float>(std::move(shape), values); }

// ---- Conv --------------------------------------------------------------------------------------

// ONNX's basic conv: 5x5 ramp 0..24 with a 3x3 kernel of ones; each output is a 3x3 window sum.
TEST(NnReferenceConv, BasicWithAndWithoutPadding) {
  Tensor x = floats({1, 1, 5, 5}, iota_floats(25));
  Tensor w = floats({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
  OneNodeGraph padded("Conv", {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}}, {x, w}, 1);
  std::vector<Tensor> y = padded.run_reference();
  EXPECT_EQ(y[0].shape(), (Shape{1, 1, 5, 5}));
  expect_floats_near(y[0], {12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108, 117, 81,
                            93, 144, 153, 162, 111, 72, 111, 117, 123, 84});
  OneNodeGraph valid("Conv", {}, {x, w}, 1);
  y = valid.run_reference();
  EXPECT_EQ(y[0].shape(), (Shape{1, 1, 3, 3}));
  expect_floats_near(y[0], {54, 63, 72, 99, 108, 117, 144, 153, 162});
}

// 7x5 ramp, 3x3 ones, stride 2, pads top/bottom 1 only -> 4x2 (ONNX's asymmetric padding case).
TEST(NnReferenceConv, StridesAndAsymmetricPadding) {
  Tensor x = floats({1, 1, 7, 5}, iota_floats(35));
  Tensor w = floats({1, 1, 3, 3}, std::vector<float>(9, 1.0f));
  OneNodeGraph g("Conv", {{"strides", attr_ints({2, 2})}, {"pads", attr_ints({1, 0, 1, 0})}}, {x, w}, 1);
  std::vector<Tensor> y = g.run_reference();
  EXPECT_EQ(y[0].shape(), (Shape{1, 1, 4, 2}));
  expect_floats_near(y[0], {21, 33, 99, 117, 189, 207, 171, 183});
}

// 1-D, dilation 2, kernel [1, 1]: y[i] = x[i] + x[i + 2]; bias 10 added.
TEST(NnReferenceConv, DilationAndBias1d) {
  Tensor x = floats({1, 1, 5}, {1, 2, 3, 4, 5});
  Tensor w = floats({1, 1, 2}, {1, 1});
  Tensor b = floats({1}, {10});
  OneNodeGraph g("Conv", {{"dilations", attr_ints({2})}}, {x, w, b}, 1);
  expect_floats_near(g.run_reference()[0], {14, 16, 18});
}

// SAME padding of 1 in total: SAME_UPPER pads the end, SAME_LOWER the beginning.
// w = [1, 10]: y[i] = x[i] + 10 * x[i + 1].
TEST(NnReferenceConv, AutoPadSameUpperAndLower) {
  Tensor x = floats({1, 1, 4}, {1, 2, 3, 4});
  Tensor w = floats({1, 1, 2}, {1, 10});
  OneNodeGraph upper("Conv", {{"auto_pad", attr_string("SAME_UPPER")}}, {x, w}, 1);
  expect_floats_near(upper.run_reference()[0], {21, 32, 43, 4});
  OneNodeGraph lower("Conv", {{"auto_pad", attr_string("SAME_LOWER")}}, {x, w}, 1);
  expect_floats_near(lower.run_reference()[0], {10, 21, 32, 43});
  // Stride 2 over 5: out = ceil(5 / 2) = 3, total pad = (3 - 1) * 2 + 2 - 5 = 1.
  Tensor x5 = floats({1, 1, 5}, {1, 2, 3, 4, 5});
  OneNodeGraph strided("Conv", {{"auto_pad", attr_string("SAME_UPPER")}, {"strides", attr_ints({2})}}, {x5, w}, 1);
  expect_floats_near(strided.run_reference()[0], {21, 43, 5});
}

// Depthwise (group = channels = 2): each channel convolved with its own 1x2 kernel.
// Grouped (group 2, 4 in, 2 out): output m sees input channels 2m and 2m+1.
TEST(NnReferenceConv, Groups) {
  Tensor x = floats({1, 2, 1, 3}, {1, 2, 3, 10, 20, 30});
  Tensor w = floats({2, 1, 1, 2}, {1, -1, 2, 1});
  OneNodeGraph depthwise("Conv", {{"group", attr_int(2)}}, {x, w}, 1);
  expect_floats_near(depthwise.run_reference()[0], {-1, -1, 40, 70});

  Tensor x4 = floats({1, 4, 1, 1}, {1, 2, 3, 4});
  Tensor w4 = floats({2, 2, 1, 1}, {1, 10, 100, 1000});
  OneNodeGraph grouped("Conv", {{"group", attr_int(2)}}, {x4, w4}, 1);
  expect_floats_near(grouped.run_reference()[0], {21, 4300});
}

// 3-D: 2x2x2 ones input, 2x2x2 ones kernel, pads 1 -> 3x3x3; corner windows see one element,
// edges two, faces four, centre eight.
TEST(NnReferenceConv, ThreeD) {
  Tensor x = floats({1, 1, 2, 2, 2}, std::vector<float>(8, 1.0f));
  Tensor w = floats({1, 1, 2, 2, 2}, std::vector<float>(8, 1.0f));
  OneNodeGraph g("Conv", {{"pads", attr_ints({1, 1, 1, 1, 1, 1})}}, {x, w}, 1);
  std::vector<Tensor> y = g.run_reference();
  EXPECT_EQ(y[0].shape(), (Shape{1, 1, 3, 3, 3}));
  expect_floats_near(y[0], {1, 2, 1, 2, 4, 2, 1, 2, 1, 2, 4, 2, 4, 8, 4, 2, 4, 2, 1, 2, 1, 2, 4, 2, 1, 2, 1});
}

TEST(NnReferenceConv, MismatchedChannelsIsUserError) {
  Tensor x = floats({1, 3, 4, 4}, std::vector<float>(48, 1.0f));
  Tensor w = floats({2, 2, 3, 3}, std::vector<float>(36, 1.0f));
  OneNodeGraph g("Conv", {}, {x, w}, 1);
  EXPECT_THROW(g.run_reference(), UserError);
}

// (x - 1) * (w - 1) with x = [2, 3, 4, 5], w = 2: [1, 2, 3, 4].
TEST(NnReferenceConv, ConvIntegerSubtractsZeroPoints) {
  Tensor x = Tensor::from_vector<uint8_t>({1, 1, 2, 2}, {2, 3, 4, 5});
  Tensor w = Tensor::from_vector<uint8_t>({1, 1, 1, 1}, {2});
  OneNodeGraph g("ConvInteger", {}, {x, w, Tensor::scalar<uint8_t>(1), Tensor::scalar<uint8_t>(1)}, 1);
  std::vector<Tensor> y = g.run_reference();
  EXPECT_EQ(y[0].to_vector<int32_t>(), (std::vector<int32_t>{1, 2, 3, 4}));
}

// ---- ConvTranspose ----------------------------------------------------------------------------

// x = [1, 2], kernel [1, 1, 1], stride 2: copies at 0 and 2 overlap at 2 -> [1, 1, 3, 2, 2].
TEST(NnReferenceConvTranspose, StrideOutputPaddingPads1d) {
  Tensor x = floats({1, 1, 2}, {1, 2});
  Tensor w = floats({1, 1, 3}, {1, 1, 1});
  OneNodeGraph plain("ConvTranspose", {{"strides", attr_ints({2})}}, {x, w}, 1);
  expect_floats_near(plain.run_reference()[0], {1, 1, 3, 2, 2});
  OneNodeGraph output_padding("ConvTranspose", {{"strides", attr_ints({2})}, {"output_padding", attr_ints({1})}}, {x, w}, 1);
  expect_floats_near(output_padding.run_reference()[0], {1, 1, 3, 2, 2, 0});
  OneNodeGraph pads("ConvTranspose", {{"strides", attr_ints({2})}, {"pads", attr_ints({1, 1})}}, {x, w}, 1);
  expect_floats_near(pads.run_reference()[0], {1, 3, 2});
  // output_shape 7: the full result is 5 long, the two extra positions hold only the bias.
  Tensor b = floats({1}, {0.5f});
  OneNodeGraph shaped("ConvTranspose", {{"strides", attr_ints({2})}, {"output_shape", attr_ints({7})}}, {x, w, b}, 1);
  expect_floats_near(shaped.run_reference()[0], {1.5f, 1.5f, 3.5f, 2.5f, 2.5f, 0.5f, 0.5f});
}

// ONNX's autopad_same case: SAME_UPPER with stride 2 over 3 -> 6 outputs; the full result
// [0, 0, 1, 1, 3, 2, 2] (row of x = [0, 1, 2]) loses one position at the end.
TEST(NnReferenceConvTranspose, AutoPadSameUpperTrimsTheEnd) {
  Tensor x = floats({1, 1, 3}, {0, 1, 2});
  Tensor w = floats({1, 1, 3}, {1, 1, 1});
  OneNodeGraph g("ConvTranspose", {{"strides", attr_ints({2})}, {"auto_pad", attr_string("SAME_UPPER")}}, {x, w}, 1);
  expect_floats_near(g.run_reference()[0], {0, 0, 1, 1, 3, 2});
}

// Groups: 2 input channels, group 2, one output channel per group; dilation 2 spreads the taps.
TEST(NnReferenceConvTranspose, GroupsAndDilation) {
  Tensor x = floats({1, 2, 2}, {1, 2, 3, 4});
  Tensor w = floats({2, 1, 2}, {1, 10, 2, 20});
  OneNodeGraph g("ConvTranspose", {{"group", attr_int(2)}, {"dilations", attr_ints({2})}}, {x, w}, 1);
  // channel 0: x=[1,2], taps at +0 (1x) and +2 (10x): [1, 2, 10, 20]
  // channel 1: x=[3,4], w=[2,20]: [6, 8, 60, 80]
  std::vector<Tensor> y = g.run_reference();
  EXPECT_EQ(y[0].shape(), (Shape{1, 2, 4}));
  expect_floats_near(y[0], {1, 2, 10, 20, 6, 8, 60, 80});
}

// ---- Pooling ------------------------------------------------------------------------------------

TEST(NnReferencePool, MaxPoolWithIndicesBothStorageOrders) {
  Tensor x = floats({1, 1, 4, 4}, iota_floats(16));
  std::map<std::string, Attribute> attributes{{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}};
  OneNodeGraph row_major("MaxPool", attributes, {x}, 2);
  std::vector<Tensor> y = row_major.run_reference();
  expect_floats_near(y[0], {5, 7, 13, 15});
  EXPECT_EQ(y[1].to_vector<int64_t>(), (std::vector<int64_t>{5, 7, 13, 15}));
  attributes["storage_order"] = attr_int(1);
  OneNodeGraph column_major("MaxPool", attributes, {x}, 2);
  // Column-major index of (h, w) is h + w * 4: (1,1)->5, (1,3)->13, (3,1)->7, (3,3)->15.
  EXPECT_EQ(column_major.run_reference()[1].to_vector<int64_t>(), (std::vector<int64_t>{5, 13, 7, 15}));
}

// 4x4 ramp, kernel 3, stride 2: floor gives one window per axis, ceil two (the second clipped).
TEST(NnReferencePool, MaxPoolCeilMode) {
  Tensor x = floats({1, 1, 4, 4}, iota_floats(16));
  OneNodeGraph g("MaxPool", {{"kernel_shape", attr_ints({3, 3})}, {"strides", attr_ints({2, 2})}, {"ceil_mode", attr_int(1)}}, {x}, 1);
  std::vector<Tensor> y = g.run_reference();
  EXPECT_EQ(y[0].shape(), (Shape{1, 1, 2, 2}));
  expect_floats_near(y[0], {10, 11, 14, 15});
}

// Dilation 2, kernel 2 over [1, 5, 2, 4, 3]: max(x[i], x[i+2]) -> [2, 5, 3].
TEST(NnReferencePool, MaxPoolDilationAndUint8) {
  Tensor x = floats({1, 1, 5}, {1, 5, 2, 4, 3});
  OneNodeGraph g("MaxPool", {{"kernel_shape", attr_ints({2})}, {"dilations", attr_ints({2})}}, {x}, 1);
  expect_floats_near(g.run_reference()[0], {2, 5, 3});
  Tensor xu = Tensor::from_vector<uint8_t>({1, 1, 3}, {7, 200, 3});
  OneNodeGraph gu("MaxPool", {{"kernel_shape", attr_ints({2})}}, {xu}, 1);
  EXPECT_EQ(gu.run_reference()[0].to_vector<uint8_t>(), (std::vector<uint8_t>{200, 200}));
}

// 2x2 input [1 2; 3 4], kernel 2, stride 1, pads 1 -> 3x3. Excluding pads each window averages
// the elements it covers; including pads every window divides by 4.
TEST(NnReferencePool, AveragePoolCountIncludePad) {
  Tensor x = floats({1, 1, 2, 2}, {1, 2, 3, 4});
  std::map<std::string, Attribute> attributes{{"kernel_shape", attr_ints({2, 2})}, {"pads", attr_ints({1, 1, 1, 1})}};
  OneNodeGraph exclude("AveragePool", attributes, {x}, 1);
  expect_floats_near(exclude.run_reference()[0], {1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4});
  attributes["count_include_pad"] = attr_int(1);
  OneNodeGraph include("AveragePool", attributes, {x}, 1);
  expect_floats_near(include.run_reference()[0], {0.25f, 0.75f, 0.5f, 1, 2.5f, 1.5f, 0.75f, 1.75f, 1});
}

// SAME_LOWER on 1-D [1, 2, 3] with kernel 2: pads one at the start -> [1, 1.5, 2.5].
TEST(NnReferencePool, AveragePoolSameLower) {
  Tensor x = floats({1, 1, 3}, {1, 2, 3});
  OneNodeGraph g("AveragePool", {{"kernel_shape", attr_ints({2})}, {"auto_pad", attr_string("SAME_LOWER")}}, {x}, 1);
  expect_floats_near(g.run_reference()[0], {1, 1.5f, 2.5f});
}

TEST(NnReferencePool, LpPoolAndGlobalPools) {
  Tensor x = floats({1, 1, 2}, {3, -4});
  OneNodeGraph lp("LpPool", {{"kernel_shape", attr_ints({2})}, {"p", attr_int(2)}}, {x}, 1);
  expect_floats_near(lp.run_reference()[0], {5});  // sqrt(9 + 16)

  Tensor planes = floats({1, 2, 2, 2}, {1, 2, 3, 6, -1, -2, -3, -6});
  OneNodeGraph average("GlobalAveragePool", {}, {planes}, 1);
  std::vector<Tensor> y = average.run_reference();
  EXPECT_EQ(y[0].shape(), (Shape{1, 2, 1, 1}));
  expect_floats_near(y[0], {3, -3});
  OneNodeGraph max("GlobalMaxPool", {}, {planes}, 1);
  expect_floats_near(max.run_reference()[0], {6, -1});
}

// ---- Normalization ------------------------------------------------------------------------------

// Channel 0: (x - 1) / sqrt(4) * 1 + 0; channel 1: (x - 3) / sqrt(1) * 2 + 1.
TEST(NnReferenceNorm, BatchNormalizationInference) {
  Tensor x = floats({1, 2, 2, 1}, {1, 2, 3, 4});
  OneNodeGraph g("BatchNormalization", {{"epsilon", attr_float(0.0f)}},
                 {x, floats({2}, {1, 2}), floats({2}, {0, 1}), floats({2}, {1, 3}), floats({2}, {4, 1})}, 1);
  expect_floats_near(g.run_reference()[0], {0, 0.5f, 1, 3});
}

// One channel [1, 3]: batch mean 2, biased variance 1 -> y = [-1, 1];
// running mean 0 * 0.9 + 2 * 0.1, running var 1 * 0.9 + 1 * 0.1.
TEST(NnReferenceNorm, BatchNormalizationTrainingMode) {
  Tensor x = floats({2, 1, 1}, {1, 3});
  OneNodeGraph g("BatchNormalization", {{"epsilon", attr_float(0.0f)}, {"training_mode", attr_int(1)}},
                 {x, floats({1}, {1}), floats({1}, {0}), floats({1}, {0}), floats({1}, {1})}, 3, {}, 15);
  std::vector<Tensor> y = g.run_reference();
  expect_floats_near(y[0], {-1, 1});
  expect_floats_near(y[1], {0.2f});
  expect_floats_near(y[2], {1.0f});
}

// Plane [1, 3]: mean 2, var 1 -> [-1, 1], then * 2 + 1.
TEST(NnReferenceNorm, InstanceNormalization) {
  Tensor x = floats({1, 1, 2}, {1, 3});
  OneNodeGraph g("InstanceNormalization", {{"epsilon", attr_float(0.0f)}}, {x, floats({1}, {2}), floats({1}, {1})}, 1);
  expect_floats_near(g.run_reference()[0], {-1, 3});
}

// Rows [1, 3] (mean 2, var 1) and [2, 6] (mean 4, var 4) both normalize to [-1, 1];
// Scale [2, 3], B [1, 0] -> [-1, 3].
TEST(NnReferenceNorm, LayerNormalizationWithStatistics) {
  Tensor x = floats({2, 2}, {1, 3, 2, 6});
  OneNodeGraph g("LayerNormalization", {{"epsilon", attr_float(0.0f)}}, {x, floats({2}, {2, 3}), floats({2}, {1, 0})}, 3);
  std::vector<Tensor> y = g.run_reference();
  expect_floats_near(y[0], {-1, 3, -1, 3});
  EXPECT_EQ(y[1].shape(), (Shape{2, 1}));
  expect_floats_near(y[1], {2, 4});
  expect_floats_near(y[2], {1, 0.5f});
}

// size 3, alpha 3 (alpha / size = 1), beta 1, bias 1: y = x / (1 + sum of neighbour squares).
TEST(NnReferenceNorm, Lrn) {
  Tensor x = floats({1, 3, 1, 1}, {1, 2, 3});
  OneNodeGraph g("LRN", {{"size", attr_int(3)}, {"alpha", attr_float(3.0f)}, {"beta", attr_float(1.0f)}}, {x}, 1);
  expect_floats_near(g.run_reference()[0], {1.0f / 6, 2.0f / 15, 3.0f / 14});
}

// ---- Gemm and MatMul ----------------------------------------------------------------------------

// A^T = [1 2; 3 4] (A stored as [1 3; 2 4]), B = I, alpha 2, beta 3, C = [1, 2] per column.
TEST(NnReferenceGemm, TransposeAlphaBetaBroadcastC) {
  Tensor a = floats({2, 2}, {1, 3, 2, 4});
  Tensor b = floats({2, 2}, {1, 0, 0, 1});
  Tensor c = floats({2}, {1, 2});
  OneNodeGraph g("Gemm", {{"transA", attr_int(1)}, {"alpha", attr_float(2)}, {"beta", attr_float(3)}}, {a, b, c}, 1);
  expect_floats_near(g.run_reference()[0], {5, 10, 9, 14});
  OneNodeGraph no_c("Gemm", {{"transB", attr_int(1)}}, {floats({1, 2}, {1, 2}), floats({3, 2}, {1, 0, 0, 1, 1, 1}), Tensor()}, 1);
  expect_floats_near(no_c.run_reference()[0], {1, 2, 3});
}

// Batch axes [2, 1] and [3] broadcast to [2, 3]; a0 = [1, 2], a1 = [3, 4]; B columns e0, e1, e0+e1.
TEST(NnReferenceMatMul, BatchBroadcastAndVectors) {
  Tensor a = floats({2, 1, 1, 2}, {1, 2, 3, 4});
  Tensor b = floats({3, 2, 1}, {1, 0, 0, 1, 1, 1});
  OneNodeGraph g("MatMul", {}, {a, b}, 1);
  std::vector<Tensor> y = g.run_reference();
  EXPECT_EQ(y[0].shape(), (Shape{2, 3, 1, 1}));
  expect_floats_near(y[0], {1, 2, 3, 3, 4, 7});

  OneNodeGraph dot("MatMul", {}, {floats({3}, {1, 2, 3}), floats({3}, {4, 5, 6})}, 1);
  y = dot.run_reference();
  EXPECT_EQ(y[0].shape(), Shape{});
  expect_floats_near(y[0], {32});
  OneNodeGraph row("MatMul", {}, {floats({2}, {1, 2}), floats({2, 2}, {1, 2, 3, 4})}, 1);
  y = row.run_reference();
  EXPECT_EQ(y[0].shape(), (Shape{2}));
  expect_floats_near(y[0], {7, 10});

  OneNodeGraph ints("MatMul", {}, {Tensor::from_vector<int64_t>({1, 2}, {3, 4}), Tensor::from_vector<int64_t>({2, 1}, {5, 6})}, 1);
  EXPECT_EQ(ints.run_reference()[0].to_vector<int64_t>(), (std::vector<int64_t>{39}));
}

// (A - 1) @ B with A = [2, 3], B = [1; 2] (int8): 1 * 1 + 2 * 2 = 5.
TEST(NnReferenceMatMul, MatMulIntegerZeroPoints) {
  Tensor a = Tensor::from_vector<uint8_t>({1, 2}, {2, 3});
  Tensor b = Tensor::from_vector<int8_t>({2, 1}, {1, 2});
  OneNodeGraph g("MatMulInteger", {}, {a, b, Tensor::scalar<uint8_t>(1)}, 1);
  EXPECT_EQ(g.run_reference()[0].to_vector<int32_t>(), (std::vector<int32_t>{5}));
}

}  // namespace
}  // namespace ocs
