// Activations: Relu and its relatives, the sigmoid family, Shrink, Clip and PRelu.
// Every output has the input's shape and element type. Attribute defaults follow ONNX 1.12.
#include "kernels/reference/broadcast.h"
#include "kernels/reference/elementwise_internal.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ocs::elementwise {
namespace {

Tensor& make_like(KernelContext& ctx, const Tensor& x) {
  ctx.outputs.at(0) = Tensor(x.dtype(), x.shape());
  return ctx.outputs[0];
}

// A float-only activation y = fn(x), fn called with T = float or double.
template <typename Fn>
void float_activation(KernelContext& ctx, Fn fn) {
  const Tensor& x = required_input(ctx, 0);
  dispatch_float(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    apply_unary<T, T>(x, make_like(ctx, x), [&](T v) { return static_cast<T>(fn(v)); });
  });
}

// 1 / (1 + e^-x), written so that exp never overflows: for x < 0 use e^x / (1 + e^x).
template <typename T>
T sigmoid(T x) {
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

// log(1 + e^x) without overflow: for x > 0 it equals x + log(1 + e^-x).
template <typename T>
T softplus(T x) {
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

void relu_kernel(KernelContext& ctx) {
  const Tensor& x = required_input(ctx, 0);
  dispatch_numeric(ctx, x.dtype(), [&](auto tag) {  // signed integers since opset 14
    using T = decltype(tag);
    apply_unary<T, T>(x, make_like(ctx, x), [](T v) { return v > T(0) ? v : T(0); });
  });
}

void leaky_relu_kernel(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 0.01f);
  float_activation(ctx, [=](auto v) { return v >= 0 ? v : v * alpha; });
}

void elu_kernel(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 1.0f);
  // expm1 keeps precision for small negative x where e^x - 1 cancels.
  float_activation(ctx, [=](auto v) { return v >= 0 ? v : alpha * std::expm1(v); });
}

void selu_kernel(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 1.67326319217681884765625f);
  const float gamma = ctx.node.attr_float("gamma", 1.05070102214813232421875f);
  float_activation(ctx, [=](auto v) {
    return v > 0 ? gamma * v : gamma * (alpha * std::exp(v) - alpha);
  });
}

void celu_kernel(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 1.0f);
  if (alpha == 0.0f) user_error("{}: Celu's alpha must not be 0", ctx.node.describe());
  // max(0, x) + min(0, alpha * (e^(x / alpha) - 1))
  float_activation(ctx, [=](auto v) {
    using T = decltype(v);
    return std::max(T(0), v) + std::min(T(0), T(alpha * std::expm1(v / alpha)));
  });
}

void thresholded_relu_kernel(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 1.0f);
  float_activation(ctx, [=](auto v) { return v > alpha ? v : decltype(v)(0); });
}

void sigmoid_kernel(KernelContext& ctx) { float_activation(ctx, [](auto v) { return sigmoid(v); }); }

void hard_sigmoid_kernel(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 0.2f);
  const float beta = ctx.node.attr_float("beta", 0.5f);
  float_activation(ctx, [=](auto v) {
    using T = decltype(v);
    return std::clamp(T(alpha * v + beta), T(0), T(1));
  });
}

void hard_swish_kernel(KernelContext& ctx) {
  // x * HardSigmoid(x) with alpha = 1/6, beta = 0.5.
  float_activation(ctx, [](auto v) {
    using T = decltype(v);
    return v * std::clamp(T(v / T(6) + T(0.5)), T(0), T(1));
  });
}

void tanh_kernel(KernelContext& ctx) { float_activation(ctx, [](auto v) { return std::tanh(v); }); }
void softplus_kernel(KernelContext& ctx) { float_activation(ctx, [](auto v) { return softplus(v); }); }
void softsign_kernel(KernelContext& ctx) {
  float_activation(ctx, [](auto v) { return v / (decltype(v)(1) + std::abs(v)); });
}
void mish_kernel(KernelContext& ctx) {
  float_activation(ctx, [](auto v) { return v * std::tanh(softplus(v)); });
}

