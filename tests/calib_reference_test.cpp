// The reference's clip methods (docs/METHOD.md, "Clip methods") against thresholds the
// reference code computed: tests/data/clip_reference/ (five tensors and thresholds.json, see its
// README). Weights (the whole tensor): within 1e-5 relative for every tensor, method and
// b = 2..8. Activations (streamed in batches through TensorStats' signed histogram): within 1%
// on the ReLU activation fed in 16 batches.
#include "calib/clip_aciq.h"
#include "calib/clip_kl.h"
#include "calib/clip_method.h"
#include "calib/value_distribution.h"
#include "io/npy.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

namespace ocs {
namespace {

const std::filesystem::path kDir = std::filesystem::path(OCS_SOURCE_DIR) / "tests" / "data" / "clip_reference";

nlohmann::json reference() {
  std::ifstream in(kDir / "thresholds.json");
  EXPECT_TRUE(in.good()) << "missing " << (kDir / "thresholds.json");
  return nlohmann::json::parse(in);
}

const char* const kTensors[] = {"gauss", "laplace", "gauss_outliers", "relu_activation", "ppocrv4_rec_conv28_weight"};

TEST(CalibReference, WeightThresholdsEqualTheReference) {
  const nlohmann::json want = reference();
  for (const char* name : kTensors) {
    const Tensor t = read_npy(kDir / (std::string(name) + ".npy"));
    for (const char* method : {"mse", "aciq", "kl"}) {
      const auto clip = make_clip_method(method);
      for (int bits = 2; bits <= 8; ++bits) {
        const double expected = want[name][method][std::to_string(bits)].get<double>();
        const double got = clip->threshold_of_tensor(t, bits);
        EXPECT_NEAR(got, expected, 1e-5 * expected) << name << " " << method << " b=" << bits;
      }
    }
  }
}

TEST(CalibReference, AciqPicksTheReferencesPrior) {
  const nlohmann::json want = reference();
  for (const char* name : kTensors) {
    const Tensor t = read_npy(kDir / (std::string(name) + ".npy"));
    for (int bits = 2; bits <= 8; ++bits) {
      const nlohmann::json& detail = want[name]["aciq_detail"][std::to_string(bits)];
      const AciqChoice choice = aciq_choose(TensorValues(t), bits);
      EXPECT_NEAR(choice.gaussian_threshold, detail["alpha_g"].get<double>(), 1e-5 * detail["alpha_g"].get<double>());
      EXPECT_NEAR(choice.laplace_threshold, detail["alpha_l"].get<double>(), 1e-5 * detail["alpha_l"].get<double>());
      EXPECT_EQ(choice.laplace, detail["pick"] == "laplace") << name << " b=" << bits;
    }
  }
}

// Streaming: the ReLU activation [64, 32, 8, 8] in 16 batches of 4 samples, in a shuffled order
// of batches (the statistics must not depend on it).
TEST(CalibReference, StreamedActivationThresholdsWithinOnePercent) {
  const nlohmann::json want = reference();
  const Tensor t = read_npy(kDir / "relu_activation.npy");
  ASSERT_EQ(t.shape(), (std::vector<int64_t>{64, 32, 8, 8}));
  const int64_t per_batch = t.numel() / 16;
  std::vector<int> order(16);
  for (int i = 0; i < 16; ++i) order[static_cast<size_t>(i)] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  TensorStats stats(1);
  for (int b : order) {
    Tensor batch(DType::Float32, {4, 32, 8, 8});
    std::copy_n(t.data<float>() + b * per_batch, per_batch, batch.data<float>());
    stats.update(batch);
  }
  for (const char* method : {"mse", "aciq", "kl"}) {
    const auto clip = make_clip_method(method);
    double worst = 0.0;
    for (int bits = 2; bits <= 8; ++bits) {
      const double expected = want["relu_activation"][method][std::to_string(bits)].get<double>();
      const double got = clip->threshold(stats, bits);
      EXPECT_NEAR(got, expected, 0.01 * expected) << method << " b=" << bits;
      worst = std::max(worst, std::fabs(got / expected - 1.0));
    }
    std::printf("[ info ] streamed %s: largest relative difference from the reference %.2e\n", method, worst);
  }
}

// The streamed distribution's exact numbers equal the whole tensor's; its histograms are close.
TEST(CalibReference, StreamedDistributionMatchesTheTensor) {
  const Tensor t = read_npy(kDir / "gauss_outliers.npy");
  TensorStats stats(kNoChannelAxis);
  const int64_t n = t.numel();
  for (int64_t from = 0; from < n; from += 4096) {
    const int64_t size = std::min<int64_t>(4096, n - from);
    Tensor batch(DType::Float32, {size});
    std::copy_n(t.data<float>() + from, size, batch.data<float>());
    stats.update(batch);
  }
  const TensorValues exact(t);
  const StreamedValues streamed(stats);
  EXPECT_EQ(streamed.count(), exact.count());
  EXPECT_EQ(streamed.min(), exact.min());
  EXPECT_EQ(streamed.max(), exact.max());
  EXPECT_NEAR(streamed.mean(), exact.mean(), 1e-12);
  EXPECT_NEAR(streamed.mean_abs_deviation(), exact.mean_abs_deviation(), 1e-4 * exact.mean_abs_deviation());
  const double m = exact.max_abs();
  const std::vector<double> a = streamed.histogram(1001, -m, m), b = exact.histogram(1001, -m, m);
  double total = 0.0, moved = 0.0;
  for (size_t k = 0; k < a.size(); ++k) total += a[k], moved += std::fabs(a[k] - b[k]);
  EXPECT_NEAR(total, static_cast<double>(n), 1e-6 * n);
  EXPECT_LT(moved / static_cast<double>(n), 0.01);  // less than 1% of the mass in another bin
}

// numpy's float32 sum: the expected values are numpy's np.sum of the same float32 arrays.
TEST(CalibReference, Float32PairwiseSumIsNumpys) {
  std::vector<float> ones(1000, 1.0f);
  ones[0] = 1e8f;  // a sequential float32 sum stays at 1e8: every + 1 rounds away
  EXPECT_EQ(float32_pairwise_sum(ones.data(), ones.size()), 100000992.0f);
  std::vector<float> ramp(1001);
  for (size_t k = 0; k < ramp.size(); ++k) ramp[k] = static_cast<float>(k) * 0.37f + 1e-3f;
  EXPECT_EQ(float32_pairwise_sum(ramp.data(), ramp.size()), 185186.0f);
}

}  // namespace
}  // namespace ocs
