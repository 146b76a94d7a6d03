#include "core/dtype.h"
#include "core/half.h"

#include <bit>
#include <cmath>

namespace ocs {

size_t dtype_size(DType type) {
  switch (type) {
    case DType::Float32: case DType::Int32: case DType::UInt32: return 4;
    case DType::Float64: case DType::Int64: case DType::UInt64: return 8;
    case DType::Int16: case DType::UInt16: case DType::Float16: case DType::BFloat16: return 2;
    case DType::Int8: case DType::UInt8: case DType::Bool: return 1;
    default: return 0;
  }
}

std::string_view dtype_name(DType type) {
  switch (type) {
    case DType::Undefined: return "undefined";
    case DType::Float32: return "float32";
    case DType::UInt8: return "uint8";
    case DType::Int8: return "int8";
    case DType::UInt16: return "uint16";
    case DType::Int16: return "int16";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::String: return "string";
    case DType::Bool: return "bool";
    case DType::Float16: return "float16";
    case DType::Float64: return "float64";
    case DType::UInt32: return "uint32";
    case DType::UInt64: return "uint64";
    case DType::BFloat16: return "bfloat16";
  }
  return "unknown";
}

bool dtype_supported(DType type) { return dtype_size(type) != 0; }

bool dtype_is_half(DType type) { return type == DType::Float16 || type == DType::BFloat16; }

// ---- float16 / bfloat16 conversions ----------------------------------------------------------

namespace {

// A 16-bit binary float: 1 sign bit, `exponent_bits`, `fraction_bits`.
struct HalfFormat {
  int exponent_bits;
  int fraction_bits;
};
constexpr HalfFormat kFloat16Format{5, 10};
constexpr HalfFormat kBFloat16Format{8, 7};

constexpr uint32_t infinity_bits(HalfFormat format) {
  return ((1u << format.exponent_bits) - 1) << format.fraction_bits;
}

// The 16 bits nearest to (-1)^negative * magnitude * 2^exponent, ties to even. This is the one
// place where narrowing rounds, so every source type rounds exactly once.
uint16_t round_to_half(HalfFormat format, bool negative, uint64_t magnitude, int exponent) {
  const uint16_t sign = negative ? uint16_t{0x8000} : uint16_t{0};
  if (magnitude == 0) return sign;
  const int bias = (1 << (format.exponent_bits - 1)) - 1;
  const int top = 63 - std::countl_zero(magnitude);  // bit index of the leading 1
  // The biased exponent the result would have if it is normal. Below 1 the result is
  // subnormal: its last fraction bit is worth 2^(1 - bias - fraction_bits), fixed.
  const int64_t biased = int64_t{top} + exponent + bias;
  // Low bits of `magnitude` below the result's last fraction bit.
  int64_t drop = top - format.fraction_bits;
  if (biased < 1) drop += 1 - biased;
  // Below half of the smallest subnormal: rounds to zero.
  if (drop >= top + 2) return sign;
  uint64_t kept;  // the significand after rounding, in units of the last fraction bit
  if (drop <= 0) {
    kept = magnitude << -drop;  // exact; at most fraction_bits of shift
  } else {
    const unsigned __int128 wide = magnitude;
    const unsigned __int128 one = 1;
    kept = static_cast<uint64_t>(wide >> drop);
    const unsigned __int128 remainder = wide & ((one << drop) - 1);
    const unsigned __int128 halfway = one << (drop - 1);
    if (remainder > halfway || (remainder == halfway && (kept & 1))) ++kept;
  }
  uint64_t bits;
  if (biased < 1) {
    // Subnormal; kept == 2^fraction_bits means it rounded up to the smallest normal, whose
    // encoding is exactly that.
    bits = kept;
  } else {
    // kept carries the implicit leading 1 (2^fraction_bits <= kept <= 2^(fraction_bits+1));
    // adding it to (biased - 1) << fraction_bits sets the exponent field, and a rounding carry
    // moves into the exponent by itself.
    bits = (static_cast<uint64_t>(biased - 1) << format.fraction_bits) + kept;
  }
  if (bits >= infinity_bits(format)) bits = infinity_bits(format);  // overflow
  return static_cast<uint16_t>(sign | bits);
}

uint16_t half_from_double(HalfFormat format, double value) {
  const uint64_t bits = std::bit_cast<uint64_t>(value);
  const bool negative = (bits >> 63) != 0;
  const int exponent_field = static_cast<int>((bits >> 52) & 0x7FF);
  const uint64_t fraction = bits & ((uint64_t{1} << 52) - 1);
  if (exponent_field == 0x7FF) {
    const uint16_t sign = negative ? uint16_t{0x8000} : uint16_t{0};
    if (fraction == 0) return static_cast<uint16_t>(sign | infinity_bits(format));
    // NaN: quiet, with the top bits of the payload.
    const uint32_t quiet = 1u << (format.fraction_bits - 1);
    const uint32_t payload = static_cast<uint32_t>(fraction >> (52 - format.fraction_bits));
    return static_cast<uint16_t>(sign | infinity_bits(format) | quiet | payload);
  }
  if (exponent_field == 0) return round_to_half(format, negative, fraction, -1074);  // subnormal
  return round_to_half(format, negative, fraction | (uint64_t{1} << 52), exponent_field - 1075);
}

uint16_t half_from_int(HalfFormat format, int64_t value) {
  // 0 - (uint64)value is |value| also for INT64_MIN.
  const uint64_t magnitude = value < 0 ? uint64_t{0} - static_cast<uint64_t>(value)
                                       : static_cast<uint64_t>(value);
  return round_to_half(format, value < 0, magnitude, 0);
}

}  // namespace

float float16_to_float(Float16 value) {
  const uint32_t sign = static_cast<uint32_t>(value.bits >> 15) << 31;
  const uint32_t exponent = (value.bits >> 10) & 0x1F;
  const uint32_t fraction = value.bits & 0x3FF;
  if (exponent == 0) {
    // Zero or subnormal: fraction * 2^-24, exact in float.
    const float magnitude = std::ldexp(static_cast<float>(fraction), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1F)  // infinity, or NaN with its payload in the top fraction bits
    return std::bit_cast<float>(sign | 0x7F800000u | (fraction << 13));
  return std::bit_cast<float>(sign | ((exponent - 15 + 127) << 23) | (fraction << 13));
}

float bfloat16_to_float(BFloat16 value) {
  return std::bit_cast<float>(static_cast<uint32_t>(value.bits) << 16);
}

Float16 float16_from_double(double value) { return {half_from_double(kFloat16Format, value)}; }
BFloat16 bfloat16_from_double(double value) { return {half_from_double(kBFloat16Format, value)}; }
Float16 float16_from_int(int64_t value) { return {half_from_int(kFloat16Format, value)}; }
BFloat16 bfloat16_from_int(int64_t value) { return {half_from_int(kBFloat16Format, value)}; }
Float16 float16_from_uint(uint64_t value) { return {round_to_half(kFloat16Format, false, value, 0)}; }
BFloat16 bfloat16_from_uint(uint64_t value) {
  return {round_to_half(kBFloat16Format, false, value, 0)};
}

}  // namespace ocs
