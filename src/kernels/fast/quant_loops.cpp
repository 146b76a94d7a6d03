// The loops of quant_loops.h. Rounding: after the clamp, |v| <= 255 + 255, and for |v| < 2^22
// (v + 1.5 * 2^23) - 1.5 * 2^23 is v rounded to the nearest integer, ties to even, in the default
// rounding mode (the sum lies in [2^23, 2^24), where floats are exactly the integers; the
// subtraction is exact). The process never changes the rounding mode, so this equals
// round_half_to_even_small (core/round.h), which the tests check on ties, NaN, infinities and
// huge values. Written as plain loops the compiler vectorises (no libm call, selects instead of
// branches); target_clones builds AVX-512 and AVX2 versions picked at load time.
#include "kernels/fast/quant_loops.h"

#include "core/vector_clones.h"

#include <algorithm>
#include <limits>

namespace ocs {

namespace {

constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23

template <typename Q>
inline void quantize_run(const float* __restrict x, int64_t n, float scale, int32_t zero_point, Q* __restrict y) {
  const float low = static_cast<float>(std::numeric_limits<Q>::min() - zero_point);
  const float high = static_cast<float>(std::numeric_limits<Q>::max() - zero_point);
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i] / scale;
    v = v >= low ? v : low;  // NaN and -inf go to low
    v = v > high ? high : v;
    const float rounded = (v + kRoundMagic) - kRoundMagic;
    y[i] = static_cast<Q>(static_cast<int32_t>(rounded) + zero_point);
  }
}

OCS_VECTOR_CLONES void quantize_s8(const float* x, int64_t n, float scale, int32_t zero_point, int8_t* y) {
  quantize_run(x, n, scale, zero_point, y);
}
OCS_VECTOR_CLONES void quantize_u8(const float* x, int64_t n, float scale, int32_t zero_point, uint8_t* y) {
  quantize_run(x, n, scale, zero_point, y);
}

template <typename Q>
inline void clip_quantize_run(const float* __restrict x, int64_t n, float clip_low, float clip_high, float scale,
                              int32_t zero_point, Q* __restrict y) {
  const float low = static_cast<float>(std::numeric_limits<Q>::min() - zero_point);
  const float high = static_cast<float>(std::numeric_limits<Q>::max() - zero_point);
  for (int64_t i = 0; i < n; ++i) {
    float c = x[i] < clip_low ? clip_low : x[i];  // std::max(x, low): NaN stays
    c = clip_high < c ? clip_high : c;             // std::min(c, high)
    float v = c / scale;
    v = v >= low ? v : low;
    v = v > high ? high : v;
    const float rounded = (v + kRoundMagic) - kRoundMagic;
    y[i] = static_cast<Q>(static_cast<int32_t>(rounded) + zero_point);
  }
}

template <typename Q>
inline void dequantize_run(const Q* __restrict q, int64_t n, float scale, int32_t zero_point, float* __restrict y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<float>(static_cast<int32_t>(q[i]) - zero_point) * scale;
}

// q - zero_point is the clamped, rounded v itself (an integer of at most 9 bits), so
// float(q - zero_point) == rounded exactly and the result equals the two kernels in sequence.
OCS_VECTOR_CLONES void fake_quantize_run(const float* __restrict x, int64_t n, float scale, float low, float high,
                                         float* __restrict y) {
  for (int64_t i = 0; i < n; ++i) {
    float v = x[i] / scale;
    v = v >= low ? v : low;
    v = v > high ? high : v;
    y[i] = ((v + kRoundMagic) - kRoundMagic) * scale;
  }
}

OCS_VECTOR_CLONES void dequantize_s8(const int8_t* q, int64_t n, float scale, int32_t zero_point, float* y) {
  dequantize_run(q, n, scale, zero_point, y);
}
OCS_VECTOR_CLONES void dequantize_u8(const uint8_t* q, int64_t n, float scale, int32_t zero_point, float* y) {
  dequantize_run(q, n, scale, zero_point, y);
}
OCS_VECTOR_CLONES void dequantize_s32(const int32_t* q, int64_t n, float scale, int32_t zero_point, float* y) {
  dequantize_run(q, n, scale, zero_point, y);
}

OCS_VECTOR_CLONES void clip_quantize_s8(const float* x, int64_t n, float lo, float hi, float scale, int32_t zp,
                                        int8_t* y) {
  clip_quantize_run(x, n, lo, hi, scale, zp, y);
}
OCS_VECTOR_CLONES void clip_quantize_u8(const float* x, int64_t n, float lo, float hi, float scale, int32_t zp,
                                        uint8_t* y) {
  clip_quantize_run(x, n, lo, hi, scale, zp, y);
}

// Calls body(begin, count) over [0, n) in blocks, in parallel when n is large.
template <typename Body>
void for_blocks(int64_t n, Body body) {
  if (n < kQuantParallelMin) {
    body(int64_t{0}, n);
    return;
  }
  constexpr int64_t block = 1 << 14;
  const int64_t blocks = (n + block - 1) / block;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) body(b * block, std::min(block, n - b * block));
}

}  // namespace

void fast_quantize(const float* x, int64_t n, float scale, int32_t zero_point, int8_t* y) {
  for_blocks(n, [&](int64_t at, int64_t count) { quantize_s8(x + at, count, scale, zero_point, y + at); });
}
void fast_quantize(const float* x, int64_t n, float scale, int32_t zero_point, uint8_t* y) {
  for_blocks(n, [&](int64_t at, int64_t count) { quantize_u8(x + at, count, scale, zero_point, y + at); });
}
void fast_clip_quantize_serial(const float* x, int64_t n, float clip_low, float clip_high, float scale,
                               int32_t zero_point, int8_t* y) {
  clip_quantize_s8(x, n, clip_low, clip_high, scale, zero_point, y);
}
void fast_clip_quantize_serial(const float* x, int64_t n, float clip_low, float clip_high, float scale,
                               int32_t zero_point, uint8_t* y) {
  clip_quantize_u8(x, n, clip_low, clip_high, scale, zero_point, y);
}
void fast_fake_quantize_serial(const float* x, int64_t n, float scale, int32_t zero_point, int32_t q_min,
                               int32_t q_max, float* y) {
  fake_quantize_run(x, n, scale, static_cast<float>(q_min - zero_point), static_cast<float>(q_max - zero_point), y);
}
void fast_dequantize(const int8_t* q, int64_t n, float scale, int32_t zero_point, float* y) {
  for_blocks(n, [&](int64_t at, int64_t count) { dequantize_s8(q + at, count, scale, zero_point, y + at); });
}
void fast_dequantize(const uint8_t* q, int64_t n, float scale, int32_t zero_point, float* y) {
  for_blocks(n, [&](int64_t at, int64_t count) { dequantize_u8(q + at, count, scale, zero_point, y + at); });
}
void fast_dequantize(const int32_t* q, int64_t n, float scale, int32_t zero_point, float* y) {
  for_blocks(n, [&](int64_t at, int64_t count) { dequantize_s32(q + at, count, scale, zero_point, y + at); });
}

}  // namespace ocs
