// The shared test helpers (test_util.h) must be able to fail: a comparison that a NaN or a
// wrong infinity gets through, or a missing model that only skips in CI, would let every test
// built on them pass while the thing it checks is broken.
#include "test_util.h"

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>

namespace ocs {
namespace {

using namespace ocs::testing;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor vec(std::vector<float> v) {
  const auto n = static_cast<int64_t>(v.size());
  return Tensor::from_vector<float>({n}, std::move(v));
}

TEST(TestUtilCompare, MeasuresTheLargestDifferenceAndTheScale) {
  const Difference d = compare_tensors(vec({1.0f, -4.0f, 2.5f}), vec({1.0f, -4.5f, 2.0f}));
  ASSERT_TRUE(d.comparable()) << d.broken;
  EXPECT_EQ(d.max_abs, 0.5);
  EXPECT_EQ(d.worst, 1u);  // the first of the two 0.5 differences
  EXPECT_EQ(d.max_expected, 4.5);
  EXPECT_DOUBLE_EQ(d.relative(), 0.5 / 4.5);
  EXPECT_TRUE(tensors_close(vec({1.0f, -4.0f}), vec({1.0f, -4.5f}), 0.5));
  EXPECT_FALSE(tensors_close(vec({1.0f, -4.0f}), vec({1.0f, -4.5f}), 0.49));
  EXPECT_TRUE(tensors_close(vec({1.0f, -4.0f}), vec({1.0f, -4.5f}), 0.0, 0.5 / 4.5 + 1e-12));
  // An all-zero reference: relative() is the absolute difference.
  EXPECT_EQ(compare_tensors(vec({0.25f}), vec({0.0f})).relative(), 0.25);
}

// The defect this header exists for: std::max(m, |a - b|) returns m when |a - b| is NaN.
TEST(TestUtilCompare, NaNOnEitherSideFails) {
  const Tensor good = vec({1.0f, 2.0f, 3.0f});
  for (const auto& [actual, expected] : {std::pair{vec({1.0f, kNaN, 3.0f}), good},
                                         std::pair{good, vec({1.0f, 2.0f, kNaN})},
                                         std::pair{vec({kNaN, 2.0f, 3.0f}), vec({kNaN, 2.0f, 3.0f})}}) {
    const Difference d = compare_tensors(actual, expected);
    EXPECT_FALSE(d.comparable());
    EXPECT_NE(d.broken.find("NaN"), std::string::npos) << d.broken;
    EXPECT_TRUE(std::isnan(d.max_abs));
    EXPECT_TRUE(std::isnan(d.relative()));
    EXPECT_FALSE(tensors_close(actual, expected, 1e30, 1e30));
    EXPECT_FALSE(values_close(actual.to_vector<float>(), expected.to_vector<float>(), 1e30));
    // The scalar forms report the failure themselves and return NaN, which no bound accepts.
    double m = 0;
    EXPECT_NONFATAL_FAILURE(m = max_abs_difference(actual, expected), "NaN");
    EXPECT_TRUE(std::isnan(m));
    EXPECT_NONFATAL_FAILURE(m = max_relative_difference(expected, actual), "NaN");
    EXPECT_TRUE(std::isnan(m));
  }
}

TEST(TestUtilCompare, InfinitiesMustMatch) {
  EXPECT_TRUE(tensors_close(vec({kInf, -kInf, 1.0f}), vec({kInf, -kInf, 1.0f}), 0.0));
  for (const auto& [actual, expected] : {std::pair{vec({kInf}), vec({1.0f})}, std::pair{vec({1.0f}), vec({-kInf})},
                                         std::pair{vec({kInf}), vec({-kInf})}}) {
    const Difference d = compare_tensors(actual, expected);
    EXPECT_NE(d.broken.find("infinity"), std::string::npos) << d.broken;
    EXPECT_FALSE(tensors_close(actual, expected, 1e30, 1e30));
  }
}

TEST(TestUtilCompare, ShapeTypeAndLengthMustMatch) {
  EXPECT_NE(compare_tensors(vec({1, 2, 3, 4}), Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4})).broken.find("shape"),
            std::string::npos);
  EXPECT_NE(compare_tensors(Tensor::from_vector<int64_t>({1}, {1}), vec({1})).broken.find("type"), std::string::npos);
  EXPECT_FALSE(values_close(std::vector<float>{1, 2}, std::vector<float>{1, 2, 3}, 1e30));
  double m = 0;
  EXPECT_NONFATAL_FAILURE(m = max_abs_difference(vec({1, 2}), vec({1, 2, 3})), "shape");
  EXPECT_TRUE(std::isnan(m));
}

