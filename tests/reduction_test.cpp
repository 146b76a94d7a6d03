// Reduction-family reference kernels against hand-computed values and closed forms.
// Tolerance: 1e-6 relative + 1e-6 absolute for float32 results (the kernels accumulate in
// double, so only the final float rounding differs from the exact value).
#include "kernel_test_util.h"
#include "kernels/kernel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace ocs {
namespace {

Attribute int_attr(int64_t value) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = value;
  return a;
}

Attribute ints_attr(std::vector<int64_t> values) {
  Attribute a;
  a.kind = Attribute::Kind::Ints;
  a.ints = std::move(values);
  return a;
}

using ocs::testing::run_kernel;

void expect_floats(const Tensor& actual, const Shape& shape, const std::vector<float>& expected) {
  ASSERT_EQ(actual.dtype(), DType::Float32);
  ASSERT_EQ(actual.shape(), shape);
  std::vector<float> values = actual.to_vector<float>();
  ASSERT_EQ(values.size(), expected.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(values[i])) << "at " << i;
      continue;
    }
    if (std::isinf(expected[i])) {
      EXPECT_EQ(values[i], expected[i]) << "at " << i;
      continue;
    }
    EXPECT_NEAR(values[i], expected[i], 1e-6 + 1e-6 * std::fabs(expected[i])) << "at " << i;
  }
}

// [[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]]]
Tensor one_to_twelve() {
  return Tensor::from_vector<float>({3, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
}

Tensor axes(std::vector<int64_t> values) {
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values);
}

TEST(ReductionReduce, SumAxesInputOpset13) {
  auto out = run_kernel("ReduceSum", {one_to_twelve(), axes({1})}, {{"keepdims", int_attr(1)}}, 13);
  expect_floats(out[0], {3, 1, 2}, {4, 6, 12, 14, 20, 22});
}

TEST(ReductionReduce, SumAxesAttributeOpset11) {
  auto out = run_kernel("ReduceSum", {one_to_twelve()},
                        {{"axes", ints_attr({0, 2})}, {"keepdims", int_attr(0)}}, 11);
  expect_floats(out[0], {2}, {1 + 2 + 5 + 6 + 9 + 10, 3 + 4 + 7 + 8 + 11 + 12});
}

TEST(ReductionReduce, SumEmptyAxesReducesAllOrIsNoop) {
  auto all = run_kernel("ReduceSum", {one_to_twelve(), axes({})}, {}, 13);
  expect_floats(all[0], {1, 1, 1}, {78});
  auto absent = run_kernel("ReduceSum", {one_to_twelve()}, {{"keepdims", int_attr(0)}}, 13);
  expect_floats(absent[0], {}, {78});
  auto noop = run_kernel("ReduceSum", {one_to_twelve(), axes({})}, {{"noop_with_empty_axes", int_attr(1)}}, 13);
  expect_floats(noop[0], {3, 2, 2}, one_to_twelve().to_vector<float>());
}

TEST(ReductionReduce, MeanNegativeAxis) {
  auto out = run_kernel("ReduceMean", {one_to_twelve()}, {{"axes", ints_attr({-2})}}, 13);
  expect_floats(out[0], {3, 1, 2}, {2, 3, 6, 7, 10, 11});
}

TEST(ReductionReduce, MaxMinProd) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {3, -1, 2, -4, 5, 0.5f});
  expect_floats(run_kernel("ReduceMax", {x}, {{"axes", ints_attr({1})}}, 13)[0], {2, 1}, {3, 5});
  expect_floats(run_kernel("ReduceMin", {x}, {{"axes", ints_attr({1})}}, 13)[0], {2, 1}, {-1, -4});
  expect_floats(run_kernel("ReduceProd", {x}, {{"axes", ints_attr({0})}}, 13)[0], {1, 3}, {-12, -5, 1});
}

TEST(ReductionReduce, MaxPropagatesNan) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Tensor::from_vector<float>({3}, {1, nan, 2});
  expect_floats(run_kernel("ReduceMax", {x}, {}, 13)[0], {1}, {nan});
}

