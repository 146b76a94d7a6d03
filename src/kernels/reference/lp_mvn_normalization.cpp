// LpNormalization and MeanVarianceNormalization reference kernels.
//
// LpNormalization (axis default -1, p in {1, 2}, default 2): y = x / ||x||_p along the axis. A
// slice with zero norm gives zeros, as ONNX Runtime does (the spec leaves 0/0 open).
//
// MeanVarianceNormalization (opset >= 9; axes default [0, 2, 3]): ONNX defines it as the function
//   y = (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9)
// with the means over `axes`. We compute the variance as E[(x - E[x])^2], which is the same
// quantity without the cancellation of the two-moment form (never negative), in double.
#include "kernels/reference/broadcast.h"
#include "kernels/reference/reduction_internal.h"

#include <cmath>
#include <set>

namespace ocs {
namespace {

void require_floating(const KernelContext& ctx) {
  const DType dtype = ctx.input(0).dtype();
  if (dtype != DType::Float32 && dtype != DType::Float64)
    user_error("{}: input is {}, expected float32 or float64", ctx.node.describe(), dtype_name(dtype));
}

template <typename T>
void lp_normalize_typed(const Tensor& input, const AxisSplit& split, int64_t p, Tensor& output) {
  const T* in = input.data<T>();
  T* out = output.data<T>();
  for (int64_t o = 0; o < split.outer; ++o) {
    for (int64_t i = 0; i < split.inner; ++i) {
      double norm = 0.0;
      for (int64_t a = 0; a < split.axis_dim; ++a) {
        const double x = static_cast<double>(in[split.index(o, a, i)]);
        norm += p == 1 ? std::fabs(x) : x * x;
      }
      if (p == 2) norm = std::sqrt(norm);
      for (int64_t a = 0; a < split.axis_dim; ++a) {
        const int64_t index = split.index(o, a, i);
        out[index] = norm == 0.0 ? T(0) : static_cast<T>(static_cast<double>(in[index]) / norm);
      }
    }
  }
}

void lp_normalization(KernelContext& ctx) {
  require_floating(ctx);
  const Tensor& input = ctx.input(0);
  const int64_t axis = reduction_normalize_axis(ctx.node.attr_int("axis", -1), input.rank(), ctx.node);
  const int64_t p = ctx.node.attr_int("p", 2);
  if (p != 1 && p != 2) user_error("{}: p = {} is not supported; ONNX allows 1 or 2", ctx.node.describe(), p);
  const AxisSplit split = reduction_split_at_axis(input.shape(), axis);
  Tensor output(input.dtype(), input.shape());
  if (input.dtype() == DType::Float32) lp_normalize_typed<float>(input, split, p, output);
  else lp_normalize_typed<double>(input, split, p, output);
  ctx.outputs[0] = std::move(output);
}

template <typename T>
void mean_variance_normalize_typed(const Tensor& input, const Shape& kept_shape, int64_t count, Tensor& output) {
  const T* in = input.data<T>();
  T* out = output.data<T>();
  const int64_t groups = shape_numel(kept_shape);
  std::vector<double> mean(static_cast<size_t>(groups), 0.0);
  std::vector<double> variance(static_cast<size_t>(groups), 0.0);
  // Each input element belongs to the group at its index in the kept (reduced, keepdims) shape.
  broadcast_for_each(kept_shape, input.shape(), [&](int64_t x_index, int64_t group) {
    mean[group] += static_cast<double>(in[x_index]);
  });
  for (double& m : mean) m /= static_cast<double>(count);
  broadcast_for_each(kept_shape, input.shape(), [&](int64_t x_index, int64_t group) {
    const double centered = static_cast<double>(in[x_index]) - mean[group];
    variance[group] += centered * centered;
  });
  for (double& v : variance) v /= static_cast<double>(count);
  constexpr double kEpsilon = 1e-9;  // the constant in ONNX's function body
  broadcast_for_each(kept_shape, input.shape(), [&](int64_t x_index, int64_t group) {
    const double centered = static_cast<double>(in[x_index]) - mean[group];
    out[x_index] = static_cast<T>(centered / (std::sqrt(variance[group]) + kEpsilon));
  });
}

void mean_variance_normalization(KernelContext& ctx) {
  require_floating(ctx);
  const Tensor& input = ctx.input(0);
  const int64_t rank = input.rank();
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  std::set<int64_t> seen;
  for (int64_t axis : ctx.node.attr_ints("axes", {0, 2, 3})) {
    if (axis < -rank || axis >= rank)
      user_error("{}: axis {} is out of range for an input of rank {}", ctx.node.describe(), axis, rank);
    const int64_t normalized = axis < 0 ? axis + rank : axis;
    if (!seen.insert(normalized).second)
      user_error("{}: axis {} is listed twice in axes", ctx.node.describe(), axis);
    reduced[static_cast<size_t>(normalized)] = true;
  }
  int64_t count = 1;
  for (int64_t d = 0; d < rank; ++d)
    if (reduced[static_cast<size_t>(d)]) count *= input.dim(d);
  const Shape kept_shape = reduction_output_shape(input.shape(), reduced, true);

  Tensor output(input.dtype(), input.shape());
  if (input.numel() > 0) {
    if (input.dtype() == DType::Float32) mean_variance_normalize_typed<float>(input, kept_shape, count, output);
    else mean_variance_normalize_typed<double>(input, kept_shape, count, output);
  }
  ctx.outputs[0] = std::move(output);
}

}  // namespace

void register_normalization_kernels(KernelRegistry& registry) {
  registry.add_reference("LpNormalization", lp_normalization);
  registry.add_reference("MeanVarianceNormalization", mean_variance_normalization);
}

}  // namespace ocs
