// percentile:P: t = the P-th percentile of |x|, read from the histogram.
//
// With n values and target rank k = P/100 * n (a real number), walk the bins accumulating
// counts; in the bin where the running count reaches k, interpolate linearly, i.e. assume the
// bin's values are spread uniformly over [lower, upper) (the top bin's upper edge cut at the
// exact max|x|). So: P = 100 gives max|x| exactly, a k that ends exactly at a bin edge gives
// that edge exactly, and otherwise the result is within one bin width of the order statistic.
// Exact zeros are a point mass at 0 ahead of the rest of bin 0; if the percentile falls among
// them (a tensor that is mostly zeros), a threshold of 0 is useless and max|x| is returned.
#include "calib/clip_method.h"

#include "core/error.h"

#include <algorithm>

namespace ocs {

namespace {

class ClipPercentile : public ClipMethod {
 public:
  explicit ClipPercentile(double percent) : percent_(percent) {}
  std::string name() const override { return fmt::format("percentile:{}", percent_); }
  StatsNeeds needs() const override { return StatsNeeds{false, true, false}; }

  double threshold(const TensorStats& stats, int bits) const override {
    check_clip_bits(bits);
    OCS_CHECK(stats.count() > 0, "clip threshold of a tensor that was never observed");
    const AbsHistogram& histogram = stats.histogram();
    const double max_abs = histogram.max_abs();
    const double target = percent_ / 100.0 * static_cast<double>(histogram.count());
    const double zeros = static_cast<double>(histogram.zero_count());
    if (target <= zeros) return max_abs;
    double below = zeros;  // values below the current bin's first non-zero value
    for (int64_t bin = 0; bin < histogram.used_bins(); ++bin) {
      double count = static_cast<double>(histogram.bin_count(bin));
      if (bin == 0) count -= zeros;
      if (count > 0.0 && below + count >= target) {
        const double lower = histogram.bin_lower(bin);
        const double upper = std::min(histogram.bin_upper(bin), max_abs);
        const double t = lower + (target - below) / count * (upper - lower);
        return std::min(t, max_abs);
      }
      below += count;
    }
    return max_abs;  // target == n up to rounding
  }

 private:
  double percent_;
};

}  // namespace

std::unique_ptr<ClipMethod> make_clip_percentile(double percent) {
  if (!(percent > 0.0 && percent <= 100.0))
    user_error("percentile clip: the percentile must be in (0, 100], got {}", percent);
  return std::make_unique<ClipPercentile>(percent);
}

}  // namespace ocs
