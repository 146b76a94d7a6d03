// The inner loops of the calibration statistics (tensor_stats.h, histogram.h,
// signed_histogram.h): each reads one contiguous run of float32 values, on one thread, written so
// that the compiler vectorises it (AVX-512 / AVX2 clones picked at load time). Threads split the
// work above them (stats_scan.h).
//
// Contract
//  - A value is finite when |v| <= FLT_MAX; NaN and +-inf are counted as non-finite and take no
//    part in any other result, as everywhere in calib/.
//  - Lane sums (add_to_lanes) put value k of the run in lane (first_lane + k) mod kSumLanes, and
//    each lane adds its values in order, so the result depends only on the values and on
//    first_lane, never on the instruction set or the thread that ran it.
//  - Slots (abs_slots, signed_slots) map each value to a counter index; the caller counts them.
#pragma once

#include <cstdint>

namespace ocs {

inline constexpr int kSumLanes = 16;

// count / non-finite count / min / max of the finite values of a run (min > max when none).
struct Extremes {
  uint64_t count = 0;
  uint64_t nonfinite = 0;
  float min = 0.0f;  // meaningful when count > 0
  float max = 0.0f;
  void merge(const Extremes& other);
};
Extremes scan_extremes(const float* x, int64_t n);

// Per-lane partial sums of x, x^2, |x| and |x - ref| over finite values.
struct SumLanes {
  double sum[kSumLanes] = {};
  double squares[kSumLanes] = {};
  double abs[kSumLanes] = {};
  double abs_dev[kSumLanes] = {};
};
void add_to_lanes(const float* x, int64_t n, int first_lane, double ref, SumLanes& lanes);
// The lanes of one quantity added up in a fixed tree order.
double fold_lanes(const double (&lanes)[kSumLanes]);

// max |x| over the finite values of a run (0 when none).
float max_abs_finite(const float* x, int64_t n);
// acc[i] = max(acc[i], |x[i]|) for finite x[i].
void max_abs_into(const float* x, int64_t n, float* acc);

// AbsHistogram slots: finite non-zero v -> min(floor(|v| * scale), num_bins - 1); exact zeros ->
// num_bins; non-finite -> num_bins + 1. `scale` is num_bins / range (0 with an empty range).
void abs_slots(const float* x, int64_t n, double scale, uint32_t num_bins, uint32_t* slots);
// SignedHistogram slots: v > 0 -> min(floor(v * scale), num_bins - 1); v < 0 -> num_bins +
// min(floor(-v * scale), num_bins - 1); exact zeros -> 2 num_bins; non-finite -> 2 num_bins + 1.
void signed_slots(const float* x, int64_t n, double scale, uint32_t num_bins, uint32_t* slots);

}  // namespace ocs
