// Cast (target type from the `to` attribute) and CastLike (target type of input 1), between
// the numeric types and bool. float16, bfloat16 and string are outside ocs's scope.
//
// Conversions follow numpy's astype, which ONNX's reference uses:
//  - to bool: nonzero (and NaN) is true;  from bool: 1 or 0;
//  - float to integer truncates toward zero; a value outside the target's range wraps modulo
//    2^bits as the x86 conversion through int64 does (e.g. -1.0 -> uint8 255). C++ leaves an
//    out-of-range float-to-int conversion undefined, so it is spelled out here; NaN gives 0.
//  - integer to narrower integer wraps modulo 2^bits.
#include "kernels/reference/elementwise_internal.h"

#include <cmath>
#include <limits>

namespace ocs::elementwise {
namespace {

template <typename Out, typename In>
Out convert(In value) {
  if constexpr (is_float_v<In> && is_integer_v<Out>) {
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

void cast_to(KernelContext& ctx, const Tensor& input, DType to) {
  if (!dtype_supported(to) || to == DType::Float16 || to == DType::String)
    user_error("{}: casting to {} is not supported", ctx.node.describe(), dtype_name(to));
  if (input.dtype() == DType::Float16)
    user_error("{}: casting from float16 is not supported", ctx.node.describe());
  ctx.outputs.at(0) = Tensor(to, input.shape());
  Tensor& out = ctx.outputs[0];
  dispatch_dtype(input.dtype(), [&](auto in_tag) {
    using In = decltype(in_tag);
    dispatch_dtype(to, [&](auto out_tag) {
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
