#include "calib/clip_aciq.h"

#include "calib/clip_method.h"
#include "calib/quant_error.h"
#include "calib/value_distribution.h"
#include "core/error.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace ocs {

namespace {

// docs/METHOD.md, b = 2..8.
constexpr std::array<double, 7> kGaussianAlpha = {1.47818312, 1.80489289, 2.19227856, 2.57733584,
                                                  2.94451183, 3.29076248, 3.61691335};
constexpr std::array<double, 7> kLaplaceBeta = {2.33152939, 3.04528770, 4.00378631, 5.08252088,
                                                6.23211675, 7.42700429, 8.65265030};

// The rounding-noise coefficient c_b of the model in clip_aciq.h.
double noise_coefficient(int bits) {
  const double half_levels = std::ldexp(1.0, bits - 1);
  return (half_levels - 1.0) / (3.0 * half_levels * half_levels * half_levels);
}

// Root of a strictly decreasing function on [0, 64] (it is positive at 0, negative at 64).
template <typename F>
double bisect_decreasing(F f) {
  double low = 0.0, high = 64.0;
  for (int iteration = 0; iteration < 200; ++iteration) {
    const double middle = 0.5 * (low + high);
    if (f(middle) > 0.0) low = middle;
    else high = middle;
  }
  return 0.5 * (low + high);
}

}  // namespace

double aciq_solve_gaussian_alpha(int bits) {
  check_clip_bits(bits);
  const double c = noise_coefficient(bits);
  // h(a) = 2 (phi(a) - a Q(a)) - c a; d/da (phi - a Q) = -Q < 0, so h decreases from h(0) > 0.
  return bisect_decreasing([c](double a) {
    const double phi = std::exp(-0.5 * a * a) / std::sqrt(2.0 * M_PI);
    const double tail = 0.5 * std::erfc(a / std::sqrt(2.0));
    return 2.0 * (phi - a * tail) - c * a;
  });
}

double aciq_solve_laplace_beta(int bits) {
  check_clip_bits(bits);
  const double c = noise_coefficient(bits);
  // a e^a = 1/c  <=>  -(a + ln a) - ln c = 0, decreasing in a (a > 0; +inf at 0+).
  return bisect_decreasing([c](double a) {
    if (a <= 0.0) return 1.0;
    return -(a + std::log(a)) - std::log(c);
  });
}

double aciq_gaussian_alpha(int bits) {
  check_clip_bits(bits);
  return bits <= 8 ? kGaussianAlpha[static_cast<size_t>(bits - 2)] : aciq_solve_gaussian_alpha(bits);
}

double aciq_laplace_beta(int bits) {
  check_clip_bits(bits);
  return bits <= 8 ? kLaplaceBeta[static_cast<size_t>(bits - 2)] : aciq_solve_laplace_beta(bits);
}

AciqChoice aciq_choose(const ValueDistribution& values, int bits) {
  check_clip_bits(bits);
  OCS_CHECK(values.count() > 0, "clip threshold of a tensor that was never observed");
  AciqChoice choice;
  const double max_abs = values.max_abs();
  if (max_abs == 0.0) return choice;  // all zero: t = 0
  // Gaussian: sigma from the range, as the reference estimates it.
  const double n = static_cast<double>(values.count());
  const double sigma = (values.max() - values.min()) * 0.175 * (1.0 + std::sqrt(M_PI * std::log(4.0))) /
                       std::sqrt(2.0 * std::log(n));
  choice.gaussian_threshold = aciq_gaussian_alpha(bits) * sigma;
  choice.laplace_threshold = aciq_laplace_beta(bits) * values.mean_abs_deviation();
  // A zero candidate (a constant tensor; sigma is also 0 for a single value, ln 1 = 0 making it
  // infinite) cannot make a grid: such a candidate becomes max|x|.
  for (double* t : {&choice.gaussian_threshold, &choice.laplace_threshold})
    if (!(*t > 0.0) || !std::isfinite(*t)) *t = max_abs;
  constexpr int64_t kBins = 101;
  const std::vector<double> counts = values.histogram(kBins, -max_abs, max_abs);
  const std::vector<double> centres = bin_centres(ValueDistribution::edges(kBins, -max_abs, max_abs));
  choice.gaussian_mse = histogram_clip_cost(centres, counts, choice.gaussian_threshold, bits);
  choice.laplace_mse = histogram_clip_cost(centres, counts, choice.laplace_threshold, bits);
  choice.laplace = !(choice.gaussian_mse < choice.laplace_mse);
  choice.threshold = choice.laplace ? choice.laplace_threshold : choice.gaussian_threshold;
  return choice;
}

namespace {

class ClipAciq : public ClipMethod {
 public:
  std::string name() const override { return "aciq"; }
  StatsNeeds needs() const override { return StatsNeeds{true, false, true}; }
  double threshold(const TensorStats& stats, int bits) const override {
    return aciq_choose(StreamedValues(stats), bits).threshold;
  }
  double threshold_of_tensor(const Tensor& values, int bits) const override {
    return aciq_choose(TensorValues(values), bits).threshold;
  }
};

}  // namespace

std::unique_ptr<ClipMethod> make_clip_aciq() { return std::make_unique<ClipAciq>(); }

}  // namespace ocs
