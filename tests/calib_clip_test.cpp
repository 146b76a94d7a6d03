// The clip-method factory, max and percentile (exact on samples built so the answer is known).
#include "calib/clip_method.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ocs {
namespace {

TensorStats stats_of(const std::vector<float>& values, int64_t bins = kDefaultHistogramBins) {
  return stats_of_tensor(Tensor::from_vector<float>({static_cast<int64_t>(values.size())}, values),
                         kNoChannelAxis, bins);
}

TEST(CalibClip, FactoryNamesAndErrors) {
  for (const char* spec : {"max", "mse", "aciq", "kl", "mse-fine", "aciq-std", "kl-nonzero", "percentile:99.9"})
    EXPECT_EQ(make_clip_method(spec)->name(), spec);
  EXPECT_EQ(make_clip_method("percentile")->name(), "percentile:99.99");
  try {
    make_clip_method("entropy");
    FAIL() << "expected a UserError";
  } catch (const UserError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("entropy"), std::string::npos);
    for (const char* valid : {"max", "mse", "aciq", "kl", "mse-fine", "aciq-std", "kl-nonzero", "percentile"})
      EXPECT_NE(message.find(valid), std::string::npos) << message;
  }
  EXPECT_THROW(make_clip_method("percentile:"), UserError);
  EXPECT_THROW(make_clip_method("percentile:abc"), UserError);
  EXPECT_THROW(make_clip_method("percentile:99x"), UserError);
  EXPECT_THROW(make_clip_method("percentile:0"), UserError);
  EXPECT_THROW(make_clip_method("percentile:100.5"), UserError);
  EXPECT_THROW(make_clip_method("max")->threshold(stats_of({1.0f}), 1), UserError);
  EXPECT_THROW(make_clip_method("max")->threshold(stats_of({1.0f}), 17), UserError);
}

TEST(CalibClip, MaxIsTheLargestMagnitude) {
  auto max = make_clip_method("max");
  EXPECT_EQ(max->threshold(stats_of({0.5f, -7.25f, 3.0f}), 8), 7.25);
  EXPECT_EQ(max->threshold(stats_of({0.5f, -7.25f, 3.0f}), 2), 7.25);
}

TEST(CalibClip, AllZeroTensorGivesZeroThresholdEverywhere) {
  TensorStats zeros = stats_of({0.0f, 0.0f, -0.0f});
  const Tensor zero_tensor = Tensor::from_vector<float>({3}, {0.0f, 0.0f, -0.0f});
  for (const char* spec : {"max", "mse", "aciq", "kl", "mse-fine", "aciq-std", "kl-nonzero", "percentile:50"}) {
    EXPECT_EQ(make_clip_method(spec)->threshold(zeros, 8), 0.0) << spec;
    EXPECT_EQ(make_clip_method(spec)->threshold_of_tensor(zero_tensor, 8), 0.0) << spec;
  }
}

// 80 values, 10 in each unit interval [j, j + 1) for j = 0..7 at j + (m + 0.5) / 10: with 8 bins
// the histogram's range is 8 and every bin holds 10 evenly spread values.
std::vector<float> ten_per_unit() {
  std::vector<float> values;
  for (int j = 0; j < 8; ++j)
    for (int m = 0; m < 10; ++m) values.push_back(static_cast<float>(j + (m + 0.5) / 10.0));
  return values;
}

TEST(CalibClip, PercentileOnABinEdgeIsExact) {
  TensorStats s = stats_of(ten_per_unit(), 8);
  ASSERT_EQ(s.histogram().range(), 8.0);
  // 50% of 80 = 40 values = bins 0..3 exactly: t = 4.
  EXPECT_EQ(make_clip_percentile(50)->threshold(s, 8), 4.0);
  // 12.5% = 10 values = bin 0: t = 1.
  EXPECT_EQ(make_clip_percentile(12.5)->threshold(s, 8), 1.0);
  // 100%: the exact max, 7.95f.
  EXPECT_EQ(make_clip_percentile(100)->threshold(s, 8), static_cast<double>(7.95f));
}

TEST(CalibClip, PercentileInsideABinInterpolates) {
  TensorStats s = stats_of(ten_per_unit(), 8);
  // 45% = 36 values: 30 below bin 3, 6 of its 10 -> 3 + 0.6 = 3.6 (the uniform-spread estimate;
  // the 36th order statistic is 3.55, within one bin width).
  EXPECT_NEAR(make_clip_percentile(45)->threshold(s, 8), 3.6, 1e-12);
  // The top bin's upper edge is cut at max|x| = 7.95: 95% = 76 values -> 7 + 6/10 * 0.95.
  EXPECT_NEAR(make_clip_percentile(95)->threshold(s, 8), 7.0 + 0.6 * (7.95f - 7.0), 1e-6);
}

TEST(CalibClip, PercentileOfEvenlySpreadValuesWithinOneBinWidth) {
  // x_k = (k + 0.5) / n for k < n = 100000: the p-th percentile of |x| is p/100 to within 1/n.
  const int n = 100000;
  std::vector<float> values;
  for (int k = 0; k < n; ++k) values.push_back(static_cast<float>((k + 0.5) / n) * (k % 2 ? 1 : -1));
  TensorStats s = stats_of(values);
  const double bin_width = s.histogram().bin_width();  // 1 / 2048
  for (double p : {50.0, 90.0, 99.0, 99.9, 99.99})
    EXPECT_NEAR(make_clip_percentile(p)->threshold(s, 8), p / 100.0, bin_width) << p;
}

TEST(CalibClip, PercentileAmongExactZerosFallsBackToMax) {
  std::vector<float> values(99, 0.0f);
  values.push_back(2.0f);
  EXPECT_EQ(make_clip_percentile(50)->threshold(stats_of(values), 8), 2.0);
}

}  // namespace
}  // namespace ocs
