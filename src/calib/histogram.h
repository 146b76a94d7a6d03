// A streaming histogram of |x| with a fixed number of bins over [0, range).
//
// Contract
//  - Memory is num_bins counters, whatever the number of values added: when a value >= range
//    arrives, the range doubles (as often as needed) and adjacent bin pairs are merged, so no
//    count is lost and nothing else is stored.
//  - The range is always 0 (no positive value seen yet) or a power of two strictly greater than
//    every value seen. Bin i covers [i * w, (i + 1) * w) with w = range / num_bins, half-open
//    everywhere (no value can equal the range). num_bins must be a power of two, so that
//    |x| * num_bins / range is an exact floating-point product and the bin of a value never
//    depends on the order in which values arrived: adding data in batches gives bit-identical
//    counts to adding it at once, and merge() is exact.
//  - Because the range is the next power of two above max|x|, between num_bins / 2 + 1 and
//    num_bins bins are in use (the price of exact merges: at most one bit of resolution).
//  - Besides the bins it keeps, exactly: the number of values, the number of exact zeros (they
//    are also counted in bin 0; quantization represents 0 exactly, so error estimates treat them
//    as a point mass) and max|x|.
//  - Non-finite values (NaN, +-inf) are skipped; callers that need to count them do so.
#pragma once

#include "calib/stats_loops.h"

#include <cstdint>
#include <span>
#include <vector>

namespace ocs {

inline constexpr int64_t kDefaultHistogramBins = 2048;

class AbsHistogram {
 public:
  // UserError unless num_bins is a power of two >= 2.
  explicit AbsHistogram(int64_t num_bins = kDefaultHistogramBins);

  // Adds |v| for every finite v in `values` (vectorised, on the caller's OpenMP threads).
  void add(std::span<const float> values);
  // The same when the caller already has the values' extremes (stats_loops.h), which must be
  // exact: the range is fixed from them.
  void add(std::span<const float> values, const Extremes& extremes);
  // Adds another histogram's counts (same num_bins, else InternalError). Exact.
  void merge(const AbsHistogram& other);
  // A histogram with the given state (SignedHistogram::magnitudes builds one): `counts` has a
  // power-of-two size >= 2, range is 0 or a power of two above max_abs, and the counts sum to
  // `count` (exact zeros included in bin 0). InternalError otherwise.
  static AbsHistogram from_counts(std::vector<uint64_t> counts, double range, uint64_t count, uint64_t zeros,
                                  double max_abs);

  int64_t num_bins() const { return static_cast<int64_t>(counts_.size()); }
  double range() const { return range_; }
  double bin_width() const { return range_ / static_cast<double>(counts_.size()); }
  double bin_lower(int64_t bin) const { return bin_width() * static_cast<double>(bin); }
  double bin_upper(int64_t bin) const { return bin_width() * static_cast<double>(bin + 1); }
  uint64_t bin_count(int64_t bin) const { return counts_.at(static_cast<size_t>(bin)); }
  const std::vector<uint64_t>& counts() const { return counts_; }

  uint64_t count() const { return count_; }        // finite values added
  uint64_t zero_count() const { return zeros_; }   // of which exactly 0 (also in bin 0)
  double max_abs() const { return max_abs_; }      // 0 when empty
  // One past the last non-empty bin (0 when empty).
  int64_t used_bins() const;

 private:
  // Grows the range (doubling, merging bins) until it exceeds `value`.
  void cover(double value);
  // Re-bins to `new_range` = range_ * 2^k, k >= 1.
  void widen_to(double new_range);

  std::vector<uint64_t> counts_;
  double range_ = 0.0;
  uint64_t count_ = 0;
  uint64_t zeros_ = 0;
  double max_abs_ = 0.0;
};

}  // namespace ocs
