#include "calib/histogram.h"

#include "calib/stats_scan.h"
#include "core/error.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ocs {

namespace {

// The smallest power of two strictly greater than `value` (> 0): frexp gives value = m * 2^e
// with m in [0.5, 1), so 2^(e-1) <= value < 2^e.
double power_of_two_above(double value) {
  int exponent = 0;
  std::frexp(value, &exponent);
  return std::ldexp(1.0, exponent);
}

}  // namespace

AbsHistogram::AbsHistogram(int64_t num_bins) {
  if (num_bins < 2 || !std::has_single_bit(static_cast<uint64_t>(num_bins)))
    user_error("histogram bins must be a power of two >= 2, got {}", num_bins);
  counts_.assign(static_cast<size_t>(num_bins), 0);
}

int64_t AbsHistogram::used_bins() const {
  for (int64_t bin = num_bins(); bin > 0; --bin)
    if (counts_[static_cast<size_t>(bin - 1)] != 0) return bin;
  return 0;
}

void AbsHistogram::widen_to(double new_range) {
  int exponent = 0;
  // new_range / range_ is 2^k exactly (both are powers of two); frexp returns k + 1.
  std::frexp(new_range / range_, &exponent);
  const int shift = exponent - 1;
  OCS_CHECK(shift >= 1, "widen_to {} from {}", new_range, range_);
  std::vector<uint64_t> widened(counts_.size(), 0);
  // Old bin i covers [i w, (i + 1) w); new bins are 2^shift times wider, so it lies entirely in
  // new bin floor(i / 2^shift). Beyond 62 doublings every bin index shifts to 0.
  for (size_t bin = 0; bin < counts_.size(); ++bin) {
    const size_t target = shift >= 62 ? 0 : (bin >> shift);
    widened[target] += counts_[bin];
  }
  counts_ = std::move(widened);
  range_ = new_range;
}

void AbsHistogram::cover(double value) {
  if (value <= 0.0) return;  // zeros go to bin 0 whatever the range
  if (range_ == 0.0) {
    range_ = power_of_two_above(value);  // bin 0 keeps any zeros counted so far
    return;
  }
  if (value < range_) return;
  widen_to(power_of_two_above(value));
}

void AbsHistogram::add(std::span<const float> values) { add(values, parallel_extremes(values)); }

void AbsHistogram::add(std::span<const float> values, const Extremes& extremes) {
  // The batch's max|x| fixes the range once, so binning below never re-bins.
  const double batch_max = extremes.count ? std::max(std::fabs(extremes.min), std::fabs(extremes.max)) : 0.0;
  cover(batch_max);
  max_abs_ = std::max(max_abs_, batch_max);
  // Bin floor(|v| * num_bins / range). num_bins / range is a power of two, so the product is exact
  // and |v| < range keeps it below num_bins.
  const double scale = range_ > 0.0 ? static_cast<double>(counts_.size()) / range_ : 0.0;
  const auto bins = static_cast<uint32_t>(counts_.size());
  const std::vector<uint64_t> slots = count_slots(values, SlotKind::Abs, scale, bins);
  for (size_t bin = 0; bin < counts_.size(); ++bin) counts_[bin] += slots[bin];
  counts_[0] += slots[bins];  // exact zeros belong to bin 0 and are also counted apart
  zeros_ += slots[bins];
  count_ += extremes.count;
}

AbsHistogram AbsHistogram::from_counts(std::vector<uint64_t> counts, double range, uint64_t count, uint64_t zeros,
                                       double max_abs) {
  AbsHistogram h(static_cast<int64_t>(counts.size()));
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  OCS_CHECK(total == count && zeros <= counts[0] && (range == 0.0 ? max_abs == 0.0 : max_abs < range),
            "inconsistent histogram state: {} values in the bins, {} counted, range {}, max {}", total, count,
            range, max_abs);
  h.counts_ = std::move(counts);
  h.range_ = range;
  h.count_ = count;
  h.zeros_ = zeros;
  h.max_abs_ = max_abs;
  return h;
}

void AbsHistogram::merge(const AbsHistogram& other) {
  OCS_CHECK(other.num_bins() == num_bins(), "merging histograms of {} and {} bins",
            other.num_bins(), num_bins());
  if (other.range_ > range_) {
    if (range_ == 0.0) range_ = other.range_;
    else widen_to(other.range_);
  }
  AbsHistogram widened_other = other;
  if (widened_other.range_ > 0.0 && widened_other.range_ < range_) widened_other.widen_to(range_);
  for (size_t bin = 0; bin < counts_.size(); ++bin) counts_[bin] += widened_other.counts_[bin];
  count_ += other.count_;
  zeros_ += other.zeros_;
  max_abs_ = std::max(max_abs_, other.max_abs_);
}

}  // namespace ocs
