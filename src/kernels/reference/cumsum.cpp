// CumSum reference kernel (opset 11, 14): running sums along the axis given by the second input
// (a 0-D or 1-element int32/int64 tensor).
//   exclusive = 1: y[j] sums x[0..j-1] (y[0] = 0) instead of x[0..j].
//   reverse = 1:   sums run from the end: y[j] sums x[j..n-1].
// Sums accumulate in double (floating types) or 64-bit integers (integer types, which then wrap
// when cast back, as the element type's own arithmetic would).
#include "kernels/reference/reduction_internal.h"

namespace ocs {
namespace {

template <typename T>
void cumsum_typed(const Tensor& input, const AxisSplit& split, bool exclusive, bool reverse, Tensor& output) {
  using Acc = ReduceAccumulator<T>;
  const T* in = input.data<T>();
  T* out = output.data<T>();
  for (int64_t o = 0; o < split.outer; ++o) {
    for (int64_t i = 0; i < split.inner; ++i) {
      Acc running = 0;
      for (int64_t step = 0; step < split.axis_dim; ++step) {
        const int64_t a = reverse ? split.axis_dim - 1 - step : step;
        const int64_t index = split.index(o, a, i);
        if (exclusive) {
          out[index] = static_cast<T>(running);
          running += static_cast<Acc>(in[index]);
        } else {
          running += static_cast<Acc>(in[index]);
          out[index] = static_cast<T>(running);
        }
      }
    }
  }
}

void cumsum(KernelContext& ctx) {
  const Tensor& input = ctx.input(0);
  if (!ctx.has_input(1) || ctx.input(1).numel() != 1 ||
      (ctx.input(1).dtype() != DType::Int32 && ctx.input(1).dtype() != DType::Int64))
    user_error("{}: input 'axis' must be a 0-D int32 or int64 tensor", ctx.node.describe());
  if (input.dtype() == DType::Bool)
    user_error("{}: bool input is not summable; cast to a number first", ctx.node.describe());
  const int64_t axis = reduction_normalize_axis(ctx.input(1).to_int64_vector()[0], input.rank(), ctx.node);
  const bool exclusive = ctx.node.attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.node.attr_int("reverse", 0) != 0;
  const AxisSplit split = reduction_split_at_axis(input.shape(), axis);

  Tensor output(input.dtype(), input.shape());
  dispatch_dtype(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) OCS_CHECK(false, "bool rejected above");
    else cumsum_typed<T>(input, split, exclusive, reverse, output);
  });
  ctx.outputs[0] = std::move(output);
}

}  // namespace

void register_cumsum_kernels(KernelRegistry& registry) { registry.add_reference("CumSum", cumsum); }

}  // namespace ocs
