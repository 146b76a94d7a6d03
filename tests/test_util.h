// What every test file shares: the one comparison of numeric outputs, the one random tensor, and
// the one rule for what a test does when something from outside the repository is missing.
//
// Comparison: a NaN on either side, or an infinity the other side does not equal, can never
// pass. A plain `max = std::max(max, |a - b|)` drops NaN (every comparison with NaN is false), so
// a pass that turned an output into NaN would have passed its test; every comparison of float
// outputs in tests/ goes through compare_values() below instead.
#pragma once

#include "core/tensor.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace ocs::testing {

// ---- comparing outputs -------------------------------------------------------------------

// How `actual` differs from `expected`.
struct Difference {
  std::string broken;       // why they cannot be compared (sizes, NaN, infinity); "" otherwise
  double max_abs = 0;       // max |actual - expected|; NaN when broken
  double max_expected = 0;  // max |expected| over its finite elements: the output's scale
  size_t worst = 0;         // flat index of max_abs, or of the element that broke the comparison
  double actual_at_worst = 0, expected_at_worst = 0;

  bool comparable() const { return broken.empty(); }
  // max_abs / max_expected (max_abs itself when `expected` is all zero); NaN when broken.
  double relative() const { return max_expected == 0 ? max_abs : max_abs / max_expected; }
  std::string describe() const {
    if (!comparable()) return broken;
    return fmt::format("max |actual - expected| = {:.4g} at flat index {} (actual {:.9g}, expected {:.9g}); "
                       "max |expected| = {:.4g}",
                       max_abs, worst, actual_at_worst, expected_at_worst, max_expected);
  }
};

// Element by element over two ranges of numbers (float, double, integers).
template <typename A, typename B>
Difference compare_values(const A& actual, const B& expected) {
  Difference d;
  const auto fail = [&d](size_t i, double a, double e, const std::string& why) {
    d.broken = fmt::format("{} at flat index {} (actual {}, expected {})", why, i, a, e);
    d.max_abs = std::numeric_limits<double>::quiet_NaN();
    d.worst = i, d.actual_at_worst = a, d.expected_at_worst = e;
    return d;
  };
  if (std::size(actual) != std::size(expected)) {
    d.broken = fmt::format("{} values instead of {}", std::size(actual), std::size(expected));
    d.max_abs = std::numeric_limits<double>::quiet_NaN();
    return d;
  }
  auto a_it = std::begin(actual);
  auto e_it = std::begin(expected);
  for (size_t i = 0; a_it != std::end(actual); ++i, ++a_it, ++e_it) {
    const double a = static_cast<double>(*a_it), e = static_cast<double>(*e_it);
    if (std::isnan(a) || std::isnan(e)) return fail(i, a, e, "NaN");
    if (std::isinf(a) || std::isinf(e)) {
      if (a == e) continue;  // the same infinity: equal
      return fail(i, a, e, "infinity mismatch");
    }
    const double diff = std::fabs(a - e);
    if (diff > d.max_abs) d.max_abs = diff, d.worst = i, d.actual_at_worst = a, d.expected_at_worst = e;
    d.max_expected = std::max(d.max_expected, std::fabs(e));
  }
  return d;
}

// Same element type, same shape, then compare_values.
inline Difference compare_tensors(const Tensor& actual, const Tensor& expected) {
  Difference d;
  if (actual.dtype() != expected.dtype())
    d.broken = fmt::format("type {} instead of {}", dtype_name(actual.dtype()), dtype_name(expected.dtype()));
  else if (actual.shape() != expected.shape())
    d.broken = fmt::format("shape {} instead of {}", shape_str(actual.shape()), shape_str(expected.shape()));
  if (!d.comparable()) {
    d.max_abs = std::numeric_limits<double>::quiet_NaN();
    return d;
  }
  return compare_values(actual.to_double_vector(), expected.to_double_vector());
}

// Passes when comparable and max |actual - expected| <= atol + rtol * max |expected|.
inline ::testing::AssertionResult close_enough(const Difference& d, double atol, double rtol) {
  const double allowed = atol + rtol * d.max_expected;
  if (d.comparable() && d.max_abs <= allowed) return ::testing::AssertionSuccess();
  auto failure = ::testing::AssertionFailure() << d.describe();
  if (d.comparable()) failure << fmt::format(" exceeds {:.4g} = {:g} + {:g} x max |expected|", allowed, atol, rtol);
  return failure;
}

