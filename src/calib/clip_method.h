// Clip methods: each picks a per-tensor clip threshold t from the statistics of a tensor, for the
// symmetric signed b-bit grid of docs/METHOD.md (s = (2^(b-1) - 1) / t). One calibration pass
// (TensorStats) serves every method and every bit width.
//
// Contract of threshold(stats, bits)
//  - bits in [2, 16] (check_clip_bits; UserError otherwise). stats.count() > 0 (precondition:
//    the caller makes sure the tensor was observed; InternalError otherwise).
//  - Returns t in [0, max|x|], except the reference `aciq`, whose closed-form candidates may
//    exceed max|x| (as in the reference). Our methods clamp a candidate above max|x| to max|x|:
//    clipping beyond the largest value clips nothing and only coarsens the grid. t == 0 exactly when
//    max|x| == 0 (an all-zero tensor); the caller must then pick any scale (e.g. 1).
//  - Deterministic; reads only the statistics.
//  - Unsigned activations (q in 0 .. 2^b - 1, s = (2^b - 1) / t) on non-negative data: call
//    threshold(stats, b + 1). That grid is exactly the non-negative half of the signed (b+1)-bit
//    grid, so max, mse, kl (2^b levels) and percentile carry over exactly; aciq's priors are
//    symmetric, so on one-sided data it is a heuristic either way.
//  - Per-output-channel weight scales: one TensorStats per output-channel slice
//    (stats_of_tensor on the slice), one threshold each.
//
// Specs accepted by make_clip_method: "max", "mse", "aciq", "kl" (the reference's definitions,
// docs/METHOD.md), "mse-fine", "aciq-std", "kl-nonzero" (our variants), "percentile" (99.99) and
// "percentile:P" with 0 < P <= 100.
#pragma once

#include "calib/tensor_stats.h"

#include <memory>
#include <string>

namespace ocs {

class ClipMethod {
 public:
  virtual ~ClipMethod();
  virtual std::string name() const = 0;  // the spec that recreates it, e.g. "percentile:99.9"
  virtual double threshold(const TensorStats& stats, int bits) const = 0;
  // The optional statistics threshold() reads (TensorStats asserts that they were gathered), so
  // that calibration gathers only those.
  virtual StatsNeeds needs() const = 0;
  // The threshold of one whole tensor (a weight, or a slice of it). By default threshold() on
  // its statistics; the reference methods (mse, aciq, kl) read every value instead, exactly as
  // their definitions do (value_distribution.h).
  virtual double threshold_of_tensor(const Tensor& values, int bits) const;
};

// UserError listing the valid specs for an unknown one.
std::unique_ptr<ClipMethod> make_clip_method(const std::string& spec);

// The individual methods (one file each: clip_max.cpp, clip_mse.cpp, ...).
std::unique_ptr<ClipMethod> make_clip_max();
std::unique_ptr<ClipMethod> make_clip_mse();
std::unique_ptr<ClipMethod> make_clip_aciq();
std::unique_ptr<ClipMethod> make_clip_kl();
std::unique_ptr<ClipMethod> make_clip_percentile(double percent);  // UserError unless 0 < p <= 100
// Our variants of mse, aciq and kl (docs/METHOD.md), kept under their own names.
std::unique_ptr<ClipMethod> make_clip_mse_fine();
std::unique_ptr<ClipMethod> make_clip_aciq_std();
std::unique_ptr<ClipMethod> make_clip_kl_nonzero();

inline constexpr int kMinClipBits = 2;
inline constexpr int kMaxClipBits = 16;
// UserError unless kMinClipBits <= bits <= kMaxClipBits.
void check_clip_bits(int bits);

}  // namespace ocs
