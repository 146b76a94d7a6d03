// Variadic ops over any number of broadcasting inputs (Sum, Mean, Max, Min) and Where.
#include "kernels/reference/elementwise_internal.h"

#include <cmath>

namespace ocs::elementwise {
namespace {

// Folds every input into output 0 with `combine(accumulated, next)`, all broadcast to the joint
// shape; `finish(accumulated)` then maps each element (Mean divides by the count).
template <typename Combine, typename Finish>
void fold_inputs(KernelContext& ctx, Combine combine, Finish finish) {
  if (ctx.num_inputs() == 0) user_error("{} needs at least one input", ctx.node.describe());
  std::vector<Shape> shapes;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    require_same_dtype(ctx, 0, i);
    shapes.push_back(ctx.input(i).shape());
  }
  const DType type = ctx.input(0).dtype();
  ctx.outputs.at(0) = Tensor(type, broadcast_output_shape(ctx, shapes));
  Tensor& out = ctx.outputs[0];
  dispatch_numeric(ctx, type, [&](auto tag) {
    using T = decltype(tag);
    broadcast_copy<T>(ctx.input(0), out);
    // The accumulator has the output's shape, so reading and writing it in place is safe.
    for (size_t i = 1; i < ctx.num_inputs(); ++i)
      apply_binary<T, T, T>(out, ctx.input(i), out,
                            [&](T acc, T next) { return static_cast<T>(combine(acc, next)); });
    apply_unary<T, T>(out, out, [&](T acc) { return static_cast<T>(finish(acc)); });
  });
}

constexpr auto keep = [](auto acc) { return acc; };

template <typename T>
bool is_nan(T v) {
  if constexpr (is_float_v<T>) return std::isnan(v);
  else return false;
}

void sum_kernel(KernelContext& ctx) { fold_inputs(ctx, [](auto a, auto b) { return a + b; }, keep); }

void mean_kernel(KernelContext& ctx) {
  const double count = static_cast<double>(ctx.num_inputs());
  fold_inputs(ctx, [](auto a, auto b) { return a + b; },
              [=](auto acc) { return static_cast<decltype(acc)>(acc / count); });
}

// Max and Min propagate NaN, as numpy's maximum/minimum (ONNX's reference) do.
void max_kernel(KernelContext& ctx) {
  fold_inputs(ctx, [](auto a, auto b) { return is_nan(a) || a >= b ? a : b; }, keep);
}
void min_kernel(KernelContext& ctx) {
  fold_inputs(ctx, [](auto a, auto b) { return is_nan(a) || a <= b ? a : b; }, keep);
}

// Where(condition, x, y): x where condition holds, else y; all three broadcast.
void where_kernel(KernelContext& ctx) {
  const Tensor& condition = required_input(ctx, 0);
  const Tensor& x = required_input(ctx, 1);
  const Tensor& y = required_input(ctx, 2);
  if (condition.dtype() != DType::Bool) unsupported_dtype(ctx, condition.dtype());
  require_same_dtype(ctx, 1, 2);
  ctx.outputs.at(0) =
      Tensor(x.dtype(), broadcast_output_shape(ctx, {condition.shape(), x.shape(), y.shape()}));
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    apply_ternary<bool, T, T, T>(condition, x, y, ctx.outputs[0],
                                 [](bool c, T a, T b) { return c ? a : b; });
  });
}

}  // namespace

void register_variadic(KernelRegistry& registry) {
  registry.add_reference("Sum", sum_kernel);
  registry.add_reference("Mean", mean_kernel);
  registry.add_reference("Max", max_kernel);
  registry.add_reference("Min", min_kernel);
  registry.add_reference("Where", where_kernel);
}

}  // namespace ocs::elementwise
