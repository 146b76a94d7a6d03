#include "calib/tensor_stats.h"

#include "core/axis_split.h"
#include "core/error.h"

#include <algorithm>
#include <cmath>

namespace ocs {

TensorStats::TensorStats(int64_t channel_axis, int64_t histogram_bins, int64_t signed_histogram_bins)
    : TensorStats(channel_axis, StatsNeeds{true, true, signed_histogram_bins > 0}, histogram_bins,
                  signed_histogram_bins) {}

TensorStats::TensorStats(int64_t channel_axis, StatsNeeds needs, int64_t histogram_bins,
                         int64_t signed_histogram_bins)
    : channel_axis_(channel_axis) {
  if (needs.moments) sums_.emplace();
  if (needs.abs_histogram) histogram_.emplace(histogram_bins);
  if (needs.signed_histogram) signed_histogram_.emplace(signed_histogram_bins);
}

StatsNeeds TensorStats::needs() const {
  return {sums_.has_value(), histogram_.has_value(), signed_histogram_.has_value()};
}

void TensorStats::update(const Tensor& batch) {
  if (batch.dtype() != DType::Float32)
    user_error("calibration statistics need float32 data, got {} of shape {}",
               dtype_name(batch.dtype()), shape_str(batch.shape()));
  if (channel_axis_ != kNoChannelAxis) update_channel_max(batch);
  ++batches_;
  if (batch.numel() == 0) return;

  const std::span<const float> values = batch.span<float>();
  const Extremes extremes = parallel_extremes(values);
  if (extremes.count > 0) {
    min_ = count_ ? std::min<double>(min_, extremes.min) : extremes.min;
    max_ = count_ ? std::max<double>(max_, extremes.max) : extremes.max;
    max_abs_ = std::max({max_abs_, std::fabs(min_), std::fabs(max_)});
  }
  count_ += extremes.count;
  nonfinite_ += extremes.nonfinite;
  if (sums_) {
    if (!has_abs_dev_ref_ && extremes.count > 0) {
      // The reference point of sum|x - ref|: this (first non-empty) batch's mean.
      BlockSums first;
      first.add(values.data(), batch.numel(), 0.0);
      abs_dev_ref_ = first.sum() / static_cast<double>(extremes.count);
      has_abs_dev_ref_ = true;
    }
    sums_->add(values.data(), batch.numel(), abs_dev_ref_);
  }
  if (signed_histogram_) signed_histogram_->add(values, extremes);
  if (histogram_ && derive_histogram()) *histogram_ = signed_histogram_->magnitudes(histogram_->num_bins());
  else if (histogram_) histogram_->add(values, extremes);
}

void TensorStats::update_channel_max(const Tensor& batch) {
  // Split the shape into [outer, channels, inner] around the channel axis.
  const int64_t rank = batch.rank();
  const int64_t axis = channel_axis_ < 0 ? channel_axis_ + rank : channel_axis_;
  if (axis < 0 || axis >= rank)
    user_error("channel axis {} does not exist in a tensor of shape {}", channel_axis_,
               shape_str(batch.shape()));
  const AxisSplit around = split_at_axis(batch.shape(), axis);
  if (batches_ == 0) {
    channel_max_abs_.assign(static_cast<size_t>(around.channels), 0.0);
  } else if (static_cast<int64_t>(channel_max_abs_.size()) != around.channels) {
    user_error("tensor of shape {} has {} channels on axis {}, earlier batches had {}",
               shape_str(batch.shape()), around.channels, channel_axis_, channel_max_abs_.size());
  }
  if (batch.numel() > 0)
    ocs::channel_max_abs(batch.data<float>(), around.outer, around.channels, around.inner, channel_max_abs_);
}

bool TensorStats::derive_histogram() const {
  return histogram_ && signed_histogram_ && histogram_->num_bins() <= signed_histogram_->num_bins();
}

namespace {
const BlockSums& gathered(const std::optional<BlockSums>& sums) {
  OCS_CHECK(sums.has_value(), "calibration statistics: the sums were not gathered (StatsNeeds::moments)");
  return *sums;
}
}  // namespace

double TensorStats::sum() const { return gathered(sums_).sum(); }
double TensorStats::sum_squares() const { return gathered(sums_).sum_squares(); }
double TensorStats::sum_abs() const { return gathered(sums_).sum_abs(); }

const AbsHistogram& TensorStats::histogram() const {
  OCS_CHECK(histogram_.has_value(), "calibration statistics: the |x| histogram was not gathered (StatsNeeds)");
  return *histogram_;
}

double TensorStats::mean() const { return count_ ? sum() / static_cast<double>(count_) : 0.0; }

double TensorStats::variance() const {
  if (count_ == 0) return 0.0;
  // E[x^2] - E[x]^2 in double; cancellation costs about log10(mean^2 / variance) of the 16
  // digits, harmless for network tensors. Clamped because rounding can make it slightly < 0.
  const double n = static_cast<double>(count_);
  const double m = sum() / n;
  return std::max(0.0, sum_squares() / n - m * m);
}

double TensorStats::stddev() const { return std::sqrt(variance()); }

double TensorStats::mean_abs_deviation() const {
  return count_ ? gathered(sums_).sum_abs_dev() / static_cast<double>(count_) : 0.0;
}

TensorStats stats_of_tensor(const Tensor& weight, int64_t channel_axis, int64_t histogram_bins,
                            int64_t signed_histogram_bins) {
  TensorStats stats(channel_axis, histogram_bins, signed_histogram_bins);
  stats.update(weight);
  return stats;
}

}  // namespace ocs
