// The streaming |x| histogram: bin placement by hand, exact counts and max through range growth,
// batches vs one shot, merge, and memory that does not grow with the number of batches.
#include "calib/histogram.h"
#include "calib/signed_histogram.h"

#include "core/error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace ocs {
namespace {

std::vector<uint64_t> counts_of(std::initializer_list<uint64_t> c) { return c; }

TEST(CalibHistogram, PlacesValuesInHandComputedBins) {
  // max|x| = 3.5 -> range = 4 (next power of two above), 8 bins of width 0.5.
  AbsHistogram h(8);
  std::vector<float> values = {0.0f, -0.25f, 0.5f, 1.4f, -2.0f, 3.5f};
  h.add(values);
  EXPECT_EQ(h.range(), 4.0);
  EXPECT_EQ(h.bin_width(), 0.5);
  // |x|: 0 -> bin 0, 0.25 -> 0, 0.5 -> 1 (half-open bins), 1.4 -> 2, 2.0 -> 4, 3.5 -> 7.
  EXPECT_EQ(h.counts(), counts_of({2, 1, 1, 0, 1, 0, 0, 1}));
  EXPECT_EQ(h.count(), 6u);
  EXPECT_EQ(h.zero_count(), 1u);
  EXPECT_EQ(h.max_abs(), 3.5);
  EXPECT_EQ(h.used_bins(), 8);
}

TEST(CalibHistogram, RangeIsStrictlyAboveAPowerOfTwoMax) {
  AbsHistogram h(4);
  std::vector<float> values = {2.0f};
  h.add(values);
  EXPECT_EQ(h.range(), 4.0);  // 2 itself would be the (excluded) upper edge
  EXPECT_EQ(h.counts(), counts_of({0, 0, 1, 0}));
}

TEST(CalibHistogram, GrowthKeepsCountsAndMaxExact) {
  AbsHistogram h(8);
  std::vector<float> first = {0.1f, 0.2f, 0.3f, 0.0f};  // range 0.5
  h.add(first);
  EXPECT_EQ(h.range(), 0.5);
  std::vector<float> second = {-5.0f};  // range 8: 4 doublings, bins merged 16 to 1
  h.add(second);
  std::vector<float> third = {100.0f, 7.0f};  // range 128
  h.add(third);
  EXPECT_EQ(h.range(), 128.0);
  EXPECT_EQ(h.count(), 7u);
  EXPECT_EQ(h.zero_count(), 1u);
  EXPECT_EQ(h.max_abs(), 100.0);
  // Width 16: {0, .1, .2, .3, 5, 7} in bin 0, 100 in bin 6.
  EXPECT_EQ(h.counts(), counts_of({6, 0, 0, 0, 0, 0, 1, 0}));
}

TEST(CalibHistogram, ZerosBeforeAnyPositiveValueStayInBinZero) {
  AbsHistogram h(4);
  std::vector<float> zeros = {0.0f, -0.0f};
  h.add(zeros);
  EXPECT_EQ(h.range(), 0.0);
  EXPECT_EQ(h.counts(), counts_of({2, 0, 0, 0}));
  std::vector<float> later = {3.0f};
  h.add(later);
  EXPECT_EQ(h.counts(), counts_of({2, 0, 0, 1}));
  EXPECT_EQ(h.zero_count(), 2u);
}

TEST(CalibHistogram, SkipsNonFiniteValues) {
  AbsHistogram h(4);
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> values = {1.0f, std::nanf(""), inf, -inf};
  h.add(values);
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.max_abs(), 1.0);
  EXPECT_EQ(h.range(), 2.0);
}

// Batches whose scale grows by 10x per batch: the histogram re-bins many times.
std::vector<std::vector<float>> growing_batches(int batches, int per_batch, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::vector<float>> result;
  float scale = 1e-3f;
  for (int b = 0; b < batches; ++b) {
    std::vector<float> batch;
    for (int i = 0; i < per_batch; ++i) batch.push_back(scale * normal(rng));
    result.push_back(batch);
    scale *= 10.0f;
  }
  return result;
}