inline ::testing::AssertionResult tensors_close(const Tensor& actual, const Tensor& expected, double atol,
                                                double rtol = 0) {
  return close_enough(compare_tensors(actual, expected), atol, rtol);
}

template <typename A, typename B>
::testing::AssertionResult values_close(const A& actual, const B& expected, double atol, double rtol = 0) {
  return close_enough(compare_values(actual, expected), atol, rtol);
}

// The two scalar forms, for tests that state their bound as EXPECT_LT(..., bound) or print the
// figure. A broken comparison adds a test failure naming the reason and returns NaN, so that no
// use of the number (<, >, ==) can pass.
inline double max_abs_difference(const Tensor& actual, const Tensor& expected) {
  const Difference d = compare_tensors(actual, expected);
  if (!d.comparable()) ADD_FAILURE() << "outputs cannot be compared: " << d.broken;
  return d.max_abs;
}

// max |other - reference| / max |reference|.
inline double max_relative_difference(const Tensor& reference, const Tensor& other) {
  const Difference d = compare_tensors(other, reference);
  if (!d.comparable()) ADD_FAILURE() << "outputs cannot be compared: " << d.broken;
  return d.relative();
}

// ---- random inputs -----------------------------------------------------------------------

// Float32, uniform in [low, high).
inline Tensor random_tensor(Shape shape, std::mt19937& rng, float low = -1.0f, float high = 1.0f) {
  Tensor t(DType::Float32, std::move(shape));
  std::uniform_real_distribution<float> dist(low, high);
  for (float& v : t.span<float>()) v = dist(rng);
  return t;
}

inline Tensor random_tensor(Shape shape, uint32_t seed, float low = -1.0f, float high = 1.0f) {
  std::mt19937 rng(seed);
  return random_tensor(std::move(shape), rng, low, high);
}

// Every `every`-th element (from index 0) multiplied by `factor`: the heavy tails OCS is about.
struct Outliers {
  size_t every = 0;  // 0: none
  float factor = 1.0f;
};

// Float32, normal with mean 0 and standard deviation `stddev`, then `outliers`.
inline Tensor random_normal_tensor(Shape shape, std::mt19937& rng, float stddev = 1.0f, Outliers outliers = {}) {
  Tensor t(DType::Float32, std::move(shape));
  std::normal_distribution<float> normal(0.0f, stddev);
  auto values = t.span<float>();
  for (float& v : values) v = normal(rng);
  if (outliers.every > 0)
    for (size_t k = 0; k < values.size(); k += outliers.every) values[k] *= outliers.factor;
  return t;
}

inline Tensor random_normal_tensor(Shape shape, uint32_t seed, float stddev = 1.0f, Outliers outliers = {}) {
  std::mt19937 rng(seed);
  return random_normal_tensor(std::move(shape), rng, stddev, outliers);
}

// ---- what lives outside the repository ---------------------------------------------------

// $OCS_CACHE, else ~/.cache/ocs: real models, golden files and ONNX Runtime
// (scripts/fetch_models.sh, scripts/make_golden.sh).
inline std::filesystem::path ocs_cache() {
  const char* cache = std::getenv("OCS_CACHE");
  if (cache && *cache) return cache;
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : "/root") / ".cache" / "ocs";
}

// True when OCS_REQUIRE_REAL_MODELS is set (to anything but "" or "0"). scripts/test.sh, which
// CI runs, installs every package, model, golden file and ONNX Runtime first and then sets it.
inline bool real_models_required() {
  const char* v = std::getenv("OCS_REQUIRE_REAL_MODELS");
  return v && *v && std::string(v) != "0";
}

}  // namespace ocs::testing

// Ends the current test because something it needs from outside the repository (a real model,
// golden files, ONNX Runtime, a Debian data package) is missing: a skip on a developer's machine,
// a failure when real_models_required(), where a skip would hide an acceptance test that did not
// run. Use it in the test body (a skip or failure in a helper function does not end the test).
// `message` is streamed: OCS_SKIP_OR_FAIL(model << " is missing (run scripts/fetch_models.sh)").
#define OCS_SKIP_OR_FAIL(message)                                                     \
  do {                                                                                \
    if (::ocs::testing::real_models_required()) {                                     \
      FAIL() << message << " [OCS_REQUIRE_REAL_MODELS is set: missing is a failure]"; \
    } else {                                                                          \
      GTEST_SKIP() << message;                                                        \
    }                                                                                 \
  } while (0)
