// The loops of stats_loops.h, written with GCC's generic vectors (8 or 16 lanes, each lane one
// fixed element position of a group) so the lanes are explicit: the compiler maps them to AVX-512,
// AVX2 or SSE2 registers (target_clones picks at load time), and every lane does the same IEEE
// operations in the same order on every instruction set. The one product a fused multiply-add
// could absorb, x * x of a float widened to double, is exact (24-bit significands), so fusing it
// rounds the same way. Groups are loaded with memcpy (no alignment assumed); the tails run the
// same per-lane steps on scalars.
#include "calib/stats_loops.h"

#include "core/vector_clones.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <limits>

namespace ocs {

// GCC warns (-Wpsabi) and clang refuses to compile a function that returns a 32- or 64-byte
// vector in the default clone, whose ABI has no such registers: groups are loaded with a statement
// expression instead, so no vector crosses a call.
#pragma GCC diagnostic ignored "-Wpsabi"
#define OCS_LOAD(V, p)                \
  ({                                  \
    V loaded_;                        \
    std::memcpy(&loaded_, (p), sizeof loaded_); \
    loaded_;                          \
  })

namespace {

using F16 = float __attribute__((vector_size(64)));
using I16 = int32_t __attribute__((vector_size(64)));
using F8 = float __attribute__((vector_size(32)));
using I8 = int32_t __attribute__((vector_size(32)));
using D8 = double __attribute__((vector_size(64)));
using L8 = int64_t __attribute__((vector_size(64)));

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int32_t kAbsMask = 0x7fffffff;


inline bool finite(float v) { return std::fabs(v) <= FLT_MAX; }
// |v| by clearing the sign bit; NaN stays NaN, so `<= FLT_MAX` tells finite values.
#define OCS_ABS16(v) reinterpret_cast<F16>(reinterpret_cast<I16>(v) & kAbsMask)
#define OCS_ABS8(v) reinterpret_cast<F8>(reinterpret_cast<I8>(v) & kAbsMask)

// One value into one lane: the tails' step, the same operations as a vector lane's.
inline void add_value(float v, double ref, SumLanes& lanes, int lane) {
  const bool ok = finite(v);
  const double d = ok ? static_cast<double>(v) : 0.0;
  lanes.sum[lane] += d;
  lanes.squares[lane] += d * d;
  lanes.abs[lane] += std::fabs(d);
  lanes.abs_dev[lane] += ok ? std::fabs(d - ref) : 0.0;
}

// Eight lanes (half = 0: lanes 0-7, 1: lanes 8-15) of add_to_lanes over whole groups of 16.
struct HalfLanes {
  D8 sum, squares, abs, abs_dev;
};

inline void add_group(const F8& v, double ref, HalfLanes& h) {  // vectors by reference: no ABI question
  const D8 zero = D8{} + 0.0;
  const D8 d_all = __builtin_convertvector(v, D8);
  const D8 magnitude = reinterpret_cast<D8>(reinterpret_cast<L8>(d_all) & std::numeric_limits<int64_t>::max());
  const L8 ok = magnitude <= static_cast<double>(FLT_MAX);
  const D8 d = ok ? d_all : zero;
  h.sum += d;
  h.squares += d * d;
  h.abs += ok ? magnitude : zero;
  const D8 dev = d - ref;
  h.abs_dev += ok ? reinterpret_cast<D8>(reinterpret_cast<L8>(dev) & std::numeric_limits<int64_t>::max()) : zero;
}

}  // namespace

void Extremes::merge(const Extremes& other) {
  if (other.count > 0) {
    min = count > 0 ? std::min(min, other.min) : other.min;
    max = count > 0 ? std::max(max, other.max) : other.max;
  }
  count += other.count;
  nonfinite += other.nonfinite;
}

OCS_VECTOR_CLONES Extremes scan_extremes(const float* x, int64_t n) {
  const F16 limit = F16{} + FLT_MAX, inf = F16{} + kInf, minus_inf = F16{} - kInf;
  const I16 one = I16{} + 1, none = I16{};
  F16 lo = inf, hi = minus_inf;
  uint64_t counted = 0;
  int64_t i = 0;
  constexpr int64_t kFlush = int64_t{1} << 24;  // groups per int32 lane count, far below 2^31
  while (i + 16 <= n) {
    I16 lane_counts = I16{};
    const int64_t stop = std::min(n - 15, i + kFlush * 16);
    for (; i < stop; i += 16) {
      // Non-finite values become +inf for the min and -inf for the max: single compares and
      // blends, which AVX-512 does with mask registers (no mask arithmetic).
      const F16 v = OCS_LOAD(F16, x + i);
      const F16 a = OCS_ABS16(v);
      const F16 low = a <= limit ? v : inf, high = a <= limit ? v : minus_inf;
      lo = low < lo ? low : lo;
      hi = high > hi ? high : hi;
      lane_counts += a <= limit ? one : none;
    }
    for (int j = 0; j < 16; ++j) counted += static_cast<uint64_t>(lane_counts[j]);
  }
  float low = kInf, high = -kInf;
  for (int j = 0; j < 16; ++j) low = std::min(low, lo[j]), high = std::max(high, hi[j]);
  for (; i < n; ++i)
    if (finite(x[i])) low = std::min(low, x[i]), high = std::max(high, x[i]), ++counted;
  Extremes e;
  e.count = counted;
  e.nonfinite = static_cast<uint64_t>(n) - counted;
  e.min = low;
  e.max = high;
  return e;
}

OCS_VECTOR_CLONES void add_to_lanes(const float* x, int64_t n, int first_lane, double ref, SumLanes& lanes) {
  int64_t i = 0;
  int lane = first_lane % kSumLanes;
  for (; i < n && lane != 0; ++i, lane = (lane + 1) % kSumLanes) add_value(x[i], ref, lanes, lane);
  if (i + kSumLanes <= n) {
    HalfLanes h[2];
    for (int half = 0; half < 2; ++half) {
      std::memcpy(&h[half].sum, lanes.sum + 8 * half, sizeof(D8));
      std::memcpy(&h[half].squares, lanes.squares + 8 * half, sizeof(D8));
      std::memcpy(&h[half].abs, lanes.abs + 8 * half, sizeof(D8));
      std::memcpy(&h[half].abs_dev, lanes.abs_dev + 8 * half, sizeof(D8));
    }
    for (; i + kSumLanes <= n; i += kSumLanes) {
      add_group(OCS_LOAD(F8, x + i), ref, h[0]);
      add_group(OCS_LOAD(F8, x + i + 8), ref, h[1]);
    }
    for (int half = 0; half < 2; ++half) {
      std::memcpy(lanes.sum + 8 * half, &h[half].sum, sizeof(D8));
      std::memcpy(lanes.squares + 8 * half, &h[half].squares, sizeof(D8));
      std::memcpy(lanes.abs + 8 * half, &h[half].abs, sizeof(D8));
      std::memcpy(lanes.abs_dev + 8 * half, &h[half].abs_dev, sizeof(D8));
    }
  }
  for (int j = 0; i < n; ++i, ++j) add_value(x[i], ref, lanes, j);
}

double fold_lanes(const double (&lanes)[kSumLanes]) {
  double level[kSumLanes];
  std::copy(lanes, lanes + kSumLanes, level);
  for (int width = kSumLanes / 2; width >= 1; width /= 2)
    for (int j = 0; j < width; ++j) level[j] = level[2 * j] + level[2 * j + 1];
  return level[0];
}

OCS_VECTOR_CLONES float max_abs_finite(const float* x, int64_t n) {
  const F16 limit = F16{} + FLT_MAX, zero = F16{};
  F16 m = F16{};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const F16 a = OCS_ABS16(OCS_LOAD(F16, x + i));
    const F16 finite_a = a <= limit ? a : zero;
    m = finite_a > m ? finite_a : m;
  }
  float best = 0.0f;
  for (int j = 0; j < 16; ++j) best = std::max(best, m[j]);
  for (; i < n; ++i)
    if (finite(x[i])) best = std::max(best, std::fabs(x[i]));
  return best;
}

