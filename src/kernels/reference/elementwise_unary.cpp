// Unary math: Abs, Neg, Sign, the float functions (Exp .. Erf, trigonometry), Not, IsNaN, IsInf.
// The output has the input's shape; its element type is the input's, or bool for the tests.
#include "kernels/reference/elementwise_internal.h"

#include <cmath>

namespace ocs::elementwise {
namespace {

// Allocates output 0 with x's shape and `type`.
Tensor& make_output(KernelContext& ctx, const Tensor& x, DType type) {
  ctx.outputs.at(0) = Tensor(type, x.shape());
  return ctx.outputs[0];
}

// A float-only op y = fn(x), fn called with T = float or double.
template <typename Fn>
void float_unary(KernelContext& ctx, Fn fn) {
  const Tensor& x = required_input(ctx, 0);
  dispatch_float(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    apply_unary<T, T>(x, make_output(ctx, x, x.dtype()), [&](T v) { return static_cast<T>(fn(v)); });
  });
}

void abs_kernel(KernelContext& ctx) {
  const Tensor& x = required_input(ctx, 0);
  dispatch_numeric(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    apply_unary<T, T>(x, make_output(ctx, x, x.dtype()), [](T v) {
      if constexpr (std::is_unsigned_v<T>) return v;
      else return static_cast<T>(v < 0 ? -v : v);  // the most negative integer stays itself
    });
  });
}

void neg_kernel(KernelContext& ctx) {
  const Tensor& x = required_input(ctx, 0);
  dispatch_numeric(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_unsigned_v<T>) unsupported_dtype(ctx, x.dtype());
    else apply_unary<T, T>(x, make_output(ctx, x, x.dtype()), [](T v) { return static_cast<T>(-v); });
  });
}

void sign_kernel(KernelContext& ctx) {
  const Tensor& x = required_input(ctx, 0);
  dispatch_numeric(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // Sign of NaN is NaN, as in numpy (ONNX's reference).
    apply_unary<T, T>(x, make_output(ctx, x, x.dtype()), [](T v) {
      if constexpr (is_float_v<T>)
        if (std::isnan(v)) return v;
      return static_cast<T>((T(0) < v) - (v < T(0)));
    });
  });
}

void exp_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::exp(v); }); }
void log_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::log(v); }); }
void sqrt_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::sqrt(v); }); }
void reciprocal_kernel(KernelContext& ctx) {
  float_unary(ctx, [](auto v) { return decltype(v)(1) / v; });
}
void floor_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::floor(v); }); }
void ceil_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::ceil(v); }); }
// ONNX Round rounds halves to the even neighbour (0.5 -> 0, 1.5 -> 2, -2.5 -> -2). nearbyint
// does exactly that in the default rounding mode (FE_TONEAREST), which ocs never changes.
void round_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::nearbyint(v); }); }
void sin_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::sin(v); }); }
void cos_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::cos(v); }); }
void tan_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::tan(v); }); }
void asin_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::asin(v); }); }
void acos_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::acos(v); }); }
void atan_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::atan(v); }); }
void sinh_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::sinh(v); }); }
void cosh_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::cosh(v); }); }
void asinh_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::asinh(v); }); }
void acosh_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::acosh(v); }); }
void atanh_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::atanh(v); }); }
void erf_kernel(KernelContext& ctx) { float_unary(ctx, [](auto v) { return std::erf(v); }); }

void not_kernel(KernelContext& ctx) {
  const Tensor& x = required_input(ctx, 0);
  if (x.dtype() != DType::Bool) unsupported_dtype(ctx, x.dtype());
  apply_unary<bool, bool>(x, make_output(ctx, x, DType::Bool), [](bool v) { return !v; });
}

void isnan_kernel(KernelContext& ctx) {
  const Tensor& x = required_input(ctx, 0);
  dispatch_float(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    apply_unary<T, bool>(x, make_output(ctx, x, DType::Bool), [](T v) { return std::isnan(v); });
  });
}

void isinf_kernel(KernelContext& ctx) {
  const Tensor& x = required_input(ctx, 0);
  const bool detect_positive = ctx.node.attr_int("detect_positive", 1) != 0;
  const bool detect_negative = ctx.node.attr_int("detect_negative", 1) != 0;
  dispatch_float(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    apply_unary<T, bool>(x, make_output(ctx, x, DType::Bool), [&](T v) {
      return std::isinf(v) && (v > 0 ? detect_positive : detect_negative);
    });
  });
}

}  // namespace

void register_unary(KernelRegistry& registry) {
  registry.add_reference("Abs", abs_kernel);
  registry.add_reference("Neg", neg_kernel);
  registry.add_reference("Sign", sign_kernel);
  registry.add_reference("Exp", exp_kernel);
  registry.add_reference("Log", log_kernel);
  registry.add_reference("Sqrt", sqrt_kernel);
  registry.add_reference("Reciprocal", reciprocal_kernel);
  registry.add_reference("Floor", floor_kernel);
  registry.add_reference("Ceil", ceil_kernel);
  registry.add_reference("Round", round_kernel);
  registry.add_reference("Sin", sin_kernel);
  registry.add_reference("Cos", cos_kernel);
  registry.add_reference("Tan", tan_kernel);
  registry.add_reference("Asin", asin_kernel);
  registry.add_reference("Acos", acos_kernel);
  registry.add_reference("Atan", atan_kernel);
  registry.add_reference("Sinh", sinh_kernel);
  registry.add_reference("Cosh", cosh_kernel);
  registry.add_reference("Asinh", asinh_kernel);
  registry.add_reference("Acosh", acosh_kernel);
  registry.add_reference("Atanh", atanh_kernel);
  registry.add_reference("Erf", erf_kernel);
  registry.add_reference("Not", not_kernel);
  registry.add_reference("IsNaN", isnan_kernel);
  registry.add_reference("IsInf", isinf_kernel);
}

}  // namespace ocs::elementwise
