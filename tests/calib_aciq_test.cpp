// ACIQ against its closed form: on large Gaussian and Laplace samples with known parameters the
// threshold is alpha_b * sigma or beta_b * b, and the histogram-MSE comparison keeps the prior
// the sample was drawn from.
#include "calib/clip_aciq.h"
#include "calib/clip_method.h"
#include "core/round.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace ocs {
namespace {

TEST(CalibAciq, TableIsTheRootOfTheStatedEquations) {
  // docs/METHOD.md's constants versus our reading of where they come from (clip_aciq.h); both
  // equations' roots reproduce all 14 entries to 1e-6 relative.
  for (int bits = 2; bits <= 8; ++bits) {
    EXPECT_NEAR(aciq_solve_gaussian_alpha(bits) / aciq_gaussian_alpha(bits), 1.0, 1e-6) << bits;
    EXPECT_NEAR(aciq_solve_laplace_beta(bits) / aciq_laplace_beta(bits), 1.0, 1e-6) << bits;
  }
  EXPECT_EQ(aciq_gaussian_alpha(8), 3.61691335);
  EXPECT_EQ(aciq_laplace_beta(2), 2.33152939);
  // Beyond the table: solved, and still increasing with the bit width.
  for (int bits = 9; bits <= 16; ++bits) {
    EXPECT_GT(aciq_gaussian_alpha(bits), aciq_gaussian_alpha(bits - 1)) << bits;
    EXPECT_GT(aciq_laplace_beta(bits), aciq_laplace_beta(bits - 1)) << bits;
  }
}

constexpr int kSamples = 1000000;

std::vector<float> gaussian_sample(double sigma, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, sigma);
  std::vector<float> values(kSamples);
  for (float& v : values) v = static_cast<float>(normal(rng));
  return values;
}

// Laplace(0, b): a random sign times an exponential with mean b.
std::vector<float> laplace_sample(double scale, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> exponential(1.0 / scale);
  std::bernoulli_distribution sign(0.5);
  std::vector<float> values(kSamples);
  for (float& v : values) v = static_cast<float>(sign(rng) ? exponential(rng) : -exponential(rng));
  return values;
}

TensorStats stats_of(const std::vector<float>& values) {
  return stats_of_tensor(Tensor::from_vector<float>({static_cast<int64_t>(values.size())}, values),
                         kNoChannelAxis);
}

// The true mean squared error on the samples (docs/METHOD.md grid, half-to-even rounding).
double true_quantization_mse(const std::vector<float>& values, double threshold, int bits) {
  const double q_max = std::ldexp(1.0, bits - 1) - 1.0;
  const double q_min = -std::ldexp(1.0, bits - 1);
  const double scale = q_max / threshold;
  double total = 0.0;
  for (float x : values) {
    const double q = std::clamp(static_cast<double>(round_half_to_even(static_cast<float>(x * scale))),
                                q_min, q_max);
    total += (x - q / scale) * (x - q / scale);
  }
  return total / static_cast<double>(values.size());
}

// With 1e6 samples the sample sigma and b are within ~0.2% of the true ones; the chosen
// threshold is checked against the TRUE parameter with a 2% tolerance.
TEST(CalibAciq, GaussianSampleClipsAtAlphaSigmaWithTheGaussianPrior) {
  const double sigma = 2.0;
  const std::vector<float> values = gaussian_sample(sigma, 1234);
  const TensorStats s = stats_of(values);
  auto aciq = make_clip_method("aciq-std");
  for (int bits = 2; bits <= 8; ++bits) {
    AciqChoice choice = aciq_std_choose(s, bits);
    EXPECT_FALSE(choice.laplace) << bits << " bits: gaussian mse " << choice.gaussian_mse
                                 << " laplace mse " << choice.laplace_mse;
    EXPECT_NEAR(choice.threshold / (aciq_gaussian_alpha(bits) * sigma), 1.0, 0.02) << bits;
    EXPECT_EQ(aciq->threshold(s, bits), choice.threshold);
  }
}

TEST(CalibAciq, LaplaceSampleClipsAtBetaBWithTheLaplacePrior) {
  const double b = 0.5;
  const std::vector<float> values = laplace_sample(b, 99);
  const TensorStats s = stats_of(values);
  for (int bits = 3; bits <= 8; ++bits) {
    AciqChoice choice = aciq_std_choose(s, bits);
    EXPECT_TRUE(choice.laplace) << bits << " bits: gaussian mse " << choice.gaussian_mse
                                << " laplace mse " << choice.laplace_mse;
    EXPECT_NEAR(choice.threshold / (aciq_laplace_beta(bits) * b), 1.0, 0.02) << bits;
  }
  // At 2 bits (levels -2..1 in steps of t) the noise model behind the constants is crude, and
  // the Gaussian candidate (1.478 * sigma = 1.045) really is better on Laplace data than the
  // Laplace one (2.332 * b = 1.166): the histogram comparison picks it, and the true error
  // on the samples agrees.
  AciqChoice two_bits = aciq_std_choose(s, 2);
  EXPECT_FALSE(two_bits.laplace);
  EXPECT_LT(true_quantization_mse(values, two_bits.gaussian_threshold, 2),
            true_quantization_mse(values, two_bits.laplace_threshold, 2));
}

TEST(CalibAciq, ThePriorKeptHasTheLowerTrueError) {
  // Independent of the histogram: on the samples themselves, the chosen candidate's true
  // quantization error is not above the other candidate's (0.1% slack for the estimate).
  for (bool laplace_data : {false, true}) {
    const std::vector<float> values = laplace_data ? laplace_sample(1.0, 5) : gaussian_sample(1.0, 6);
    const TensorStats s = stats_of(values);
    for (int bits = 2; bits <= 8; ++bits) {
      AciqChoice choice = aciq_std_choose(s, bits);
      const double chosen = true_quantization_mse(values, choice.threshold, bits);
      const double other = true_quantization_mse(
          values, choice.laplace ? choice.gaussian_threshold : choice.laplace_threshold, bits);
      EXPECT_LE(chosen, other * 1.001) << (laplace_data ? "laplace" : "gaussian") << " " << bits;
    }
  }
}

TEST(CalibAciq, ThresholdNeverExceedsMax) {
  // Uniform on [-1, 1]: sigma = 0.577, so 8-bit alpha * sigma = 2.09 > max = 1.
  std::vector<float> values;
  for (int k = 0; k < 1000; ++k) values.push_back(-1.0f + 2.0f * k / 999.0f);
  TensorStats s = stats_of_tensor(Tensor::from_vector<float>({1000}, values), kNoChannelAxis);
  EXPECT_EQ(make_clip_method("aciq-std")->threshold(s, 8), 1.0);
}

}  // namespace
}  // namespace ocs