OCS_VECTOR_CLONES void max_abs_into(const float* x, int64_t n, float* acc) {
  const F16 limit = F16{} + FLT_MAX, zero = F16{};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const F16 a = OCS_ABS16(OCS_LOAD(F16, x + i));
    const F16 finite_a = a <= limit ? a : zero;
    const F16 m = OCS_LOAD(F16, acc + i);
    const F16 best = finite_a > m ? finite_a : m;
    std::memcpy(acc + i, &best, sizeof best);
  }
  for (; i < n; ++i)
    if (finite(x[i])) acc[i] = std::max(acc[i], std::fabs(x[i]));
}

namespace {

// floor(|v| * scale) of eight values (|v| finite or replaced by 0), at most last. The product is
// exact (scale is a power of two) and below num_bins for |v| < range; the min only guards.
inline void bins_of(const F8& magnitude, double scale, int32_t last, I8& bins) {
  const I8 bin = __builtin_convertvector(__builtin_convertvector(magnitude, D8) * scale, I8);
  const I8 cap = I8{} + last;
  bins = bin < cap ? bin : cap;
}

inline uint32_t bin_of(float magnitude, double scale, uint32_t last) {
  return std::min(static_cast<uint32_t>(static_cast<int32_t>(static_cast<double>(magnitude) * scale)), last);
}

}  // namespace

