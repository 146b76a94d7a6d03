// KL (entropy) calibration against tiny histograms computed by hand.
#include "calib/clip_kl_nonzero.h"
#include "calib/clip_method.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ocs {
namespace {

TensorStats stats_of(const std::vector<float>& values, int64_t bins) {
  return stats_of_tensor(Tensor::from_vector<float>({static_cast<int64_t>(values.size())}, values),
                         kNoChannelAxis, bins);
}

// 4 bins of width 1 (max 3.5 -> range 4) holding h = [6, 2, 1, 1]; bits = 2 -> L = 2 levels.
// Candidates i = 2, 3, 4 (P has no zeros, so smoothing changes nothing):
//  i = 2: P = [6, 2+1+1] = [6, 4] -> [.6, .4]; Q from [6, 2] in 2 groups of 1 -> [.75, .25]
//         KL = .6 ln(.6/.75) + .4 ln(.4/.25) = .6 ln .8 + .4 ln 1.6
//            = -.133886 + .188001 = .054115
//  i = 3: P = [6, 2, 1+1] -> [.6, .2, .2]; groups of floor(3/2) = 1 bin, the last group takes
//         the remainder: {6}, {2, 1} = 3 shared by 2 non-zero bins -> Q = [6, 1.5, 1.5] / 9
//         KL = .6 ln(.6/(6/9)) + 2 * .2 ln(.2/(1.5/9)) = .6 ln .9 + .4 ln 1.2
//            = -.063216 + .072929 = .009712
//  i = 4: P = [6, 2, 1, 1] / 10; groups {6, 2} = 8 -> 4, 4 and {1, 1} = 2 -> 1, 1
//         KL = .6 ln(6/4) + .2 ln(2/4) = .243279 - .138629 = .104650
// Best: i = 3, threshold 3 * width = 3.
TEST(CalibKl, HandComputedHistogram) {
  std::vector<float> values = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 1.5f, 1.5f, 2.5f, 3.5f};
  TensorStats s = stats_of(values, 4);
  ASSERT_EQ(s.histogram().counts(), (std::vector<uint64_t>{6, 2, 1, 1}));
  std::vector<KlCandidate> candidates = kl_candidates(s.histogram(), 2);
  ASSERT_EQ(candidates.size(), 3u);
  EXPECT_EQ(candidates[0].bins, 2);
  EXPECT_NEAR(candidates[0].divergence, 0.6 * std::log(0.8) + 0.4 * std::log(1.6), 1e-12);
  EXPECT_NEAR(candidates[0].divergence, 0.054115, 1e-6);
  EXPECT_NEAR(candidates[1].divergence, 0.6 * std::log(0.9) + 0.4 * std::log(1.2), 1e-12);
  EXPECT_NEAR(candidates[1].divergence, 0.009712, 1e-6);
  EXPECT_NEAR(candidates[2].divergence, 0.6 * std::log(1.5) + 0.2 * std::log(0.5), 1e-12);
  EXPECT_NEAR(candidates[2].divergence, 0.104650, 1e-6);
  EXPECT_EQ(candidates[1].threshold, 3.0);
  EXPECT_EQ(make_clip_method("kl-nonzero")->threshold(s, 2), 3.0);
}

// Smoothing (eps = 1e-4): h = [3, 0, 1, 1] (max 3.5, range 4), bits = 2.
//  i = 2: P = [3, 0+1+1] = [3, 2]; Q from [3, 0]: groups {3}, {0} -> Q = [3, 0] (the second
//         group's total is 0 though P is not). Q smoothed: 1 zero, 1 non-zero ->
//         [3 - 1e-4, 1e-4]. KL = .6 ln(.6 / ((3 - 1e-4)/3)) + .4 ln(.4 / (1e-4/3))
//            = .6 ln .60002 + .4 ln 12000 = -.306475 + 3.757065 = 3.450589
//  i = 3: P = [3, 0, 1+1]; Q: groups {3}, {0, 1} = 1 on the one non-zero bin of P -> [3, 0, 1].
//         Both smoothed with 1 zero, 2 non-zeros: zeros -> 1e-4, others - .5e-4:
//         P = [3 - .5e-4, 1e-4, 2 - .5e-4] (sum 5), Q = [3 - .5e-4, 1e-4, 1 - .5e-4] (sum 4).
//  i = 4: P = [3, 0, 1, 1]; Q: {3, 0} -> 3 on bin 0; {1, 1} -> 1, 1: Q = P, KL = 0.
// Best: i = 4, threshold min(4, max 3.5) = 3.5.
TEST(CalibKl, HandComputedSmoothing) {
  std::vector<float> values = {0.5f, 0.5f, 0.5f, 2.5f, 3.5f};
  TensorStats s = stats_of(values, 4);
  ASSERT_EQ(s.histogram().counts(), (std::vector<uint64_t>{3, 0, 1, 1}));
  std::vector<KlCandidate> candidates = kl_candidates(s.histogram(), 2);
  ASSERT_EQ(candidates.size(), 3u);
  const double eps = 1e-4;
  EXPECT_NEAR(candidates[0].divergence,
              0.6 * std::log(0.6 / ((3 - eps) / 3)) + 0.4 * std::log(0.4 / (eps / 3)), 1e-10);
  EXPECT_NEAR(candidates[0].divergence, 3.450589, 1e-6);
  const double p[3] = {(3 - eps / 2) / 5, eps / 5, (2 - eps / 2) / 5};
  const double q[3] = {(3 - eps / 2) / 4, eps / 4, (1 - eps / 2) / 4};
  double expected = 0.0;
  for (int k = 0; k < 3; ++k) expected += p[k] * std::log(p[k] / q[k]);
  EXPECT_NEAR(candidates[1].divergence, expected, 1e-12);
  EXPECT_NEAR(candidates[2].divergence, 0.0, 1e-15);
  EXPECT_EQ(make_clip_method("kl-nonzero")->threshold(s, 2), 3.5);
}

TEST(CalibKl, TooFewBinsForTheLevelsMeansNoClipping) {
  // bits = 4 needs 2^3 = 8 levels but only 4 bins are in use: no candidate, t = max|x|.
  std::vector<float> values = {0.5f, 1.5f, 2.5f, 3.5f};
  TensorStats s = stats_of(values, 4);
  EXPECT_TRUE(kl_candidates(s.histogram(), 4).empty());
  EXPECT_EQ(make_clip_method("kl-nonzero")->threshold(s, 4), 3.5);
}

// Exact zeros (ReLU outputs: often half of an activation) are on every grid, so adding any
// number of them must not move the threshold. Before they were left out, a spike of zeros in
// bin 0 made the candidate with single-bin groups (i = 2L - 1) win on every ReLU layer.
TEST(CalibKl, ExactZerosDoNotMoveTheThreshold) {
  std::vector<float> values;
  for (int k = 1; k <= 4000; ++k) values.push_back(static_cast<float>(std::exp(-k / 600.0) * 5.0));  // a long tail
  const auto kl = make_clip_method("kl-nonzero");
  const double without = kl->threshold(stats_of(values, 2048), 8);
  values.insert(values.end(), 4000, 0.0f);
  const double with_zeros = kl->threshold(stats_of(values, 2048), 8);
  EXPECT_EQ(with_zeros, without);
  // Not the degenerate choice: 2L - 1 = 255 of the 2048 bins of range 8.
  EXPECT_NE(without, 255 * 8.0 / 2048);
}

}  // namespace
}  // namespace ocs
