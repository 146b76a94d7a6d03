#include "calib/tensor_stats.h"

#include "core/axis_split.h"
#include "core/error.h"

#include <algorithm>
#include <cmath>

namespace ocs {

TensorStats::TensorStats(int64_t channel_axis, int64_t histogram_bins, int64_t signed_histogram_bins)
    : channel_axis_(channel_axis), histogram_(histogram_bins) {
  if (signed_histogram_bins > 0) signed_histogram_.emplace(signed_histogram_bins);
}

void TensorStats::update(const Tensor& batch) {
  if (batch.dtype() != DType::Float32)
    user_error("calibration statistics need float32 data, got {} of shape {}",
               dtype_name(batch.dtype()), shape_str(batch.shape()));

  // Split the shape into [outer, channels, inner] around the channel axis.
  int64_t outer = batch.numel();
  int64_t channels = 1;
  int64_t inner = 1;
  if (channel_axis_ != kNoChannelAxis) {
    const int64_t rank = batch.rank();
    const int64_t axis = channel_axis_ < 0 ? channel_axis_ + rank : channel_axis_;
    if (axis < 0 || axis >= rank)
      user_error("channel axis {} does not exist in a tensor of shape {}", channel_axis_,
                 shape_str(batch.shape()));
    const AxisSplit around = split_at_axis(batch.shape(), axis);
    outer = around.outer;
    channels = around.channels;
    inner = around.inner;
    if (batches_ == 0) {
      channel_max_abs_.assign(static_cast<size_t>(channels), 0.0);
    } else if (static_cast<int64_t>(channel_max_abs_.size()) != channels) {
      user_error("tensor of shape {} has {} channels on axis {}, earlier batches had {}",
                 shape_str(batch.shape()), channels, channel_axis_, channel_max_abs_.size());
    }
  }
  ++batches_;
  if (batch.numel() == 0) return;

  const float* data = batch.data<float>();
  if (!has_abs_dev_ref_) {
    // The reference point of sum|x - ref|: this (first non-empty) batch's mean.
    double batch_sum = 0.0;
    uint64_t batch_count = 0;
    for (int64_t i = 0; i < batch.numel(); ++i)
      if (std::isfinite(data[i])) { batch_sum += data[i]; ++batch_count; }
    if (batch_count > 0) {
      abs_dev_ref_ = batch_sum / static_cast<double>(batch_count);
      has_abs_dev_ref_ = true;
    }
  }

  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* row = data + (o * channels + c) * inner;
      double row_max_abs = 0.0;
      for (int64_t i = 0; i < inner; ++i) {
        const double x = row[i];
        if (!std::isfinite(x)) { ++nonfinite_; continue; }
        const double magnitude = std::fabs(x);
        ++count_;
        sum_ += x;
        sum_squares_ += x * x;
        sum_abs_ += magnitude;
        sum_abs_dev_ += std::fabs(x - abs_dev_ref_);
        min_ = std::min(min_, x);
        max_ = std::max(max_, x);
        row_max_abs = std::max(row_max_abs, magnitude);
      }
      max_abs_ = std::max(max_abs_, row_max_abs);
      if (!channel_max_abs_.empty())
        channel_max_abs_[static_cast<size_t>(c)] =
            std::max(channel_max_abs_[static_cast<size_t>(c)], row_max_abs);
    }
  }
  histogram_.add(batch.span<float>());
  if (signed_histogram_) signed_histogram_->add(batch.span<float>());
}

double TensorStats::mean() const { return count_ ? sum_ / static_cast<double>(count_) : 0.0; }

double TensorStats::variance() const {
  if (count_ == 0) return 0.0;
  // E[x^2] - E[x]^2 in double; cancellation costs about log10(mean^2 / variance) of the 16
  // digits, harmless for network tensors. Clamped because rounding can make it slightly < 0.
  const double n = static_cast<double>(count_);
  const double m = sum_ / n;
  return std::max(0.0, sum_squares_ / n - m * m);
}

double TensorStats::stddev() const { return std::sqrt(variance()); }

double TensorStats::mean_abs_deviation() const {
  return count_ ? sum_abs_dev_ / static_cast<double>(count_) : 0.0;
}

TensorStats stats_of_tensor(const Tensor& weight, int64_t channel_axis, int64_t histogram_bins,
                            int64_t signed_histogram_bins) {
  TensorStats stats(channel_axis, histogram_bins, signed_histogram_bins);
  stats.update(weight);
  return stats;
}

}  // namespace ocs
