#include "calib/stats_scan.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <utility>

namespace ocs {

namespace {

int threads_for(int64_t work) { return work < kMinParallelValues ? 1 : std::max(1, omp_get_max_threads()); }

// Calls body(part, begin, end) on `parts` contiguous ranges of [0, n), one per thread. Parts a
// team does not reach (OpenMP may give fewer threads) are run by thread 0 afterwards.
template <typename Body>
void split_among_threads(int64_t n, int parts, Body body) {
  auto range = [n, parts](int part) {
    return std::array<int64_t, 2>{n * part / parts, n * (part + 1) / parts};
  };
  int team = 1;
#pragma omp parallel num_threads(parts) if (parts > 1)
  {
    const int t = omp_get_thread_num();
#pragma omp single
    team = omp_get_num_threads();
    if (t < parts) {
      const auto [begin, end] = range(t);
      body(t, begin, end);
    }
  }
  for (int part = team; part < parts; ++part) {
    const auto [begin, end] = range(part);
    body(part, begin, end);
  }
}

}  // namespace

Extremes parallel_extremes(std::span<const float> values) {
  const int parts = threads_for(static_cast<int64_t>(values.size()));
  std::vector<Extremes> found(static_cast<size_t>(parts));
  split_among_threads(static_cast<int64_t>(values.size()), parts, [&](int part, int64_t begin, int64_t end) {
    found[static_cast<size_t>(part)] = scan_extremes(values.data() + begin, end - begin);
  });
  Extremes all;
  for (const Extremes& e : found) all.merge(e);
  return all;
}

void channel_max_abs(const float* data, int64_t outer, int64_t channels, int64_t inner, std::vector<double>& acc) {
  const int parts = threads_for(outer * channels * inner);
  std::vector<std::vector<float>> found(static_cast<size_t>(parts), std::vector<float>(static_cast<size_t>(channels), 0.0f));
  if (inner == 1) {  // [..., C] rows: one pass per outer index over the contiguous channels
    split_among_threads(outer, parts, [&](int part, int64_t begin, int64_t end) {
      for (int64_t o = begin; o < end; ++o) max_abs_into(data + o * channels, channels, found[static_cast<size_t>(part)].data());
    });
  } else {  // one row of `inner` values per (outer, channel)
    split_among_threads(outer * channels, parts, [&](int part, int64_t begin, int64_t end) {
      float* mine = found[static_cast<size_t>(part)].data();
      for (int64_t row = begin; row < end; ++row)
        mine[row % channels] = std::max(mine[row % channels], max_abs_finite(data + row * inner, inner));
    });
  }
  for (const auto& part : found)
    for (size_t c = 0; c < acc.size(); ++c) acc[c] = std::max(acc[c], static_cast<double>(part[c]));
}

std::vector<uint64_t> count_slots(std::span<const float> values, SlotKind kind, double scale, uint32_t num_bins) {
  const size_t slots = (kind == SlotKind::Abs ? num_bins : 2 * static_cast<size_t>(num_bins)) + 2;
  const int parts = threads_for(static_cast<int64_t>(values.size()));
  // Each part counts into its own kCopies interleaved tables (value k into table k mod kCopies):
  // consecutive values in one bin (a run of zeros) then update different counters, so the
  // increments do not wait on each other. 32-bit counters (half the cache of 64-bit ones) are
  // flushed into the 64-bit totals before they could overflow. Allocated here, on the calling
  // thread, so the worker threads never allocate.
  constexpr int kCopies = 2;
  constexpr int64_t kTile = 1024;                   // slot indices computed a tile at a time
  constexpr int64_t kFlushValues = int64_t{1} << 31;  // below 2^32 per counter
  std::vector<uint32_t> tables(static_cast<size_t>(parts) * kCopies * slots, 0);
  std::vector<uint64_t> totals(static_cast<size_t>(parts) * slots, 0);
  split_among_threads(static_cast<int64_t>(values.size()), parts, [&](int part, int64_t begin, int64_t end) {
    uint32_t* table = tables.data() + static_cast<size_t>(part) * kCopies * slots;
    uint64_t* total = totals.data() + static_cast<size_t>(part) * slots;
    auto flush = [&] {
      for (size_t s = 0; s < kCopies * slots; ++s) total[s % slots] += std::exchange(table[s], 0);
    };
    uint32_t tile[kTile];
    int64_t since_flush = 0;
    for (int64_t at = begin; at < end; at += kTile) {
      const int64_t n = std::min(kTile, end - at);
      if (kind == SlotKind::Abs) abs_slots(values.data() + at, n, scale, num_bins, tile);
      else signed_slots(values.data() + at, n, scale, num_bins, tile);
      int64_t k = 0;
      for (; k + kCopies <= n; k += kCopies)
        for (int copy = 0; copy < kCopies; ++copy) ++table[static_cast<size_t>(copy) * slots + tile[k + copy]];
      for (; k < n; ++k) ++table[tile[k]];
      if ((since_flush += n) >= kFlushValues - kTile) flush(), since_flush = 0;
    }
    flush();
  });
  std::vector<uint64_t> total(slots, 0);
  for (int part = 0; part < parts; ++part)
    for (size_t s = 0; s < slots; ++s) total[s] += totals[static_cast<size_t>(part) * slots + s];
  return total;
}

void BlockSums::close_block(const SumLanes& block) {
  sum_ += fold_lanes(block.sum);
  squares_ += fold_lanes(block.squares);
  abs_ += fold_lanes(block.abs);
  abs_dev_ += fold_lanes(block.abs_dev);
}

void BlockSums::add(const float* x, int64_t n, double ref) {
  // Complete the open block first, so the blocks keep their positions in the stream.
  const int64_t head = open_filled_ > 0 ? std::min(n, kBlock - open_filled_) : 0;
  add_to_lanes(x, head, static_cast<int>(open_filled_ % kSumLanes), ref, open_);
  open_filled_ += head;
  if (open_filled_ == kBlock) {
    close_block(open_);
    open_ = SumLanes{};
    open_filled_ = 0;
  }
  const int64_t full = (n - head) / kBlock;
  std::vector<std::array<double, 4>> blocks(static_cast<size_t>(full));
  split_among_threads(full, threads_for(full * kBlock), [&](int, int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      SumLanes lanes;
      add_to_lanes(x + head + b * kBlock, kBlock, 0, ref, lanes);
      blocks[static_cast<size_t>(b)] = {fold_lanes(lanes.sum), fold_lanes(lanes.squares), fold_lanes(lanes.abs),
                                        fold_lanes(lanes.abs_dev)};
    }
  });
  for (const auto& block : blocks) {  // in stream order
    sum_ += block[0];
    squares_ += block[1];
    abs_ += block[2];
    abs_dev_ += block[3];
  }
  const int64_t rest = n - head - full * kBlock;
  add_to_lanes(x + head + full * kBlock, rest, static_cast<int>(open_filled_ % kSumLanes), ref, open_);
  open_filled_ += rest;
}

double BlockSums::sum() const { return sum_ + fold_lanes(open_.sum); }
double BlockSums::sum_squares() const { return squares_ + fold_lanes(open_.squares); }
double BlockSums::sum_abs() const { return abs_ + fold_lanes(open_.abs); }
double BlockSums::sum_abs_dev() const { return abs_dev_ + fold_lanes(open_.abs_dev); }

}  // namespace ocs