TEST(ReductionReduce, NormsAndLogs) {
  Tensor x = Tensor::from_vector<float>({2, 2}, {3, -4, 1, 2});
  const Shape rows{2, 1};
  expect_floats(run_kernel("ReduceL1", {x}, {{"axes", ints_attr({1})}}, 13)[0], rows, {7, 3});
  expect_floats(run_kernel("ReduceL2", {x}, {{"axes", ints_attr({1})}}, 13)[0], rows, {5, std::sqrt(5.0f)});
  expect_floats(run_kernel("ReduceSumSquare", {x}, {{"axes", ints_attr({1})}}, 13)[0], rows, {25, 5});
  Tensor positive = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 7});
  expect_floats(run_kernel("ReduceLogSum", {positive}, {{"axes", ints_attr({1})}}, 13)[0], rows,
                {std::log(3.0f), std::log(10.0f)});
}

TEST(ReductionReduce, LogSumExpIsStableForLargeInputs) {
  // log(e^1000 + e^1000) = 1000 + log 2, although e^1000 overflows even double.
  Tensor x = Tensor::from_vector<float>({2, 2}, {1000, 1000, 0, 0});
  expect_floats(run_kernel("ReduceLogSumExp", {x}, {{"axes", ints_attr({1})}, {"keepdims", int_attr(0)}}, 13)[0],
                {2}, {1000 + std::log(2.0f), std::log(2.0f)});
  const float inf = std::numeric_limits<float>::infinity();
  Tensor minus_inf = Tensor::from_vector<float>({2}, {-inf, -inf});
  expect_floats(run_kernel("ReduceLogSumExp", {minus_inf}, {}, 13)[0], {1}, {-inf});
}

TEST(ReductionReduce, IntegerSumAndTruncatingMean) {
  Tensor x = Tensor::from_vector<int32_t>({2, 2}, {1, 2, -3, 6});
  Tensor sum = run_kernel("ReduceSum", {x, axes({1})}, {}, 13)[0];
  EXPECT_EQ(sum.to_vector<int32_t>(), (std::vector<int32_t>{3, 3}));
  Tensor mean = run_kernel("ReduceMean", {x}, {{"axes", ints_attr({1})}}, 13)[0];
  EXPECT_EQ(mean.to_vector<int32_t>(), (std::vector<int32_t>{1, 1}));  // 3/2 and 3/2 truncate
  Tensor max = run_kernel("ReduceMax", {Tensor::from_vector<uint8_t>({3}, {7, 250, 3})}, {}, 13)[0];
  EXPECT_EQ(max.to_vector<uint8_t>(), (std::vector<uint8_t>{250}));
}

TEST(ReductionReduce, EmptyReductionGivesIdentity) {
  Tensor x(DType::Float32, {2, 0});
  expect_floats(run_kernel("ReduceSum", {x, axes({1})}, {}, 13)[0], {2, 1}, {0, 0});
  expect_floats(run_kernel("ReduceProd", {x}, {{"axes", ints_attr({1})}}, 13)[0], {2, 1}, {1, 1});
}

TEST(ReductionReduce, BadAxesAreUserErrors) {
  EXPECT_THROW(run_kernel("ReduceSum", {one_to_twelve(), axes({3})}, {}, 13), UserError);
  EXPECT_THROW(run_kernel("ReduceMean", {one_to_twelve()}, {{"axes", ints_attr({1, -2})}}, 13), UserError);
}

// Softmax of one slice by its definition, for the expectations below.
std::vector<float> softmax_of(const std::vector<double>& x) {
  double sum = 0;
  for (double v : x) sum += std::exp(v);
  std::vector<float> out;
  for (double v : x) out.push_back(static_cast<float>(std::exp(v) / sum));
  return out;
}

TEST(ReductionSoftmax, DefaultAxisOpset13IsLast) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, -1, 0, 5});
  std::vector<float> expected = softmax_of({1, 2, 3});
  for (float v : softmax_of({-1, 0, 5})) expected.push_back(v);
  expect_floats(run_kernel("Softmax", {x}, {}, 13)[0], {2, 3}, expected);
}

