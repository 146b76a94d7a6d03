// A fine histogram of the SIGNED values of a tensor, streamed batch by batch in bounded memory,
// from which the reference clip methods (docs/METHOD.md, "Clip methods") get the equal-bin
// histograms they are defined on (201 bins over [min, max], 101 or 1001 bins over
// [-max|x|, max|x|]) once the whole range is known: rebin().
//
// Contract
//  - Two count vectors of num_bins each: one for positive values (bin i covers
//    [i w, (i + 1) w)), one for negative values by magnitude (bin i covers (-(i + 1) w, -i w]),
//    sharing one range R (w = R / num_bins), a power of two strictly above max|x|. When a larger
//    value arrives R doubles and adjacent bins merge (exact: num_bins is a power of two), so the
//    counts never depend on how the data was batched. Exact zeros are counted apart.
//  - Also exact: count, min, max (of finite values). Non-finite values are skipped.
//  - Memory: 2 * num_bins 8-byte counters (256 KiB at the default 16384).
#pragma once

#include "calib/histogram.h"
#include "calib/stats_loops.h"

#include <cstdint>
#include <span>
#include <vector>

namespace ocs {

inline constexpr int64_t kDefaultSignedHistogramBins = 16384;

class SignedHistogram {
 public:
  // UserError unless num_bins is a power of two >= 2.
  explicit SignedHistogram(int64_t num_bins = kDefaultSignedHistogramBins);

  // Adds every finite value (vectorised, on the caller's OpenMP threads).
  void add(std::span<const float> values);
  // The same when the caller already has the values' extremes (stats_loops.h), which must be
  // exact: the range, min and max come from them.
  void add(std::span<const float> values, const Extremes& extremes);

  int64_t num_bins() const { return static_cast<int64_t>(positive_.size()); }
  double range() const { return range_; }
  uint64_t count() const { return count_; }
  uint64_t zero_count() const { return zeros_; }
  double min() const { return count_ ? min_ : 0.0; }
  double max() const { return count_ ? max_ : 0.0; }
  const std::vector<uint64_t>& positive_counts() const { return positive_; }
  const std::vector<uint64_t>& negative_counts() const { return negative_; }

  // The |x| histogram of the same values with `abs_bins` bins (a power of two <= num_bins()):
  // both keep the range at the power of two above max|x|, so |x|-bin i is exactly the fine bins
  // i k .. i k + k - 1 of both signs (k = num_bins / abs_bins), plus the zeros in bin 0. This is
  // what TensorStats gathers instead of binning every value twice.
  AbsHistogram magnitudes(int64_t abs_bins) const;

  // Counts on `bins` equal bins over [lo, hi] (the last bin closed, as numpy.histogram), each
  // fine bin's count spread uniformly over its extent cut to [min, max], exact zeros placed at 0,
  // values outside [lo, hi] dropped. Requires lo < hi and bins >= 1. The counts sum to count()
  // when [lo, hi] covers [min, max].
  std::vector<double> rebin(int64_t bins, double lo, double hi) const;

 private:
  void widen_to(double new_range);

  std::vector<uint64_t> positive_, negative_;
  double range_ = 0.0;
  uint64_t count_ = 0;
  uint64_t zeros_ = 0;
  double min_ = 0.0, max_ = 0.0;
};

}  // namespace ocs
