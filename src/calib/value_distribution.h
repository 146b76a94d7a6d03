// What the reference clip methods (docs/METHOD.md, "Clip methods": mse, aciq, kl) read about a
// tensor: a few exact numbers and its histogram on an equal-bin grid chosen by the method.
// Two sources, one interface, so each method is written once:
//  - TensorValues: all values of one tensor (a weight). Exact: the histogram bins exactly as
//    numpy.histogram does (edges float32(lo + k * (hi - lo) / bins), the last one = hi, a value
//    v in bin k when edge_k <= v < edge_{k+1}, the last bin closed), which is how the reference
//    computes it; tests/data/clip_reference/ checks that the thresholds agree.
//  - StreamedValues: an activation seen batch by batch (TensorStats with its SignedHistogram).
//    count/min/max/max_abs/mean are exact; the histogram is the fine signed histogram re-binned
//    (signed_histogram.h), and mean|x - mean| is TensorStats' reference-point sum corrected
//    with that histogram. docs/METHOD.md gives how close the thresholds come.
#pragma once

#include "calib/tensor_stats.h"
#include "core/tensor.h"

#include <cstdint>
#include <span>
#include <vector>

namespace ocs {

class ValueDistribution {
 public:
  virtual ~ValueDistribution();
  virtual uint64_t count() const = 0;  // finite values
  virtual double min() const = 0;
  virtual double max() const = 0;
  double max_abs() const;
  virtual double mean() const = 0;
  virtual double mean_abs_deviation() const = 0;  // mean |x - mean|
  // Counts of `bins` equal bins over [lo, hi] (lo < hi), as numpy.histogram(x, bins, (lo, hi)).
  virtual std::vector<double> histogram(int64_t bins, double lo, double hi) const = 0;
  // numpy's bin edges for that histogram: float32(lo + k * (hi - lo) / bins), the last = hi.
  static std::vector<double> edges(int64_t bins, double lo, double hi);
};

class TensorValues : public ValueDistribution {
 public:
  // Keeps a view of `values` (the caller keeps them alive); non-finite values are skipped.
  explicit TensorValues(std::span<const float> values);
  // The values of a float32 tensor (UserError naming its dtype otherwise).
  explicit TensorValues(const Tensor& tensor);
  uint64_t count() const override { return count_; }
  double min() const override { return min_; }
  double max() const override { return max_; }
  double mean() const override { return mean_; }
  double mean_abs_deviation() const override;
  std::vector<double> histogram(int64_t bins, double lo, double hi) const override;

 private:
  std::span<const float> values_;
  uint64_t count_ = 0;
  double min_ = 0.0, max_ = 0.0, mean_ = 0.0;
};

class StreamedValues : public ValueDistribution {
 public:
  // InternalError unless `stats` keeps a signed histogram (TensorStats' signed_histogram_bins).
  explicit StreamedValues(const TensorStats& stats);
  uint64_t count() const override { return stats_->count(); }
  double min() const override { return stats_->min(); }
  double max() const override { return stats_->max(); }
  double mean() const override { return stats_->mean(); }
  double mean_abs_deviation() const override;
  std::vector<double> histogram(int64_t bins, double lo, double hi) const override;

 private:
  const TensorStats* stats_;
};

}  // namespace ocs