TEST(TestUtilCompare, IntegersCompareExactly) {
  EXPECT_TRUE(values_close(std::vector<uint8_t>{0, 255}, std::vector<uint8_t>{0, 255}, 0));
  EXPECT_FALSE(values_close(std::vector<uint8_t>{0, 254}, std::vector<uint8_t>{0, 255}, 0));
  EXPECT_TRUE(values_close(std::vector<uint8_t>{0, 254}, std::vector<uint8_t>{1, 255}, 1));
}

TEST(TestUtilRandom, SameSeedSameValuesInRange) {
  const Tensor a = random_tensor({4, 5}, 3, -2.0f, 0.5f);
  EXPECT_EQ(a.shape(), (Shape{4, 5}));
  EXPECT_EQ(a.to_vector<float>(), random_tensor({4, 5}, 3, -2.0f, 0.5f).to_vector<float>());
  EXPECT_NE(a.to_vector<float>(), random_tensor({4, 5}, 4, -2.0f, 0.5f).to_vector<float>());
  for (float v : a.to_vector<float>()) {
    EXPECT_GE(v, -2.0f);
    EXPECT_LT(v, 0.5f);
  }
  std::mt19937 rng(3);
  EXPECT_EQ(random_tensor({4, 5}, rng, -2.0f, 0.5f).to_vector<float>(), a.to_vector<float>());
}

TEST(TestUtilRandom, NormalWithOutliers) {
  const Tensor plain = random_normal_tensor({40}, 9, 0.5f);
  const Tensor tails = random_normal_tensor({40}, 9, 0.5f, {13, 5.0f});
  const auto p = plain.to_vector<float>(), t = tails.to_vector<float>();
  for (size_t k = 0; k < p.size(); ++k) EXPECT_EQ(t[k], k % 13 == 0 ? 5.0f * p[k] : p[k]) << k;
}

// Sets or clears OCS_REQUIRE_REAL_MODELS for one scope, then restores it.
class ScopedRequire {
 public:
  explicit ScopedRequire(const char* value) {
    if (const char* old = std::getenv(kName)) old_ = old;
    if (value) ::setenv(kName, value, 1);
    else ::unsetenv(kName);
  }
  ~ScopedRequire() {
    if (old_) ::setenv(kName, old_->c_str(), 1);
    else ::unsetenv(kName);
  }

 private:
  static constexpr const char* kName = "OCS_REQUIRE_REAL_MODELS";
  std::optional<std::string> old_;
};

TEST(TestUtilSkipOrFail, FailsWhenRealModelsAreRequired) {
  for (const char* value : {"1", "yes"}) {
    ScopedRequire require(value);
    EXPECT_TRUE(real_models_required());
    EXPECT_FATAL_FAILURE([] { OCS_SKIP_OR_FAIL("model.onnx is missing"); }(), "model.onnx is missing");
  }
}

TEST(TestUtilSkipOrFail, SkipsOtherwise) {
  for (const char* value : {static_cast<const char*>(nullptr), "", "0"}) {
    ScopedRequire require(value);
    EXPECT_FALSE(real_models_required());
    ::testing::TestPartResultArray results;
    {
      ::testing::ScopedFakeTestPartResultReporter reporter(
          ::testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
      [] { OCS_SKIP_OR_FAIL("model.onnx is missing"); }();
    }
    ASSERT_EQ(results.size(), 1);
    EXPECT_TRUE(results.GetTestPartResult(0).skipped());
    EXPECT_NE(std::string(results.GetTestPartResult(0).message()).find("model.onnx is missing"), std::string::npos);
  }
}

}  // namespace
}  // namespace ocs
