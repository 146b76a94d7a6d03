// The vectorised, threaded calibration statistics (calib/stats_loops.h, calib/stats_scan.h and
// what TensorStats / the histograms build on them) against plain single-threaded loops written
// here from the definitions, on data with NaN, +-inf, signed zeros and lengths that are not
// multiples of the vector width; results independent of the thread count and of the batching;
// and each clip method's StatsNeeds enough for its threshold.
#include "calib/clip_method.h"
#include "calib/histogram.h"
#include "calib/signed_histogram.h"
#include "calib/stats_scan.h"
#include "calib/tensor_stats.h"
#include "core/error.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace ocs {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Normal values with NaN, +-inf, +-0 and a few large magnitudes sprinkled in.
std::vector<float> awkward_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.3f, 2.0f);
  std::uniform_int_distribution<int> pick(0, 99);
  std::vector<float> v(n);
  for (float& x : v) {
    const int p = pick(rng);
    x = p == 0 ? std::nanf("") : p == 1 ? kInf : p == 2 ? -kInf : p == 3 ? 0.0f : p == 4 ? -0.0f
        : p == 5 ? normal(rng) * 1000.0f : normal(rng);
  }
  return v;
}

bool finite(float v) { return std::isfinite(v); }

// Runs `body` with the given OpenMP thread count, restoring the previous one.
template <typename Body>
void with_threads(int threads, Body body) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);
  body();
  omp_set_num_threads(saved);
}

TEST(CalibStatsScan, ExtremesMatchAPlainLoop) {
  for (size_t n : {0, 1, 7, 15, 16, 17, 33, 1000, 70001}) {
    const std::vector<float> v = awkward_values(n, static_cast<uint32_t>(n));
    uint64_t count = 0;
    float lo = kInf, hi = -kInf;
    for (float x : v)
      if (finite(x)) ++count, lo = std::min(lo, x), hi = std::max(hi, x);
    for (int threads : {1, 2, 3}) {
      Extremes e;
      with_threads(threads, [&] { e = parallel_extremes(v); });
      EXPECT_EQ(e.count, count) << n;
      EXPECT_EQ(e.nonfinite, n - count) << n;
      if (count > 0) {
        EXPECT_EQ(e.min, lo) << n;
        EXPECT_EQ(e.max, hi) << n;
      }
    }
  }
}

TEST(CalibStatsScan, AllNonFiniteRunHasNoExtremes) {
  const std::vector<float> v(40, std::nanf(""));
  const Extremes e = parallel_extremes(v);
  EXPECT_EQ(e.count, 0u);
  EXPECT_EQ(e.nonfinite, 40u);
  EXPECT_EQ(max_abs_finite(v.data(), 40), 0.0f);
}

// The block/lane summation of BlockSums, written as the plain definition: value k of the stream
// goes to lane (k mod kBlock) mod 16 of block k / kBlock; lanes fold pairwise; blocks add in order.
std::array<double, 4> reference_block_sums(const std::vector<float>& v, double ref) {
  std::array<double, 4> total{};
  const size_t block = static_cast<size_t>(BlockSums::kBlock);
  for (size_t start = 0; start < v.size(); start += block) {
    double lanes[4][kSumLanes] = {};
    for (size_t k = start; k < std::min(v.size(), start + block); ++k) {
      if (!finite(v[k])) continue;
      const size_t lane = (k - start) % kSumLanes;
      const double x = v[k];
      lanes[0][lane] += x;
      lanes[1][lane] += x * x;
      lanes[2][lane] += std::fabs(x);
      lanes[3][lane] += std::fabs(x - ref);
    }
    for (int q = 0; q < 4; ++q) {
      double level[kSumLanes];
      std::copy(lanes[q], lanes[q] + kSumLanes, level);
      for (int width = kSumLanes / 2; width >= 1; width /= 2)
        for (int j = 0; j < width; ++j) level[j] = level[2 * j] + level[2 * j + 1];
      total[static_cast<size_t>(q)] += level[0];
    }
  }
  return total;
}

TEST(CalibStatsScan, BlockSumsFollowTheirDefinitionInAnyBatchingAndThreadCount) {
  const std::vector<float> v = awkward_values(3 * BlockSums::kBlock * 5 + 1234, 7);
  const double ref = 0.25;
  const std::array<double, 4> expected = reference_block_sums(v, ref);
  // Batches that cut blocks anywhere (and one empty batch), on 1 to 3 threads.
  const std::vector<size_t> cuts = {0, 5, 5, 4100, 9000, 40000, v.size()};
  for (int threads : {1, 2, 3}) {
    BlockSums sums;
    with_threads(threads, [&] {
      for (size_t c = 1; c < cuts.size(); ++c)
        sums.add(v.data() + cuts[c - 1], static_cast<int64_t>(cuts[c] - cuts[c - 1]), ref);
    });
    EXPECT_EQ(sums.sum(), expected[0]) << threads;
    EXPECT_EQ(sums.sum_squares(), expected[1]) << threads;
    EXPECT_EQ(sums.sum_abs(), expected[2]) << threads;
    EXPECT_EQ(sums.sum_abs_dev(), expected[3]) << threads;
  }
  // And close to the plain sequential sum: both are within n * eps * sum|x| of the exact value.
  double plain = 0.0, plain_abs = 0.0;
  for (float x : v)
    if (finite(x)) plain += x, plain_abs += std::fabs(x);
  EXPECT_NEAR(expected[0], plain, static_cast<double>(v.size()) * 2.3e-16 * plain_abs);
}