TEST(ReductionSoftmax, Opset11CoercesTo2DWhileOpset13UsesOneAxis) {
  // x has shape [2, 2, 2] and values 0..7; axis = 1.
  Tensor x = Tensor::from_vector<float>({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  // Opset 11: rows of the [2, 4] view are normalised whole.
  std::vector<float> flat = softmax_of({0, 1, 2, 3});
  for (float v : softmax_of({4, 5, 6, 7})) flat.push_back(v);
  expect_floats(run_kernel("Softmax", {x}, {{"axis", int_attr(1)}}, 11)[0], {2, 2, 2}, flat);
  // Opset 11's default axis is also 1.
  expect_floats(run_kernel("Softmax", {x}, {}, 11)[0], {2, 2, 2}, flat);

  // Opset 13: pairs along axis 1, i.e. (0, 2), (1, 3), (4, 6), (5, 7); each pair differs by 2.
  const std::vector<float> pair = softmax_of({0, 2});
  expect_floats(run_kernel("Softmax", {x}, {{"axis", int_attr(1)}}, 13)[0], {2, 2, 2},
                {pair[0], pair[0], pair[1], pair[1], pair[0], pair[0], pair[1], pair[1]});
}

TEST(ReductionSoftmax, LogSoftmaxOfLargeNumbers) {
  Tensor x = Tensor::from_vector<float>({1, 3}, {1000, 1001, 1002});
  const float log_sum = static_cast<float>(std::log(1 + std::exp(-1.0) + std::exp(-2.0)));
  expect_floats(run_kernel("LogSoftmax", {x}, {}, 13)[0], {1, 3}, {-2 - log_sum, -1 - log_sum, -log_sum});
}

TEST(ReductionSoftmax, HardmaxMarksFirstMaximum) {
  Tensor x = Tensor::from_vector<float>({2, 4}, {1, 3, 3, 2, -1, -5, -1, -2});
  expect_floats(run_kernel("Hardmax", {x}, {}, 13)[0], {2, 4}, {0, 1, 0, 0, 1, 0, 0, 0});
  // Opset 11, axis 0 on [2, 2, 2]: one-hot over all 8 values.
  Tensor y = Tensor::from_vector<float>({2, 2, 2}, {0, 9, 2, 3, 9, 5, 6, 7});
  expect_floats(run_kernel("Hardmax", {y}, {{"axis", int_attr(0)}}, 11)[0], {2, 2, 2}, {0, 1, 0, 0, 0, 0, 0, 0});
}

TEST(ReductionArg, ArgMaxKeepdimsAndSelectLast) {
  Tensor x = Tensor::from_vector<float>({2, 2}, {2, 2, 3, 10});
  Tensor first = run_kernel("ArgMax", {x}, {{"axis", int_attr(1)}}, 13)[0];
  EXPECT_EQ(first.shape(), (Shape{2, 1}));
  EXPECT_EQ(first.to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
  Tensor last = run_kernel("ArgMax", {x}, {{"axis", int_attr(1)}, {"select_last_index", int_attr(1)}}, 13)[0];
  EXPECT_EQ(last.to_vector<int64_t>(), (std::vector<int64_t>{1, 1}));
}

TEST(ReductionArg, ArgMinDefaultAxisNoKeepdims) {
  Tensor x = Tensor::from_vector<int32_t>({3, 2}, {4, -1, 2, 7, 2, 9});
  Tensor out = run_kernel("ArgMin", {x}, {{"keepdims", int_attr(0)}}, 13)[0];
  EXPECT_EQ(out.shape(), (Shape{2}));
  EXPECT_EQ(out.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  Tensor last = run_kernel("ArgMin", {x}, {{"keepdims", int_attr(0)}, {"select_last_index", int_attr(1)}}, 13)[0];
  EXPECT_EQ(last.to_vector<int64_t>(), (std::vector<int64_t>{2, 0}));
}

TEST(ReductionCumSum, ExclusiveAndReverse) {
  Tensor x = Tensor::from_vector<double>({5}, {1, 2, 3, 4, 5});
  Tensor axis = Tensor::scalar<int32_t>(0);
  auto cumsum = [&](int64_t exclusive, int64_t reverse) {
    return run_kernel("CumSum", {x, axis}, {{"exclusive", int_attr(exclusive)}, {"reverse", int_attr(reverse)}}, 14)[0]
        .to_vector<double>();
  };
  EXPECT_EQ(cumsum(0, 0), (std::vector<double>{1, 3, 6, 10, 15}));
  EXPECT_EQ(cumsum(1, 0), (std::vector<double>{0, 1, 3, 6, 10}));
  EXPECT_EQ(cumsum(0, 1), (std::vector<double>{15, 14, 12, 9, 5}));
  EXPECT_EQ(cumsum(1, 1), (std::vector<double>{14, 12, 9, 5, 0}));
}

TEST(ReductionCumSum, TwoDimensionalAxes) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  expect_floats(run_kernel("CumSum", {x, Tensor::scalar<int64_t>(0)}, {}, 14)[0], {2, 3}, {1, 2, 3, 5, 7, 9});
  expect_floats(run_kernel("CumSum", {x, Tensor::scalar<int64_t>(-1)}, {}, 14)[0], {2, 3}, {1, 3, 6, 4, 9, 15});
}

TEST(ReductionTopK, LargestAlongAxis) {
  Tensor x = Tensor::from_vector<float>({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 11, 10, 9, 8});
  auto out = run_kernel("TopK", {x, axes({3})}, {{"axis", int_attr(1)}}, 11, 2);
  expect_floats(out[0], {3, 3}, {3, 2, 1, 7, 6, 5, 11, 10, 9});
  EXPECT_EQ(out[1].to_vector<int64_t>(), (std::vector<int64_t>{3, 2, 1, 3, 2, 1, 0, 1, 2}));
}

TEST(ReductionTopK, TiesGoToLowerIndex) {
  Tensor x = Tensor::from_vector<float>({5}, {1, 3, 2, 3, 1});
  auto largest = run_kernel("TopK", {x, axes({3})}, {}, 11, 2);
  expect_floats(largest[0], {3}, {3, 3, 2});
  EXPECT_EQ(largest[1].to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 2}));
  auto smallest = run_kernel("TopK", {x, axes({3})}, {{"largest", int_attr(0)}}, 11, 2);
  expect_floats(smallest[0], {3}, {1, 1, 2});
  EXPECT_EQ(smallest[1].to_vector<int64_t>(), (std::vector<int64_t>{0, 4, 2}));
}

TEST(ReductionTopK, Opset1TakesKAsAttribute) {
  Tensor x = Tensor::from_vector<float>({4}, {5, 9, 1, 7});
  auto out = run_kernel("TopK", {x}, {{"k", int_attr(2)}}, 1, 2);
  expect_floats(out[0], {2}, {9, 7});
  EXPECT_EQ(out[1].to_vector<int64_t>(), (std::vector<int64_t>{1, 3}));
  EXPECT_THROW(run_kernel("TopK", {x, axes({5})}, {}, 11, 2), UserError);
}

TEST(ReductionNormalization, LpNormalization) {
  Tensor x = Tensor::from_vector<float>({3, 2}, {3, 4, -3, 4, 0, 0});
  expect_floats(run_kernel("LpNormalization", {x}, {}, 13)[0], {3, 2}, {0.6f, 0.8f, -0.6f, 0.8f, 0, 0});
  expect_floats(run_kernel("LpNormalization", {x}, {{"p", int_attr(1)}}, 13)[0], {3, 2},
                {3.0f / 7, 4.0f / 7, -3.0f / 7, 4.0f / 7, 0, 0});
  expect_floats(run_kernel("LpNormalization", {x}, {{"axis", int_attr(0)}}, 13)[0], {3, 2},
                {3 / std::sqrt(18.0f), 4 / std::sqrt(32.0f), -3 / std::sqrt(18.0f), 4 / std::sqrt(32.0f), 0, 0});
}

TEST(ReductionNormalization, MeanVarianceNormalizationPerChannel) {
  // Shape [1, 2, 1, 2], default axes [0, 2, 3]: channel 0 holds {1, 3} (mean 2, std 1),
  // channel 1 holds {5, 5} (std 0: the 1e-9 of ONNX's definition keeps the result 0).
  Tensor x = Tensor::from_vector<float>({1, 2, 1, 2}, {1, 3, 5, 5});
  expect_floats(run_kernel("MeanVarianceNormalization", {x}, {}, 13)[0], {1, 2, 1, 2}, {-1, 1, 0, 0});
}

}  // namespace
}  // namespace ocs