void shrink_kernel(KernelContext& ctx) {
  const double bias = ctx.node.attr_float("bias", 0.0f);
  const double lambd = ctx.node.attr_float("lambd", 0.5f);
  const Tensor& x = required_input(ctx, 0);
  dispatch_numeric(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    apply_unary<T, T>(x, make_like(ctx, x), [&](T v) {
      const double value = static_cast<double>(v);
      if (value < -lambd) return static_cast<T>(value + bias);
      if (value > lambd) return static_cast<T>(value - bias);
      return T(0);
    });
  });
}

// Clip: y = min(max(x, low), high). Bounds are attributes before opset 11 (float only) and
// optional scalar inputs from 11 on (integers allowed from 12). When low > high every element
// becomes high, as ONNX specifies. NaN passes through.
void clip_kernel(KernelContext& ctx) {
  const Tensor& x = required_input(ctx, 0);
  if (ctx.opset < 11) {
    const float low = ctx.node.attr_float("min", std::numeric_limits<float>::lowest());
    const float high = ctx.node.attr_float("max", std::numeric_limits<float>::max());
    float_activation(ctx, [=](auto v) {
      using T = decltype(v);
      return std::min(std::max(v, T(low)), T(high));
    });
    return;
  }
  dispatch_numeric(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    auto bound = [&](size_t i, T fallback) {
      if (!ctx.has_input(i)) return fallback;
      const Tensor& b = ctx.input(i);
      if (b.dtype() != x.dtype() || b.numel() != 1)
        user_error("{}: bound input {} must be a single {} value, got {} of shape {}",
                   ctx.node.describe(), i, dtype_name(x.dtype()), dtype_name(b.dtype()),
                   shape_str(b.shape()));
      return b.data<T>()[0];
    };
    const T low = bound(1, std::numeric_limits<T>::lowest());
    const T high = bound(2, std::numeric_limits<T>::max());
    apply_unary<T, T>(x, make_like(ctx, x), [=](T v) { return std::min(std::max(v, low), high); });
  });
}

// PRelu: y = x < 0 ? slope * x : x, with slope broadcast to x's shape (one direction only).
void prelu_kernel(KernelContext& ctx) {
  const Tensor& x = required_input(ctx, 0);
  const Tensor& slope = required_input(ctx, 1);
  require_same_dtype(ctx, 0, 1);
  std::optional<Shape> joined = broadcast_shapes(x.shape(), slope.shape());
  if (!joined || *joined != x.shape())
    user_error("{}: slope of shape {} does not broadcast to input shape {}", ctx.node.describe(),
               shape_str(slope.shape()), shape_str(x.shape()));
  dispatch_numeric(ctx, x.dtype(), [&](auto tag) {  // integers since opset 16
    using T = decltype(tag);
    apply_binary<T, T, T>(x, slope, make_like(ctx, x),
                          [](T v, T s) { return v < T(0) ? static_cast<T>(s * v) : v; });
  });
}

}  // namespace

void register_activations(KernelRegistry& registry) {
  registry.add_reference("Relu", relu_kernel);
  registry.add_reference("LeakyRelu", leaky_relu_kernel);
  registry.add_reference("Elu", elu_kernel);
  registry.add_reference("Selu", selu_kernel);
  registry.add_reference("Celu", celu_kernel);
  registry.add_reference("ThresholdedRelu", thresholded_relu_kernel);
  registry.add_reference("Sigmoid", sigmoid_kernel);
  registry.add_reference("HardSigmoid", hard_sigmoid_kernel);
  registry.add_reference("HardSwish", hard_swish_kernel);
  registry.add_reference("Tanh", tanh_kernel);
  registry.add_reference("Softplus", softplus_kernel);
  registry.add_reference("Softsign", softsign_kernel);
  registry.add_reference("Mish", mish_kernel);
  registry.add_reference("Shrink", shrink_kernel);
  registry.add_reference("Clip", clip_kernel);
  registry.add_reference("PRelu", prelu_kernel);
}

}  // namespace ocs::elementwise