// The bin of a finite value by the histograms' definition: floor(|v| * num_bins / range).
size_t plain_bin(float v, double range, size_t bins) {
  return std::min(static_cast<size_t>(std::floor(std::fabs(static_cast<double>(v)) * static_cast<double>(bins) / range)),
                  bins - 1);
}

TEST(CalibStatsScan, AbsHistogramMatchesAPlainLoop) {
  const std::vector<float> v = awkward_values(100003, 11);
  for (int threads : {1, 2, 3}) {
    AbsHistogram h(256);
    with_threads(threads, [&] { h.add(v); });
    double max_abs = 0.0;
    for (float x : v)
      if (finite(x)) max_abs = std::max(max_abs, static_cast<double>(std::fabs(x)));
    ASSERT_GT(h.range(), max_abs);
    std::vector<uint64_t> counts(256, 0);
    uint64_t count = 0, zeros = 0;
    for (float x : v) {
      if (!finite(x)) continue;
      ++count;
      zeros += x == 0.0f;
      ++counts[plain_bin(x, h.range(), 256)];
    }
    EXPECT_EQ(h.counts(), counts) << threads;
    EXPECT_EQ(h.count(), count);
    EXPECT_EQ(h.zero_count(), zeros);
    EXPECT_EQ(h.max_abs(), max_abs);
  }
}

TEST(CalibStatsScan, SignedHistogramMatchesAPlainLoop) {
  const std::vector<float> v = awkward_values(100003, 13);
  for (int threads : {1, 2, 3}) {
    SignedHistogram h(1024);
    with_threads(threads, [&] { h.add(v); });
    std::vector<uint64_t> positive(1024, 0), negative(1024, 0);
    uint64_t count = 0, zeros = 0;
    double lo = kInf, hi = -kInf;
    for (float x : v) {
      if (!finite(x)) continue;
      ++count;
      lo = std::min<double>(lo, x), hi = std::max<double>(hi, x);
      if (x == 0.0f) ++zeros;
      else ++(x > 0.0f ? positive : negative)[plain_bin(x, h.range(), 1024)];
    }
    EXPECT_EQ(h.positive_counts(), positive) << threads;
    EXPECT_EQ(h.negative_counts(), negative) << threads;
    EXPECT_EQ(h.count(), count);
    EXPECT_EQ(h.zero_count(), zeros);
    EXPECT_EQ(h.min(), lo);
    EXPECT_EQ(h.max(), hi);
  }
}

