// Cast (target type from the `to` attribute) and CastLike (target type of input 1), between
// the numeric types, bool, float16 and bfloat16. Strings are outside ocs's scope.
//
// Conversions follow numpy's astype, which ONNX's reference uses:
//  - to bool: nonzero (and NaN) is true;  from bool: 1 or 0;
//  - float to integer truncates toward zero; a value outside the target's range wraps modulo
//    2^bits as the x86 conversion through int64 does (e.g. -1.0 -> uint8 255). C++ leaves an
//    out-of-range float-to-int conversion undefined, so it is spelled out here; NaN gives 0.
//  - integer to narrower integer wraps modulo 2^bits.
//  - to float16 / bfloat16: rounded once, to nearest with ties to even, from the exact source
//    value (core/half.h); NaN and infinities kept, overflow to infinity, subnormals exact.
//    From float16 / bfloat16: widened to float exactly, then the float rules above.
//    (ONNX 1.12's test data for float -> bfloat16 truncates instead; later ONNX releases
//    specify round to nearest even, as do PyTorch and ONNX Runtime.)
#include "core/half.h"
#include "kernels/reference/elementwise_internal.h"

#include <cmath>
#include <limits>

namespace ocs::elementwise {
namespace {

template <typename T>
inline constexpr bool is_half_v = std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>;

float widen(Float16 value) { return float16_to_float(value); }
float widen(BFloat16 value) { return bfloat16_to_float(value); }

// The 16-bit float nearest to `value`.
template <typename Half, typename In>
Half narrow(In value) {
  constexpr bool to_float16 = std::is_same_v<Half, Float16>;
  if constexpr (std::is_same_v<In, bool>) {
    return to_float16 ? Half{float16_from_int(value ? 1 : 0).bits}
                      : Half{bfloat16_from_int(value ? 1 : 0).bits};
  } else if constexpr (is_half_v<In>) {
    return narrow<Half>(widen(value));
  } else if constexpr (is_float_v<In>) {
    return to_float16 ? Half{float16_from_double(value).bits}
                      : Half{bfloat16_from_double(value).bits};
  } else if constexpr (std::is_signed_v<In>) {
    return to_float16 ? Half{float16_from_int(value).bits} : Half{bfloat16_from_int(value).bits};
  } else {
    return to_float16 ? Half{float16_from_uint(value).bits} : Half{bfloat16_from_uint(value).bits};
  }
}

template <typename Out, typename In>
Out convert(In value) {
  if constexpr (std::is_same_v<In, Out>) {
    return value;
  } else if constexpr (is_half_v<Out>) {
    return narrow<Out>(value);
  } else if constexpr (is_half_v<In>) {
    return convert<Out>(widen(value));
  } else if constexpr (is_float_v<In> && is_integer_v<Out>) {
    if (std::isnan(value)) return Out(0);
    // Truncate, then take the low bits: through int64 when it fits (every target but uint64
    // above 2^63), which is where numpy's result comes from as well.
    const In truncated = std::trunc(value);
    constexpr In int64_low = -9223372036854775808.0;  // -2^63, exact in float and double
    constexpr In int64_end = 9223372036854775808.0;   // 2^63
    if (truncated >= int64_low && truncated < int64_end)
      return static_cast<Out>(static_cast<int64_t>(truncated));
    if (truncated >= int64_end && truncated < In(2) * int64_end)  // only uint64 keeps these
      return static_cast<Out>(static_cast<uint64_t>(truncated));
    return static_cast<Out>(std::numeric_limits<int64_t>::min());  // x86's "integer indefinite"
  } else {
    return static_cast<Out>(value);
  }
}

// dispatch_dtype plus the two 16-bit floats, which only Cast computes with.
template <typename Fn>
void dispatch_cast_type(DType type, Fn&& fn) {
  if (type == DType::Float16) fn(Float16{});
  else if (type == DType::BFloat16) fn(BFloat16{});
  else dispatch_dtype(type, fn);
}

void cast_to(KernelContext& ctx, const Tensor& input, DType to) {
  if (!dtype_supported(to))
    user_error("{}: casting to {} (ONNX type {}) is not supported", ctx.node.describe(),
               dtype_name(to), static_cast<int>(to));
  if (!dtype_supported(input.dtype()))
    user_error("{}: casting from {} is not supported", ctx.node.describe(),
               dtype_name(input.dtype()));
  ctx.outputs.at(0) = Tensor(to, input.shape());
  Tensor& out = ctx.outputs[0];
  dispatch_cast_type(input.dtype(), [&](auto in_tag) {
    using In = decltype(in_tag);
    dispatch_cast_type(to, [&](auto out_tag) {
      using Out = decltype(out_tag);
      apply_unary<In, Out>(input, out, [](In v) { return convert<Out>(v); });
    });
  });
}

void cast_kernel(KernelContext& ctx) {
  const int64_t to = ctx.node.attr("to").i;
  cast_to(ctx, required_input(ctx, 0), static_cast<DType>(to));
}

void cast_like_kernel(KernelContext& ctx) {
  cast_to(ctx, required_input(ctx, 0), required_input(ctx, 1).dtype());
}

}  // namespace

void register_cast(KernelRegistry& registry) {
  registry.add_reference("Cast", cast_kernel);
  registry.add_reference("CastLike", cast_like_kernel);
}

}  // namespace ocs::elementwise