OCS_VECTOR_CLONES void abs_slots(const float* x, int64_t n, double scale, uint32_t num_bins, uint32_t* slots) {
  const auto nb = static_cast<int32_t>(num_bins);
  const F8 limit = F8{} + FLT_MAX, zero = F8{};
  const I8 zero_slot = I8{} + nb, nonfinite_slot = I8{} + (nb + 1);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const F8 a = OCS_ABS8(OCS_LOAD(F8, x + i));
    const I8 ok = a <= limit;
    I8 bin;
    bins_of(ok ? a : zero, scale, nb - 1, bin);
    const I8 slot = ok ? (a == zero ? zero_slot : bin) : nonfinite_slot;
    std::memcpy(slots + i, &slot, sizeof slot);
  }
  for (; i < n; ++i) {
    const float a = std::fabs(x[i]);
    slots[i] = !(a <= FLT_MAX) ? num_bins + 1 : a == 0.0f ? num_bins : bin_of(a, scale, num_bins - 1);
  }
}

OCS_VECTOR_CLONES void signed_slots(const float* x, int64_t n, double scale, uint32_t num_bins, uint32_t* slots) {
  const auto nb = static_cast<int32_t>(num_bins);
  const F8 limit = F8{} + FLT_MAX, zero = F8{};
  const I8 zero_slot = I8{} + 2 * nb, nonfinite_slot = I8{} + (2 * nb + 1), negative_base = I8{} + nb;
  const I8 no_base = I8{};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const F8 v = OCS_LOAD(F8, x + i);
    const F8 a = OCS_ABS8(v);
    const I8 ok = a <= limit;
    I8 bin;
    bins_of(ok ? a : zero, scale, nb - 1, bin);
    bin += v < zero ? negative_base : no_base;
    const I8 slot = ok ? (v == zero ? zero_slot : bin) : nonfinite_slot;
    std::memcpy(slots + i, &slot, sizeof slot);
  }
  for (; i < n; ++i) {
    const float v = x[i], a = std::fabs(v);
    const uint32_t bin = a <= FLT_MAX ? bin_of(a, scale, num_bins - 1) : 0;  // no float-to-int of inf or NaN
    slots[i] = !(a <= FLT_MAX) ? 2 * num_bins + 1 : v == 0.0f ? 2 * num_bins : v < 0.0f ? num_bins + bin : bin;
  }
}

}  // namespace ocs
