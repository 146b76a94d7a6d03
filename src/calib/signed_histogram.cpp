#include "calib/signed_histogram.h"

#include "calib/stats_scan.h"
#include "core/error.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace ocs {

SignedHistogram::SignedHistogram(int64_t num_bins) {
  if (num_bins < 2 || !std::has_single_bit(static_cast<uint64_t>(num_bins)))
    user_error("histogram bins must be a power of two >= 2, got {}", num_bins);
  positive_.assign(static_cast<size_t>(num_bins), 0);
  negative_.assign(static_cast<size_t>(num_bins), 0);
}

void SignedHistogram::widen_to(double new_range) {
  int exponent = 0;
  std::frexp(new_range / range_, &exponent);  // new_range / range_ = 2^(exponent - 1)
  const int shift = exponent - 1;
  for (std::vector<uint64_t>* counts : {&positive_, &negative_}) {
    std::vector<uint64_t> widened(counts->size(), 0);
    for (size_t bin = 0; bin < counts->size(); ++bin) widened[shift >= 62 ? 0 : (bin >> shift)] += (*counts)[bin];
    *counts = std::move(widened);
  }
  range_ = new_range;
}

void SignedHistogram::add(std::span<const float> values) { add(values, parallel_extremes(values)); }

void SignedHistogram::add(std::span<const float> values, const Extremes& extremes) {
  if (extremes.count == 0) return;  // nothing finite: no count, no range
  const double batch_max = std::max(std::fabs(extremes.min), std::fabs(extremes.max));
  if (batch_max > 0.0) {
    int exponent = 0;
    std::frexp(batch_max, &exponent);
    const double above = std::ldexp(1.0, exponent);  // the power of two strictly above batch_max
    if (range_ == 0.0) range_ = above;
    else if (above > range_) widen_to(above);
  }
  const double scale = range_ > 0.0 ? static_cast<double>(positive_.size()) / range_ : 0.0;
  const auto bins = static_cast<uint32_t>(positive_.size());
  const std::vector<uint64_t> slots = count_slots(values, SlotKind::Signed, scale, bins);
  for (size_t bin = 0; bin < positive_.size(); ++bin) {
    positive_[bin] += slots[bin];
    negative_[bin] += slots[bins + bin];
  }
  zeros_ += slots[2 * static_cast<size_t>(bins)];
  min_ = count_ ? std::min<double>(min_, extremes.min) : extremes.min;
  max_ = count_ ? std::max<double>(max_, extremes.max) : extremes.max;
  count_ += extremes.count;
}

AbsHistogram SignedHistogram::magnitudes(int64_t abs_bins) const {
  OCS_CHECK(abs_bins >= 2 && std::has_single_bit(static_cast<uint64_t>(abs_bins)) && abs_bins <= num_bins(),
            "an |x| histogram of {} bins from a signed one of {}", abs_bins, num_bins());
  const size_t per_bin = static_cast<size_t>(num_bins() / abs_bins);
  std::vector<uint64_t> counts(static_cast<size_t>(abs_bins), 0);
  for (size_t fine = 0; fine < positive_.size(); ++fine) counts[fine / per_bin] += positive_[fine] + negative_[fine];
  counts[0] += zeros_;
  const double max_abs = count_ ? std::max(std::fabs(min_), std::fabs(max_)) : 0.0;
  return AbsHistogram::from_counts(std::move(counts), range_, count_, zeros_, max_abs);
}

std::vector<double> SignedHistogram::rebin(int64_t bins, double lo, double hi) const {
  OCS_CHECK(bins >= 1 && lo < hi, "rebin to {} bins over [{}, {}]", bins, lo, hi);
  std::vector<double> out(static_cast<size_t>(bins), 0.0);
  const double width = (hi - lo) / static_cast<double>(bins);
  auto bin_of = [&](double x) {
    return std::clamp<int64_t>(static_cast<int64_t>(std::floor((x - lo) / width)), 0, bins - 1);
  };
  // Spreads `count` values uniformly over [a, b] (cut to [min, max] and to [lo, hi]).
  auto spread = [&](double a, double b, double count) {
    a = std::max(a, min_);
    b = std::min(b, max_);
    if (b <= a) {  // a point mass (the fine bin holds only the extreme value)
      if (a >= lo && a <= hi) out[static_cast<size_t>(bin_of(a))] += count;
      return;
    }
    const double density = count / (b - a);
    const double from = std::max(a, lo), to = std::min(b, hi);
    for (int64_t k = bin_of(from); k < bins && from < to; ++k) {
      const double edge_low = lo + width * static_cast<double>(k);
      const double edge_high = k == bins - 1 ? hi : lo + width * static_cast<double>(k + 1);
      const double overlap = std::min(to, edge_high) - std::max(from, edge_low);
      if (overlap > 0.0) out[static_cast<size_t>(k)] += density * overlap;
      if (edge_high >= to) break;
    }
  };
  const double fine = range_ / static_cast<double>(positive_.size());
  for (size_t i = 0; i < positive_.size(); ++i) {
    const double low = fine * static_cast<double>(i), high = fine * static_cast<double>(i + 1);
    if (positive_[i]) spread(low, high, static_cast<double>(positive_[i]));
    if (negative_[i]) spread(-high, -low, static_cast<double>(negative_[i]));
  }
  if (zeros_ && lo <= 0.0 && hi >= 0.0) out[static_cast<size_t>(bin_of(0.0))] += static_cast<double>(zeros_);
  return out;
}

}  // namespace ocs
