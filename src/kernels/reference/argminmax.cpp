// ArgMax, ArgMin and TopK reference kernels: positions of extreme values along one axis.
//
// ArgMax/ArgMin: axis (default 0), keepdims (default 1), select_last_index (opset >= 12,
// default 0: the first extreme wins ties). Output int64.
// TopK: k is an attribute before opset 10 and the 1-element input K from opset 10; largest and
// sorted (opset >= 11) default to 1. Equal values come out in ascending index order, for both
// largest and smallest. We always return the k values sorted, which sorted = 0 permits.
//
// NaN counts as larger than every number (NumPy's argmax/argmin return the first NaN; TopK
// with largest = 1 puts NaNs first).
#include "kernels/reference/reduction_internal.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ocs {
namespace {

// a comes strictly before b in descending order with NaN on top (NaNs are equal to each other).
template <typename T>
bool greater_nan_first(T a, T b) {
  if (is_nan_value(a)) return !is_nan_value(b);
  if (is_nan_value(b)) return false;
  return a > b;
}

template <typename T>
void arg_extreme_typed(const Tensor& input, const AxisSplit& split, bool find_max, bool select_last,
                       int64_t* out) {
  const T* in = input.data<T>();
  for (int64_t o = 0; o < split.outer; ++o) {
    for (int64_t i = 0; i < split.inner; ++i) {
      int64_t best = 0;
      for (int64_t a = 1; a < split.axis_dim; ++a) {
        const T x = in[split.index(o, a, i)];
        const T best_value = in[split.index(o, best, i)];
        // NaN is the extreme for both ArgMax and ArgMin (NumPy returns the first NaN).
        bool strictly_better;
        if (is_nan_value(x) || is_nan_value(best_value))
          strictly_better = greater_nan_first(x, best_value);
        else
          strictly_better = find_max ? x > best_value : x < best_value;
        const bool tie = !greater_nan_first(x, best_value) && !greater_nan_first(best_value, x);
        if (strictly_better || (select_last && tie)) best = a;
      }
      out[o * split.inner + i] = best;
    }
  }
}

void run_arg_extreme(KernelContext& ctx, bool find_max) {
  const Tensor& input = ctx.input(0);
  const int64_t rank = input.rank();
  const int64_t axis = reduction_normalize_axis(ctx.node.attr_int("axis", 0), rank, ctx.node);
  const bool keep_dims = ctx.node.attr_int("keepdims", 1) != 0;
  const bool select_last = ctx.node.attr_int("select_last_index", 0) != 0;
  const AxisSplit split = reduction_split_at_axis(input.shape(), axis);
  if (split.axis_dim == 0 && split.outer * split.inner > 0)
    user_error("{}: cannot take the arg{} of an empty axis {}", ctx.node.describe(),
               find_max ? "max" : "min", axis);

  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  if (rank > 0) reduced[static_cast<size_t>(axis)] = true;
  Tensor output(DType::Int64, reduction_output_shape(input.shape(), reduced, keep_dims));
  dispatch_dtype(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    arg_extreme_typed<T>(input, split, find_max, select_last, output.data<int64_t>());
  });
  ctx.outputs[0] = std::move(output);
}

void arg_max(KernelContext& ctx) { run_arg_extreme(ctx, true); }
void arg_min(KernelContext& ctx) { run_arg_extreme(ctx, false); }

template <typename T>
void top_k_typed(const Tensor& input, const AxisSplit& split, int64_t k, bool largest, Tensor& values,
                 Tensor& indices) {
  const T* in = input.data<T>();
  T* out_values = values.data<T>();
  int64_t* out_indices = indices.data<int64_t>();
  std::vector<int64_t> order(static_cast<size_t>(split.axis_dim));
  for (int64_t o = 0; o < split.outer; ++o) {
    for (int64_t i = 0; i < split.inner; ++i) {
      auto value_at = [&](int64_t a) { return in[split.index(o, a, i)]; };
      // Before: strictly more extreme, or equal with the lower index.
      auto before = [&](int64_t a, int64_t b) {
        const T va = value_at(a);
        const T vb = value_at(b);
        const bool a_first = largest ? greater_nan_first(va, vb) : greater_nan_first(vb, va);
        const bool b_first = largest ? greater_nan_first(vb, va) : greater_nan_first(va, vb);
        return a_first || (!b_first && a < b);
      };
      std::iota(order.begin(), order.end(), int64_t{0});
      std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      for (int64_t j = 0; j < k; ++j) {
        const int64_t out_index = (o * k + j) * split.inner + i;
        out_values[out_index] = value_at(order[static_cast<size_t>(j)]);
        out_indices[out_index] = order[static_cast<size_t>(j)];
      }
    }
  }
}

void top_k(KernelContext& ctx) {
  const Tensor& input = ctx.input(0);
  const int64_t rank = input.rank();
  if (rank == 0) user_error("{}: input must have at least one axis", ctx.node.describe());
  const int64_t axis = reduction_normalize_axis(ctx.node.attr_int("axis", -1), rank, ctx.node);

  int64_t k = 0;
  if (ctx.opset < 10) {
    k = ctx.node.attr("k").i;
  } else {
    if (!ctx.has_input(1) || ctx.input(1).numel() != 1)
      user_error("{}: input K must be a 1-element tensor", ctx.node.describe());
    k = ctx.input(1).to_int64_vector()[0];
  }
  const bool largest = ctx.node.attr_int("largest", 1) != 0;
  if (k < 0 || k > input.dim(axis))
    user_error("{}: k = {} is outside [0, {}] (the size of axis {})", ctx.node.describe(), k,
               input.dim(axis), axis);

  const AxisSplit split = reduction_split_at_axis(input.shape(), axis);
  Shape out_shape = input.shape();
  out_shape[static_cast<size_t>(axis)] = k;
  Tensor values(input.dtype(), out_shape);
  Tensor indices(DType::Int64, out_shape);
  dispatch_dtype(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    top_k_typed<T>(input, split, k, largest, values, indices);
  });
  ctx.outputs[0] = std::move(values);
  if (ctx.num_outputs() > 1) ctx.outputs[1] = std::move(indices);
}

}  // namespace

void register_argminmax_kernels(KernelRegistry& registry) {
  registry.add_reference("ArgMax", arg_max);
  registry.add_reference("ArgMin", arg_min);
  registry.add_reference("TopK", top_k);
}

}  // namespace ocs