TEST(CalibHistogram, BatchesGiveTheSameCountsAsOneShot) {
  auto batches = growing_batches(6, 1000, 7);
  AbsHistogram streamed;
  std::vector<float> all;
  for (const auto& batch : batches) {
    streamed.add(batch);
    all.insert(all.end(), batch.begin(), batch.end());
  }
  AbsHistogram one_shot;
  one_shot.add(all);
  EXPECT_EQ(streamed.range(), one_shot.range());
  EXPECT_EQ(streamed.counts(), one_shot.counts());  // exact: bins are power-of-two aligned
  EXPECT_EQ(streamed.count(), 6000u);
  EXPECT_EQ(streamed.max_abs(), one_shot.max_abs());
}

TEST(CalibHistogram, MergeEqualsOneShot) {
  auto batches = growing_batches(4, 500, 11);
  AbsHistogram small_range, large_range, empty, one_shot;
  small_range.add(batches[0]);
  large_range.add(batches[3]);
  small_range.merge(large_range);  // widen this one
  large_range.merge(empty);
  AbsHistogram other_way;
  other_way.add(batches[3]);
  AbsHistogram first;
  first.add(batches[0]);
  other_way.merge(first);  // widen the argument
  std::vector<float> all = batches[0];
  all.insert(all.end(), batches[3].begin(), batches[3].end());
  one_shot.add(all);
  EXPECT_EQ(small_range.counts(), one_shot.counts());
  EXPECT_EQ(other_way.counts(), one_shot.counts());
  EXPECT_EQ(small_range.count(), 1000u);
  EXPECT_EQ(small_range.max_abs(), one_shot.max_abs());
  EXPECT_EQ(small_range.range(), one_shot.range());
}

TEST(CalibHistogram, MemoryDoesNotGrowWithBatches) {
  AbsHistogram h;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> batch(256);
  for (int b = 0; b < 2000; ++b) {
    for (float& v : batch) v = uniform(rng) * static_cast<float>(1 + b % 50);
    h.add(batch);
    ASSERT_EQ(h.counts().size(), static_cast<size_t>(kDefaultHistogramBins));
  }
  EXPECT_EQ(h.num_bins(), 2048);
  EXPECT_EQ(h.count(), 2000u * 256u);
}

TEST(CalibHistogram, BinCountMustBeAPowerOfTwo) {
  EXPECT_THROW(AbsHistogram(1000), UserError);
  EXPECT_THROW(AbsHistogram(1), UserError);
  EXPECT_NO_THROW(AbsHistogram(1024));
}

}  // namespace
}  // namespace ocs

namespace ocs {
namespace {

// The signed histogram: batching does not change its counts (ranges double exactly), and
// re-binning to a grid whose edges are fine-bin edges returns the exact counts.
TEST(CalibSignedHistogram, BatchingInvariantAndExactOnAlignedGrids) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(5000);
  for (float& v : values) v = normal(rng);
  values[17] = 0.0f;
  values[18] = 3.75f;
  for (size_t i = 0; i < 100; ++i) values[i] *= 0.01f;  // a first batch with a tiny range, widened later
  SignedHistogram whole(64), batched(64);
  whole.add(values);
  batched.add(std::span<const float>(values).subspan(0, 100));
  batched.add(std::span<const float>(values).subspan(100));
  EXPECT_EQ(whole.positive_counts(), batched.positive_counts());
  EXPECT_EQ(whole.negative_counts(), batched.negative_counts());
  EXPECT_EQ(whole.zero_count(), 1u);
  EXPECT_EQ(whole.count(), 5000u);
  // Range: the power of two above max|x| (3.75 or a larger sample), 64 bins per sign. A grid of
  // 2 bins over [-R, R] splits at 0: negatives left, positives and the zero right.
  const double r = whole.range();
  const std::vector<double> halves = whole.rebin(2, -r, r);
  int64_t negatives = 0;
  for (float v : values) negatives += v < 0.0f;
  EXPECT_DOUBLE_EQ(halves[0], static_cast<double>(negatives));
  EXPECT_DOUBLE_EQ(halves[1], static_cast<double>(5000 - negatives));
  EXPECT_THROW(SignedHistogram(100), UserError);
}

}  // namespace
}  // namespace ocs
