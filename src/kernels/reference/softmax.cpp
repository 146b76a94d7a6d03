// Softmax, LogSoftmax and Hardmax reference kernels.
//
// The opsets disagree on what "axis" means:
//  - opset < 13: the input is coerced to 2-D [prod(shape[:axis]), prod(shape[axis:])] and each
//    row is normalised as a whole; axis defaults to 1.
//  - opset >= 13: the op works along the single axis `axis`; axis defaults to -1.
// Either way the op is a function of 1-D slices, so both become an AxisSplit [outer, n, inner]:
// the old form is the split with n = prod(shape[axis:]) and inner = 1.
//
// Softmax and LogSoftmax subtract the slice maximum before exp (exp(x - max) <= 1 cannot
// overflow) and accumulate in double.
#include "kernels/reference/reduction_internal.h"

#include <cmath>

namespace ocs {
namespace {

AxisSplit softmax_split(const KernelContext& ctx) {
  const Shape& shape = ctx.input(0).shape();
  const int64_t rank = ctx.input(0).rank();
  if (ctx.opset < 13) {
    const int64_t axis = reduction_normalize_axis(ctx.node.attr_int("axis", 1), rank, ctx.node);
    AxisSplit split;
    for (int64_t d = 0; d < rank; ++d) {
      if (d < axis) split.outer *= shape[d];
      else split.axis_dim *= shape[d];
    }
    return split;
  }
  const int64_t axis = reduction_normalize_axis(ctx.node.attr_int("axis", -1), rank, ctx.node);
  return reduction_split_at_axis(shape, axis);
}

enum class SoftmaxKind { Softmax, LogSoftmax, Hardmax };

template <typename T>
void softmax_typed(const Tensor& input, const AxisSplit& split, SoftmaxKind kind, Tensor& output) {
  const T* in = input.data<T>();
  T* out = output.data<T>();
  for (int64_t o = 0; o < split.outer; ++o) {
    for (int64_t i = 0; i < split.inner; ++i) {
      auto at = [&](int64_t a) { return split.index(o, a, i); };
      // The first maximum of the slice (Hardmax marks exactly this one).
      int64_t max_pos = 0;
      for (int64_t a = 1; a < split.axis_dim; ++a)
        if (in[at(a)] > in[at(max_pos)]) max_pos = a;
      const double max_value = split.axis_dim > 0 ? static_cast<double>(in[at(max_pos)]) : 0.0;

      if (kind == SoftmaxKind::Hardmax) {
        for (int64_t a = 0; a < split.axis_dim; ++a) out[at(a)] = static_cast<T>(a == max_pos ? 1 : 0);
        continue;
      }
      double sum_exp = 0.0;
      for (int64_t a = 0; a < split.axis_dim; ++a) sum_exp += std::exp(static_cast<double>(in[at(a)]) - max_value);
      const double log_sum_exp = std::log(sum_exp);
      for (int64_t a = 0; a < split.axis_dim; ++a) {
        const double shifted = static_cast<double>(in[at(a)]) - max_value;
        out[at(a)] = static_cast<T>(kind == SoftmaxKind::Softmax ? std::exp(shifted) / sum_exp
                                                                 : shifted - log_sum_exp);
      }
    }
  }
}

void run_softmax(KernelContext& ctx, SoftmaxKind kind) {
  const Tensor& input = ctx.input(0);
  if (input.dtype() != DType::Float32 && input.dtype() != DType::Float64)
    user_error("{}: input is {}, expected float32 or float64", ctx.node.describe(), dtype_name(input.dtype()));
  const AxisSplit split = softmax_split(ctx);
  Tensor output(input.dtype(), input.shape());
  if (input.dtype() == DType::Float32) softmax_typed<float>(input, split, kind, output);
  else softmax_typed<double>(input, split, kind, output);
  ctx.outputs[0] = std::move(output);
}

void softmax(KernelContext& ctx) { run_softmax(ctx, SoftmaxKind::Softmax); }
void log_softmax(KernelContext& ctx) { run_softmax(ctx, SoftmaxKind::LogSoftmax); }
void hardmax(KernelContext& ctx) { run_softmax(ctx, SoftmaxKind::Hardmax); }

}  // namespace

void register_softmax_kernels(KernelRegistry& registry) {
  registry.add_reference("Softmax", softmax);
  registry.add_reference("LogSoftmax", log_softmax);
  registry.add_reference("Hardmax", hardmax);
}

}  // namespace ocs
