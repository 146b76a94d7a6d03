#include "calib/value_distribution.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>

namespace ocs {

ValueDistribution::~ValueDistribution() = default;

double ValueDistribution::max_abs() const { return count() ? std::max(std::fabs(min()), std::fabs(max())) : 0.0; }

std::vector<double> ValueDistribution::edges(int64_t bins, double lo, double hi) {
  std::vector<double> e(static_cast<size_t>(bins + 1));
  const double step = (hi - lo) / static_cast<double>(bins);
  for (int64_t k = 0; k < bins; ++k)
    e[static_cast<size_t>(k)] = static_cast<float>(static_cast<double>(k) * step + lo);
  e[static_cast<size_t>(bins)] = static_cast<float>(hi);
  return e;
}

TensorValues::TensorValues(std::span<const float> values) : values_(values) {
  double sum = 0.0;
  for (float v : values) {
    if (!std::isfinite(v)) continue;
    min_ = count_ ? std::min<double>(min_, v) : v;
    max_ = count_ ? std::max<double>(max_, v) : v;
    sum += v;
    ++count_;
  }
  mean_ = count_ ? sum / static_cast<double>(count_) : 0.0;
}

namespace {
std::span<const float> float_values(const Tensor& tensor) {
  if (tensor.dtype() != DType::Float32)
    user_error("clip thresholds need float32 values, got {} of shape {}", dtype_name(tensor.dtype()),
               shape_str(tensor.shape()));
  return tensor.span<float>();
}
}  // namespace

TensorValues::TensorValues(const Tensor& tensor) : TensorValues(float_values(tensor)) {}

double TensorValues::mean_abs_deviation() const {
  double sum = 0.0;
  for (float v : values_)
    if (std::isfinite(v)) sum += std::fabs(v - mean_);
  return count_ ? sum / static_cast<double>(count_) : 0.0;
}

std::vector<double> TensorValues::histogram(int64_t bins, double lo, double hi) const {
  OCS_CHECK(bins >= 1 && lo < hi, "histogram of {} bins over [{}, {}]", bins, lo, hi);
  const std::vector<double> e = edges(bins, lo, hi);
  std::vector<double> counts(static_cast<size_t>(bins), 0.0);
  const double scale = static_cast<double>(bins) / (hi - lo);
  for (float v : values_) {
    if (!std::isfinite(v) || v < e.front() || v > e.back()) continue;
    int64_t k = std::clamp<int64_t>(static_cast<int64_t>((v - lo) * scale), 0, bins - 1);
    // The estimate can be one bin off near an edge; the float32 edges decide, as in numpy.
    while (k > 0 && v < e[static_cast<size_t>(k)]) --k;
    while (k < bins - 1 && v >= e[static_cast<size_t>(k + 1)]) ++k;
    counts[static_cast<size_t>(k)] += 1.0;
  }
  return counts;
}

StreamedValues::StreamedValues(const TensorStats& stats) : stats_(&stats) {
  OCS_CHECK(stats.signed_histogram().has_value(), "the reference clip methods need a signed histogram");
}

double StreamedValues::mean_abs_deviation() const {
  // sum |x - m| = sum |x - r| + sum f(x), f(x) = |x - m| - |x - r|: f is constant outside
  // [min(r, m), max(r, m)] and linear inside, so f at bin centres is exact except in the (at
  // most two) bins that contain r or m.
  const double n = static_cast<double>(count());
  if (n == 0 || min() == max()) return 0.0;
  const double m = mean(), r = stats_->abs_deviation_reference();
  constexpr int64_t kBins = 8192;
  const std::vector<double> counts = histogram(kBins, min(), max());
  const double width = (max() - min()) / kBins;
  double correction = 0.0;
  for (int64_t k = 0; k < kBins; ++k) {
    const double centre = min() + width * (static_cast<double>(k) + 0.5);
    correction += counts[static_cast<size_t>(k)] * (std::fabs(centre - m) - std::fabs(centre - r));
  }
  return std::max(0.0, stats_->mean_abs_deviation() + correction / n);
}

std::vector<double> StreamedValues::histogram(int64_t bins, double lo, double hi) const {
  return stats_->signed_histogram()->rebin(bins, lo, hi);
}

}  // namespace ocs
