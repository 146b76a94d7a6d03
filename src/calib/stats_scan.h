// The calibration statistics of one batch, split over the OpenMP threads of the caller (a
// Session sets them to --threads while it runs, and calls observers between nodes, outside any
// parallel region). Every result is independent of the number of threads:
//  - counts, minima and maxima are exact whatever the split;
//  - sums are taken in fixed blocks of the stream (BlockSums), never per thread.
// Runs shorter than kMinParallelValues stay on the calling thread (threads cost more there).
#pragma once

#include "calib/stats_loops.h"

#include <cstdint>
#include <span>
#include <vector>

namespace ocs {

inline constexpr int64_t kMinParallelValues = 1 << 15;

Extremes parallel_extremes(std::span<const float> values);

// acc[c] = max(acc[c], max |x| over the finite values of channel c) for data laid out
// [outer, channels, inner]; acc has `channels` entries.
void channel_max_abs(const float* data, int64_t outer, int64_t channels, int64_t inner, std::vector<double>& acc);

enum class SlotKind { Abs, Signed };  // abs_slots / signed_slots of stats_loops.h

// How many values fall in each slot: num_bins + 2 counters for Abs, 2 num_bins + 2 for Signed.
std::vector<uint64_t> count_slots(std::span<const float> values, SlotKind kind, double scale, uint32_t num_bins);

// Sums of x, x^2, |x| and |x - ref| over the finite values of a stream that arrives in runs (the
// batches). The stream is cut into blocks of kBlock values at fixed positions counted from its
// start; a block's sum is its kSumLanes lane sums (stats_loops.h) folded in a fixed order, and
// the totals add the blocks in stream order. So the result depends only on the values and their
// order: not on how the stream was cut into batches, nor on the number of threads. The last
// (partial) block is kept open across add() calls. `ref` must be the same in every call.
class BlockSums {
 public:
  static constexpr int64_t kBlock = 4096;

  void add(const float* x, int64_t n, double ref);

  double sum() const;
  double sum_squares() const;
  double sum_abs() const;
  double sum_abs_dev() const;  // sum |x - ref|

 private:
  void close_block(const SumLanes& block);

  SumLanes open_;
  int64_t open_filled_ = 0;  // values in the open block
  double sum_ = 0.0, squares_ = 0.0, abs_ = 0.0, abs_dev_ = 0.0;  // of the closed blocks
};

}  // namespace ocs
