// The rounding and saturation that ONNX QuantizeLinear specifies, written to agree bit for bit
// with ONNX Runtime's CPU kernel (MLAS): q = saturate(round_half_to_even(x / scale) + zero_point).
// Shared by the QuantizeLinear/DynamicQuantizeLinear reference kernels and the quantizer.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace ocs {

// Nearest integer, ties to even: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2, 0.5 -> 0.
// Independent of the floating-point rounding mode: remainder(v, 1) is exact by IEEE 754 (it is
// v - n with n the nearest integer, ties to even), and v - remainder is then exactly n.
// Every float with |v| >= 2^23 is already an integer and comes back unchanged; so do +-inf and
// NaN (remainder is NaN for them, hence the guard).
inline float round_half_to_even(float v) {
  if (!std::isfinite(v)) return v;
  return v - std::remainder(v, 1.0f);
}

// round_half_to_even for |v| < 2^23, as an int32 and without a libm call (the quantizer's hot
// loop): truncation is exact there, so is v - trunc(v) (Sterbenz), and the tie goes to the
// even neighbour. Independent of the rounding mode, like round_half_to_even.
inline int32_t round_half_to_even_small(float v) {
  int32_t i = static_cast<int32_t>(v);
  const float frac = v - static_cast<float>(i);
  if (frac > 0.5f || (frac == 0.5f && (i & 1))) ++i;
  else if (frac < -0.5f || (frac == -0.5f && (i & 1))) --i;
  return i;
}

// Quantizes one value to Q (int8_t or uint8_t):
//   q = clamp(round_half_to_even(x / scale) + zero_point, Q's min, Q's max).
// Numeric range: x / scale is divided in float32 (not multiplied by 1/scale), as MLAS does; the
// quotient can be anything up to +-inf, so it is clamped to [min - zp, max - zp] in float
// *before* the conversion to int32 (both bounds are integers, so clamping first and rounding
// second gives the same result as the other order, and the int32 conversion cannot overflow).
// NaN saturates to Q's minimum, as MLAS's SSE/AVX path does (MAXPS returns the bound for NaN).
template <typename Q>
Q quantize_value(float x, float scale, int32_t zero_point) {
  static_assert(std::is_integral_v<Q> && sizeof(Q) == 1, "int8_t or uint8_t");
  constexpr int32_t q_min = std::numeric_limits<Q>::min();
  constexpr int32_t q_max = std::numeric_limits<Q>::max();
  const float scaled = x / scale;
  if (std::isnan(scaled)) return static_cast<Q>(q_min);
  const float low = static_cast<float>(q_min - zero_point);
  const float high = static_cast<float>(q_max - zero_point);
  const float clamped = scaled < low ? low : (scaled > high ? high : scaled);
  return static_cast<Q>(round_half_to_even_small(clamped) + zero_point);
}

// The inverse map: (q - zero_point) * scale, the difference taken in int32 and converted to float
// before one float32 multiply, as ONNX Runtime's DequantizeLinear does. Exact for 8-bit q (the
// difference fits in 9 bits); for int32 q beyond 2^24 the int-to-float conversion rounds.
inline float dequantize_value(int32_t q, float scale, int32_t zero_point) {
  return static_cast<float>(q - zero_point) * scale;
}

}  // namespace ocs
