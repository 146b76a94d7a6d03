// mse-fine: our variant of mse (docs/METHOD.md): the threshold that minimises the estimated mean squared quantization error
// (clipping + rounding, histogram_quantization_mse in quant_error.h) over a grid of fractions of
// max|x|.
//
// Search: a coarse grid t = max|x| * k / 512, k = 1..512, then 128 equal steps across the two
// coarse intervals around the best coarse point (resolution max|x| / 32768). On equal errors
// the smaller threshold wins (the first found). The estimate itself is limited by the histogram:
// thresholds only a few bins wide (t < ~1% of max|x| with 2048 bins) are poorly resolved.
#include "calib/clip_method.h"
#include "calib/quant_error.h"

#include "core/error.h"

#include <algorithm>

namespace ocs {

namespace {

constexpr int kCoarseSteps = 512;
constexpr int kFineSteps = 64;

class ClipMse : public ClipMethod {
 public:
  std::string name() const override { return "mse-fine"; }
  StatsNeeds needs() const override { return StatsNeeds{false, true, false}; }

  double threshold(const TensorStats& stats, int bits) const override {
    check_clip_bits(bits);
    OCS_CHECK(stats.count() > 0, "clip threshold of a tensor that was never observed");
    const AbsHistogram& histogram = stats.histogram();
    const double max_abs = histogram.max_abs();
    if (max_abs == 0.0) return 0.0;

    double best_t = max_abs;
    double best_error = histogram_quantization_mse(histogram, max_abs, bits);
    auto consider = [&](double t) {
      const double error = histogram_quantization_mse(histogram, t, bits);
      if (error < best_error || (error == best_error && t < best_t)) {
        best_error = error;
        best_t = t;
      }
    };
    for (int k = 1; k <= kCoarseSteps; ++k) consider(max_abs * k / kCoarseSteps);

    const double coarse_step = max_abs / kCoarseSteps;
    const double from = std::max(best_t - coarse_step, 0.0);
    const double to = std::min(best_t + coarse_step, max_abs);
    for (int k = 1; k < 2 * kFineSteps; ++k) {
      const double t = from + (to - from) * k / (2 * kFineSteps);
      if (t > 0.0) consider(t);
    }
    return best_t;
  }
};

}  // namespace

std::unique_ptr<ClipMethod> make_clip_mse_fine() { return std::make_unique<ClipMse>(); }

}  // namespace ocs
