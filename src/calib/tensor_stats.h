// Running statistics of one float32 tensor (an activation seen batch after batch, or a weight
// seen once): what every clip method reads. Bounded memory: a fixed set of scalars, one max per
// channel and an AbsHistogram (num_bins counters); nothing grows with the number of batches.
//
// Contract
//  - update() accepts float32 tensors of any shape. Non-finite elements (NaN, +-inf) are
//    counted in nonfinite_count() and excluded from every other statistic.
//  - Sums are accumulated in double in fixed blocks of the stream (BlockSums, stats_scan.h), so
//    feeding the same elements in any batching, on any number of threads, gives bit-identical
//    count/sum/sum_squares/sum_abs/min/max/max_abs/channel_max_abs and identical histograms.
//    update() is vectorised and runs on the caller's OpenMP threads.
//  - StatsNeeds says which statistics to gather (count, non-finite count, min, max and max_abs
//    always; the rest only when asked, each clip method saying what it reads:
//    ClipMethod::needs). Reading a statistic that was not gathered is an InternalError.
//  - Per-channel max|x| along `channel_axis` (negative counts from the end, ONNX style):
//    activations NCHW or [N, C] -> 1; [T, N, C] sequences -> the caller passes 2 (or -1).
//    kNoChannelAxis keeps no per-channel statistics. Every batch must have the same number of
//    channels (UserError otherwise).
//  - mean_abs_deviation(): ACIQ's Laplace scale b = mean|x - mean|. One pass cannot know the
//    final mean while it streams, so it accumulates sum|x - ref| about a reference point fixed
//    at the first non-empty batch's mean. The result is exact when the data came in one batch
//    (weights, or a single calibration batch) and otherwise differs from mean|x - mean| by at
//    most |mean() - abs_deviation_reference()| (triangle inequality), which the caller may check.
//  - A SignedHistogram (signed_histogram.h) of signed_histogram_bins per sign, for the reference
//    clip methods mse/aciq/kl (value_distribution.h); 0 keeps none (weights: those methods read
//    the whole tensor instead, ClipMethod::threshold_of_tensor).
//  - With count() == 0, min/max/mean/... are 0.
#pragma once

#include "calib/histogram.h"
#include "calib/signed_histogram.h"
#include "calib/stats_scan.h"
#include "core/tensor.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

namespace ocs {

inline constexpr int64_t kNoChannelAxis = std::numeric_limits<int64_t>::min();

// The optional statistics of a TensorStats. The default gathers everything.
struct StatsNeeds {
  bool moments = true;           // sum, sum_squares, sum_abs, mean_abs_deviation (and mean, stddev)
  bool abs_histogram = true;     // histogram()
  bool signed_histogram = true;  // signed_histogram()
  static StatsNeeds none() { return {false, false, false}; }
  bool operator==(const StatsNeeds&) const = default;
};

class TensorStats {
 public:
  explicit TensorStats(int64_t channel_axis = kNoChannelAxis,
                       int64_t histogram_bins = kDefaultHistogramBins,
                       int64_t signed_histogram_bins = kDefaultSignedHistogramBins);
  // Only the statistics in `needs` (and the per-channel maxima when channel_axis is given).
  TensorStats(int64_t channel_axis, StatsNeeds needs, int64_t histogram_bins = kDefaultHistogramBins,
              int64_t signed_histogram_bins = kDefaultSignedHistogramBins);

  // Adds one batch. UserError if the tensor is not float32, its rank has no `channel_axis`, or
  // its channel count differs from earlier batches.
  void update(const Tensor& batch);

  int64_t channel_axis() const { return channel_axis_; }
  uint64_t count() const { return count_; }  // finite elements
  uint64_t nonfinite_count() const { return nonfinite_; }
  uint64_t batches() const { return batches_; }
  StatsNeeds needs() const;
  double sum() const;
  double sum_squares() const;
  double sum_abs() const;
  double min() const { return count_ ? min_ : 0.0; }
  double max() const { return count_ ? max_ : 0.0; }
  double max_abs() const { return max_abs_; }
  // Max |x| per channel (empty with kNoChannelAxis or before the first batch).
  const std::vector<double>& channel_max_abs() const { return channel_max_abs_; }
  const AbsHistogram& histogram() const;
  const std::optional<SignedHistogram>& signed_histogram() const { return signed_histogram_; }

  double mean() const;
  double variance() const;  // population variance E[(x - mean)^2], clamped at 0
  double stddev() const;
  double mean_abs_deviation() const;  // see the contract above
  double abs_deviation_reference() const { return abs_dev_ref_; }

 private:
  void update_channel_max(const Tensor& batch);
  // With both histograms, the |x| one is read off the signed one (SignedHistogram::magnitudes,
  // exact) instead of binning every value twice.
  bool derive_histogram() const;

  int64_t channel_axis_;
  uint64_t count_ = 0;
  uint64_t nonfinite_ = 0;
  uint64_t batches_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
  double max_abs_ = 0.0;
  bool has_abs_dev_ref_ = false;
  double abs_dev_ref_ = 0.0;
  std::optional<BlockSums> sums_;  // with StatsNeeds::moments; sum |x - abs_dev_ref_| among them
  std::vector<double> channel_max_abs_;
  std::optional<AbsHistogram> histogram_;
  std::optional<SignedHistogram> signed_histogram_;
};

// Statistics of one weight tensor (a single update). channel_axis as above, e.g. the input
// channel axis that OCS splits (1 for Conv [C_out, C_in, kh, kw] and for Gemm with transB).
TensorStats stats_of_tensor(const Tensor& weight, int64_t channel_axis,
                            int64_t histogram_bins = kDefaultHistogramBins,
                            int64_t signed_histogram_bins = kDefaultSignedHistogramBins);

}  // namespace ocs
