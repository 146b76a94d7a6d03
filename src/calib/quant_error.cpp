#include "calib/quant_error.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>

namespace ocs {

namespace {

// integral_0^u (x - D * round(x / D))^2 dx for u >= 0 (see the header).
double rounding_error_integral(double u, double step) {
  const double periods = std::floor(u / step);
  const double r = u - periods * step;
  const double period_integral = step * step * step / 12.0;
  const double partial = r <= 0.5 * step ? r * r * r / 3.0
                                         : period_integral + (r - step) * (r - step) * (r - step) / 3.0;
  return periods * period_integral + partial;
}

// Squared error of the single value u >= 0.
double point_error(double u, double threshold, double step) {
  if (u > threshold) return (u - threshold) * (u - threshold);
  const double nearest = step * std::nearbyint(u / step);
  return (u - nearest) * (u - nearest);
}

}  // namespace

double histogram_quantization_mse(const AbsHistogram& histogram, double threshold, int bits) {
  OCS_CHECK(threshold > 0.0 && bits >= 2 && bits <= 16, "threshold {} bits {}", threshold, bits);
  if (histogram.count() == 0) return 0.0;
  const double q_max = std::ldexp(1.0, bits - 1) - 1.0;
  const double step = threshold / q_max;  // D = 1 / s

  double total = 0.0;
  const int64_t used = histogram.used_bins();
  for (int64_t bin = 0; bin < used; ++bin) {
    double count = static_cast<double>(histogram.bin_count(bin));
    if (bin == 0) count -= static_cast<double>(histogram.zero_count());  // exact zeros: no error
    if (count <= 0.0) continue;
    const double lower = histogram.bin_lower(bin);
    const double upper = std::min(histogram.bin_upper(bin), histogram.max_abs());
    if (upper <= lower) {  // all values of the bin sit at `lower` (= max|x|)
      total += count * point_error(lower, threshold, step);
      continue;
    }
    double integral = 0.0;
    if (lower < threshold) {
      const double top = std::min(upper, threshold);
      integral += rounding_error_integral(top, step) - rounding_error_integral(lower, step);
    }
    if (upper > threshold) {
      const double from = std::max(lower, threshold) - threshold;
      const double to = upper - threshold;
      integral += (to * to * to - from * from * from) / 3.0;
    }
    total += count * integral / (upper - lower);
  }
  return total / static_cast<double>(histogram.count());
}

}  // namespace ocs

namespace ocs {

double histogram_clip_cost(const std::vector<double>& centres, const std::vector<double>& weights,
                           double threshold, int bits) {
  OCS_CHECK(threshold > 0.0 && centres.size() == weights.size(), "threshold {}", threshold);
  const double q_max = std::ldexp(1.0, bits - 1) - 1.0;
  const double scale = q_max / threshold;
  double cost = 0.0;
  for (size_t i = 0; i < centres.size(); ++i) {
    const double c = centres[i], magnitude = std::fabs(c);
    if (magnitude > threshold) {
      cost += (magnitude - threshold) * (magnitude - threshold) * weights[i];
    } else {
      const double q = std::clamp(std::nearbyint(c * scale), -q_max - 1.0, q_max) / scale;
      cost += (c - q) * (c - q) * weights[i];
    }
  }
  return cost;
}

std::vector<double> bin_centres(const std::vector<double>& edges) {
  std::vector<double> centres;
  for (size_t k = 0; k + 1 < edges.size(); ++k)
    centres.push_back(static_cast<float>(static_cast<float>(edges[k]) + static_cast<float>(edges[k + 1])) / 2.0f);
  return centres;
}

}  // namespace ocs
