// TensorStats: hand-computed moments and per-channel maxima, batches vs one shot, bounded
// memory, and the user errors.
#include "calib/tensor_stats.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace ocs {
namespace {

TEST(CalibTensorStats, HandComputedSmallTensor) {
  // Shape [N=2, C=2, 2], channel axis 1. Channel 0 holds {1, -2, 3, 0}, channel 1 {4, -6, 0.5, 1}.
  Tensor t = Tensor::from_vector<float>({2, 2, 2}, {1, -2, 4, -6, 3, 0, 0.5f, 1});
  TensorStats s = stats_of_tensor(t, 1);
  EXPECT_EQ(s.count(), 8u);
  EXPECT_DOUBLE_EQ(s.sum(), 1.5);             // 1 - 2 + 4 - 6 + 3 + 0 + 0.5 + 1
  EXPECT_DOUBLE_EQ(s.sum_squares(), 67.25);   // 1 + 4 + 16 + 36 + 9 + 0 + 0.25 + 1
  EXPECT_DOUBLE_EQ(s.sum_abs(), 17.5);
  EXPECT_EQ(s.min(), -6.0);
  EXPECT_EQ(s.max(), 4.0);
  EXPECT_EQ(s.max_abs(), 6.0);
  EXPECT_EQ(s.channel_max_abs(), (std::vector<double>{3.0, 6.0}));
  EXPECT_DOUBLE_EQ(s.mean(), 0.1875);
  EXPECT_DOUBLE_EQ(s.variance(), 67.25 / 8 - 0.1875 * 0.1875);
  // One batch: the reference point is the exact mean 0.1875, so b = mean|x - mean| exactly:
  // |x - m| = 0.8125, 2.1875, 3.8125, 6.1875, 2.8125, 0.1875, 0.3125, 0.8125 -> sum 17.125.
  EXPECT_DOUBLE_EQ(s.mean_abs_deviation(), 17.125 / 8);
  EXPECT_EQ(s.histogram().count(), 8u);
  EXPECT_EQ(s.histogram().max_abs(), 6.0);
}

TEST(CalibTensorStats, ChannelAxisOfASequenceCountsFromTheEnd) {
  // [T=2, N=1, C=3] with axis -1 (= 2).
  Tensor t = Tensor::from_vector<float>({2, 1, 3}, {1, -5, 2, -3, 4, 0});
  TensorStats s = stats_of_tensor(t, -1);
  EXPECT_EQ(s.channel_max_abs(), (std::vector<double>{3.0, 5.0, 2.0}));
}

TEST(CalibTensorStats, NonFiniteValuesAreCountedApart) {
  const float inf = std::numeric_limits<float>::infinity();
  Tensor t = Tensor::from_vector<float>({4}, {1, std::nanf(""), -inf, -3});
  TensorStats s = stats_of_tensor(t, kNoChannelAxis);
  EXPECT_EQ(s.count(), 2u);
  EXPECT_EQ(s.nonfinite_count(), 2u);
  EXPECT_EQ(s.max_abs(), 3.0);
  EXPECT_DOUBLE_EQ(s.sum(), -2.0);
}

TEST(CalibTensorStats, BatchesGiveTheSameStatsAsOneShot) {
  // 8 images of [C=4, 3, 3], the channels with different scales; fed as 4 batches of 2.
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.5f, 1.0f);
  std::vector<float> all;
  for (int n = 0; n < 8; ++n)
    for (int c = 0; c < 4; ++c)
      for (int i = 0; i < 9; ++i) all.push_back(normal(rng) * static_cast<float>(1 + c) * (1 + n));
  TensorStats one_shot = stats_of_tensor(Tensor::from_vector<float>({8, 4, 3, 3}, all), 1);
  TensorStats streamed(1);
  for (int b = 0; b < 4; ++b) {
    std::vector<float> part(all.begin() + b * 72, all.begin() + (b + 1) * 72);
    streamed.update(Tensor::from_vector<float>({2, 4, 3, 3}, part));
  }
  // Same elements in the same order: sums are bit-identical, not just close.
  EXPECT_EQ(streamed.count(), one_shot.count());
  EXPECT_EQ(streamed.sum(), one_shot.sum());
  EXPECT_EQ(streamed.sum_squares(), one_shot.sum_squares());
  EXPECT_EQ(streamed.sum_abs(), one_shot.sum_abs());
  EXPECT_EQ(streamed.min(), one_shot.min());
  EXPECT_EQ(streamed.max(), one_shot.max());
  EXPECT_EQ(streamed.max_abs(), one_shot.max_abs());
  EXPECT_EQ(streamed.channel_max_abs(), one_shot.channel_max_abs());
  EXPECT_EQ(streamed.histogram().counts(), one_shot.histogram().counts());
  EXPECT_EQ(streamed.histogram().range(), one_shot.histogram().range());
  EXPECT_EQ(streamed.batches(), 4u);
  // mean|x - mean| streams about the first batch's mean: within |mean - ref| of the exact value
  // (the triangle inequality; plus 1e-12 for summation order).
  const double bound = std::fabs(streamed.mean() - streamed.abs_deviation_reference());
  EXPECT_NEAR(streamed.mean_abs_deviation(), one_shot.mean_abs_deviation(), bound + 1e-12);
}

TEST(CalibTensorStats, MemoryDoesNotGrowWithBatches) {
  TensorStats s(1);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  std::vector<float> values(2 * 3 * 4);
  for (int b = 0; b < 1000; ++b) {
    for (float& v : values) v = uniform(rng);
    s.update(Tensor::from_vector<float>({2, 3, 4}, values));
    ASSERT_EQ(s.histogram().counts().size(), static_cast<size_t>(kDefaultHistogramBins));
    ASSERT_EQ(s.channel_max_abs().size(), 3u);
  }
  EXPECT_EQ(s.count(), 1000u * 24u);
}

TEST(CalibTensorStats, UserErrors) {
  TensorStats s(1);
  EXPECT_THROW(s.update(Tensor::from_vector<int64_t>({2, 2}, {1, 2, 3, 4})), UserError);
  EXPECT_THROW(s.update(Tensor::from_vector<float>({4}, {1, 2, 3, 4})), UserError);  // no axis 1
  s.update(Tensor::from_vector<float>({1, 2}, {1, 2}));
  EXPECT_THROW(s.update(Tensor::from_vector<float>({1, 3}, {1, 2, 3})), UserError);  // 3 != 2
  EXPECT_NO_THROW(s.update(Tensor::from_vector<float>({5, 2}, std::vector<float>(10, 1.0f))));
}

}  // namespace
}  // namespace ocs