TEST(CalibStatsScan, ValuesOnBinEdgesGoUp) {
  // range 8 over 8 bins: edges at the integers; v on an edge belongs to the bin above it.
  SignedHistogram h(8);
  std::vector<float> v = {1.0f, 2.0f, -3.0f, 7.0f, 0.999999f, -0.0f, 0.0f, kInf};
  h.add(v);
  EXPECT_EQ(h.range(), 8.0);
  EXPECT_EQ(h.positive_counts(), (std::vector<uint64_t>{1, 1, 1, 0, 0, 0, 0, 1}));
  EXPECT_EQ(h.negative_counts(), (std::vector<uint64_t>{0, 0, 0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(h.zero_count(), 2u);
  EXPECT_EQ(h.count(), 7u);
}

TEST(CalibStatsScan, AbsHistogramReadOffTheSignedOneEqualsBinningAgain) {
  // TensorStats keeping both histograms derives the |x| one (SignedHistogram::magnitudes); over
  // batches whose range grows, it must equal an AbsHistogram fed the same batches directly.
  TensorStats stats(kNoChannelAxis, StatsNeeds{false, true, true}, 64, 512);
  AbsHistogram direct(64);
  for (uint32_t b = 0; b < 5; ++b) {
    std::vector<float> v = awkward_values(3001, 29 + b);
    for (float& x : v) x *= static_cast<float>(1 << (2 * b));  // the range doubles along the way
    stats.update(Tensor::from_vector<float>({3001}, v));
    direct.add(v);
    EXPECT_EQ(stats.histogram().counts(), direct.counts()) << b;
    EXPECT_EQ(stats.histogram().range(), direct.range());
    EXPECT_EQ(stats.histogram().count(), direct.count());
    EXPECT_EQ(stats.histogram().zero_count(), direct.zero_count());
    EXPECT_EQ(stats.histogram().max_abs(), direct.max_abs());
  }
}

TEST(CalibStatsScan, ChannelMaximaMatchAPlainLoop) {
  // [outer, channels, inner] with inner 1 (channels last) and inner 37 (NCHW rows).
  for (int64_t inner : {1, 37}) {
    const int64_t outer = 50, channels = 24;
    const std::vector<float> v = awkward_values(static_cast<size_t>(outer * channels * inner), 17);
    std::vector<double> expected(static_cast<size_t>(channels), 0.0);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < channels; ++c)
        for (int64_t i = 0; i < inner; ++i) {
          const float x = v[static_cast<size_t>((o * channels + c) * inner + i)];
          if (finite(x)) expected[static_cast<size_t>(c)] = std::max<double>(expected[static_cast<size_t>(c)], std::fabs(x));
        }
    for (int threads : {1, 2, 3}) {
      std::vector<double> acc(static_cast<size_t>(channels), 0.0);
      with_threads(threads, [&] { channel_max_abs(v.data(), outer, channels, inner, acc); });
      EXPECT_EQ(acc, expected) << inner << " " << threads;
    }
  }
}

TEST(CalibStatsScan, TensorStatsDoNotDependOnThreadsOrBatching) {
  // 6 batches of [8, 16, 33, 17] (71808 values each, above kMinParallelValues) vs one tensor.
  const Shape batch_shape = {8, 16, 33, 17};
  const size_t per_batch = 8 * 16 * 33 * 17;
  const std::vector<float> all = awkward_values(6 * per_batch, 19);
  TensorStats one_shot(1);
  with_threads(1, [&] { one_shot.update(Tensor::from_vector<float>({48, 16, 33, 17}, all)); });
  for (int threads : {2, 3}) {
    TensorStats streamed(1);
    with_threads(threads, [&] {
      for (size_t b = 0; b < 6; ++b)
        streamed.update(Tensor::from_vector<float>(
            batch_shape, std::vector<float>(all.begin() + static_cast<std::ptrdiff_t>(b * per_batch),
                                            all.begin() + static_cast<std::ptrdiff_t>((b + 1) * per_batch))));
    });
    EXPECT_EQ(streamed.count(), one_shot.count());
    EXPECT_EQ(streamed.nonfinite_count(), one_shot.nonfinite_count());
    EXPECT_EQ(streamed.sum(), one_shot.sum());
    EXPECT_EQ(streamed.sum_squares(), one_shot.sum_squares());
    EXPECT_EQ(streamed.sum_abs(), one_shot.sum_abs());
    EXPECT_EQ(streamed.min(), one_shot.min());
    EXPECT_EQ(streamed.max(), one_shot.max());
    EXPECT_EQ(streamed.max_abs(), one_shot.max_abs());
    EXPECT_EQ(streamed.channel_max_abs(), one_shot.channel_max_abs());
    EXPECT_EQ(streamed.histogram().counts(), one_shot.histogram().counts());
    EXPECT_EQ(streamed.signed_histogram()->positive_counts(), one_shot.signed_histogram()->positive_counts());
    EXPECT_EQ(streamed.signed_histogram()->negative_counts(), one_shot.signed_histogram()->negative_counts());
    // The reference point of mean|x - ref| is the first batch's mean (one_shot: all of it),
    // so those differ within |mean - ref| (tensor_stats.h).
    EXPECT_NEAR(streamed.mean_abs_deviation(), one_shot.mean_abs_deviation(),
                std::fabs(streamed.mean() - streamed.abs_deviation_reference()) + 1e-12);
  }
}

TEST(CalibStatsScan, StatisticsNotGatheredAreAnInternalError) {
  TensorStats s(kNoChannelAxis, StatsNeeds::none());
  s.update(Tensor::from_vector<float>({3}, {1.0f, -2.0f, std::nanf("")}));
  EXPECT_EQ(s.count(), 2u);
  EXPECT_EQ(s.max_abs(), 2.0);
  EXPECT_EQ(s.min(), -2.0);
  EXPECT_FALSE(s.signed_histogram().has_value());
  EXPECT_THROW(s.sum(), InternalError);
  EXPECT_THROW(s.mean(), InternalError);
  EXPECT_THROW(s.histogram(), InternalError);
  EXPECT_EQ(s.needs(), StatsNeeds::none());
  // The old constructor: everything, the signed histogram only with bins.
  EXPECT_EQ(TensorStats(1, kDefaultHistogramBins, 0).needs(), (StatsNeeds{true, true, false}));
}

TEST(CalibStatsScan, EachClipMethodsNeedsAreEnoughForItsThreshold) {
  // Gathering only what a method declares gives the very threshold gathering everything gives.
  const std::vector<float> values = awkward_values(50000, 23);
  const Tensor batch = Tensor::from_vector<float>({50, 1000}, values);
  TensorStats all(1);
  all.update(batch);
  for (const char* spec : {"max", "mse", "aciq", "kl", "mse-fine", "aciq-std", "kl-nonzero", "percentile:99.9"}) {
    const auto method = make_clip_method(spec);
    TensorStats only(kNoChannelAxis, method->needs());
    only.update(batch);
    for (int bits : {4, 8}) EXPECT_EQ(method->threshold(only, bits), method->threshold(all, bits)) << spec << " " << bits;
  }
}

}  // namespace
}  // namespace ocs
