// float16 (IEEE 754 binary16) and bfloat16 as storage types.
//
// ocs holds tensors of these types (import, export, .npy) and converts them exactly in Cast and
// CastLike; no other kernel computes with them (dispatch_dtype refuses them): import turns a
// network that computes in them into one that computes in float32 (onnx/half_to_float.h).
// A value is kept as its 16 bits.
//
//   float16:  sign 1 | exponent 5 (bias 15)  | fraction 10   max 65504, smallest normal 2^-14,
//                                                            smallest subnormal 2^-24
//   bfloat16: sign 1 | exponent 8 (bias 127) | fraction 7    the top half of a float32
//
// Widening (to float or double) is exact. Narrowing rounds to nearest, ties to even, from the
// exact source value (no double rounding through float): values past the largest finite
// number round to infinity, tiny values to subnormals or signed zero. Infinities keep their
// sign; NaN stays NaN (quiet, sign and the top bits of the payload kept).
#pragma once

#include "core/dtype.h"

#include <cstdint>

namespace ocs {

struct Float16 {
  uint16_t bits = 0;
};
struct BFloat16 {
  uint16_t bits = 0;
};
static_assert(sizeof(Float16) == 2 && sizeof(BFloat16) == 2);

template <> struct DTypeOf<Float16> { static constexpr DType value = DType::Float16; };
template <> struct DTypeOf<BFloat16> { static constexpr DType value = DType::BFloat16; };

// Exact widening.
float float16_to_float(Float16 value);
float bfloat16_to_float(BFloat16 value);

// Narrowing with round to nearest even. Float arguments widen to double exactly first.
Float16 float16_from_double(double value);
BFloat16 bfloat16_from_double(double value);
// From integers, rounded once from the exact integer (an int64 above 2^53 is not first rounded
// to a double).
Float16 float16_from_int(int64_t value);
Float16 float16_from_uint(uint64_t value);
BFloat16 bfloat16_from_int(int64_t value);
BFloat16 bfloat16_from_uint(uint64_t value);

}  // namespace ocs
