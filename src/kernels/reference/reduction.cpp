// Reduce* reference kernels: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1,
// ReduceL2, ReduceLogSum, ReduceLogSumExp, ReduceSumSquare. Also the shared axis helpers of the
// family (reduction_internal.h) and register_reduction_kernels.
//
// Axes: an attribute, except ReduceSum from opset 13 (and every Reduce op from opset 18), where
// they are the optional second input. Empty axes reduce every axis, unless
// noop_with_empty_axes = 1, which makes the op an identity. keepdims (default 1) keeps reduced
// axes as size 1.
//
// Accumulation is in double for floating types and in 64-bit integers for integer types; the
// result is cast back to the input type at the end. Reducing over zero elements gives the
// identity of the reduction (sum 0, product 1, max -inf / lowest, min +inf / highest).
#include "kernels/reference/broadcast.h"
#include "kernels/reference/reduction_internal.h"

#include <cmath>
#include <limits>
#include <set>

namespace ocs {

int64_t reduction_normalize_axis(int64_t axis, int64_t rank, const Node& node) {
  // A scalar has no axes, but ONNX lets ops on scalars name axis 0 / -1; treat it as rank 1.
  const int64_t effective_rank = std::max<int64_t>(rank, 1);
  if (axis < -effective_rank || axis >= effective_rank)
    user_error("{}: axis {} is out of range for an input of rank {}", node.describe(), axis, rank);
  return axis < 0 ? axis + effective_rank : axis;
}

AxisSplit reduction_split_at_axis(const Shape& shape, int64_t axis) {
  AxisSplit split;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    if (d < axis) split.outer *= shape[d];
    else if (d == axis) split.axis_dim = shape[d];
    else split.inner *= shape[d];
  }
  return split;
}

Shape reduction_output_shape(const Shape& shape, const std::vector<bool>& reduced, bool keep_dims) {
  Shape out;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!reduced[d]) out.push_back(shape[d]);
    else if (keep_dims) out.push_back(1);
  }
  return out;
}

namespace {

// What the node reduces, resolved from its attributes, inputs and opset.
struct ReducePlan {
  bool identity = false;      // noop_with_empty_axes with empty axes: output = input
  std::vector<bool> reduced;  // per input axis
  Shape kept_shape;           // input shape with reduced axes set to 1
  Shape output_shape;         // kept_shape, or without the reduced axes when keepdims = 0
  int64_t count = 1;          // elements folded into each output element
};

ReducePlan plan_reduce(const KernelContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& input = ctx.input(0);
  const int64_t rank = input.rank();

  // The axes input (ReduceSum opset >= 13, all Reduce ops opset >= 18) wins over the attribute;
  // models never carry both.
  std::vector<int64_t> axes =
      ctx.has_input(1) ? ctx.input(1).to_int64_vector() : node.attr_ints("axes");
  const bool keep_dims = node.attr_int("keepdims", 1) != 0;
  const bool noop_with_empty_axes = node.attr_int("noop_with_empty_axes", 0) != 0;

  ReducePlan plan;
  plan.reduced.assign(static_cast<size_t>(rank), axes.empty());
  if (axes.empty() && noop_with_empty_axes) {
    plan.identity = true;
    plan.reduced.assign(static_cast<size_t>(rank), false);
  }
  std::set<int64_t> seen;
  for (int64_t axis : axes) {
    if (axis < -rank || axis >= rank)
      user_error("{}: axis {} is out of range for an input of rank {}", node.describe(), axis, rank);
    int64_t normalized = axis < 0 ? axis + rank : axis;
    if (!seen.insert(normalized).second)
      user_error("{}: axis {} is listed twice in axes", node.describe(), axis);
    plan.reduced[static_cast<size_t>(normalized)] = true;
  }
  plan.kept_shape = reduction_output_shape(input.shape(), plan.reduced, true);
  plan.output_shape = reduction_output_shape(input.shape(), plan.reduced, keep_dims);
  for (int64_t d = 0; d < rank; ++d)
    if (plan.reduced[static_cast<size_t>(d)]) plan.count *= input.dim(d);
  return plan;
}

// Folds every input element into the accumulator of its output element:
// acc[out] = combine(acc[out], x) starting from `init`, then output[out] = finish(acc[out]).
template <typename T, typename Acc, typename Combine, typename Finish>
void reduce_fold(const Tensor& input, const ReducePlan& plan, Tensor& output, Acc init,
                 Combine combine, Finish finish) {
  const T* in = input.data<T>();
  T* out = output.data<T>();
  std::vector<Acc> acc(static_cast<size_t>(output.numel()), init);
  // The kept shape broadcasts to the input shape: each input element visits its output slot.
  broadcast_for_each(plan.kept_shape, input.shape(), [&](int64_t in_index, int64_t out_index) {
    acc[out_index] = combine(acc[out_index], in[in_index]);
  });
  for (int64_t o = 0; o < output.numel(); ++o) out[o] = static_cast<T>(finish(acc[o]));
}

enum class ReduceKind { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };

template <typename T>
void reduce_typed(const Tensor& input, const ReducePlan& plan, ReduceKind kind, Tensor& output) {
  using Acc = ReduceAccumulator<T>;
  const int64_t count = plan.count;
  auto same = [](Acc a) { return a; };
  auto add = [](Acc a, T x) { return a + static_cast<Acc>(x); };
  auto add_square = [](Acc a, T x) { return a + static_cast<Acc>(x) * static_cast<Acc>(x); };
  switch (kind) {
    case ReduceKind::Sum:
      reduce_fold<T>(input, plan, output, Acc(0), add, same);
      break;
    case ReduceKind::Mean:
      // Integer means truncate toward zero, as integer division does.
      reduce_fold<T>(input, plan, output, Acc(0), add, [count](Acc a) {
        if constexpr (std::is_floating_point_v<Acc>) return a / static_cast<Acc>(count);
        else return count == 0 ? Acc(0) : a / static_cast<Acc>(count);
      });
      break;
    case ReduceKind::Max: {
      // NaN propagates, as in NumPy (ONNX's reference).
      const Acc lowest = std::numeric_limits<T>::has_infinity ? -std::numeric_limits<Acc>::infinity()
                                                              : static_cast<Acc>(std::numeric_limits<T>::lowest());
      reduce_fold<T>(input, plan, output, lowest,
                     [](Acc a, T x) { return (is_nan_value(x) || static_cast<Acc>(x) > a) ? static_cast<Acc>(x) : a; },
                     same);
      break;
    }
    case ReduceKind::Min: {
      const Acc highest = std::numeric_limits<T>::has_infinity ? std::numeric_limits<Acc>::infinity()
                                                               : static_cast<Acc>(std::numeric_limits<T>::max());
      reduce_fold<T>(input, plan, output, highest,
                     [](Acc a, T x) { return (is_nan_value(x) || static_cast<Acc>(x) < a) ? static_cast<Acc>(x) : a; },
                     same);
      break;
    }
    case ReduceKind::Prod:
      reduce_fold<T>(input, plan, output, Acc(1), [](Acc a, T x) { return a * static_cast<Acc>(x); }, same);
      break;
    case ReduceKind::L1:
      reduce_fold<T>(input, plan, output, Acc(0),
                     [](Acc a, T x) {
                       Acc v = static_cast<Acc>(x);
                       if constexpr (std::is_signed_v<Acc>) return a + (v < 0 ? -v : v);
                       else return a + v;
                     },
                     same);
      break;
    case ReduceKind::L2:
      reduce_fold<T>(input, plan, output, Acc(0), add_square,
                     [](Acc a) { return std::sqrt(static_cast<double>(a)); });
      break;
    case ReduceKind::LogSum:
      reduce_fold<T>(input, plan, output, Acc(0), add, [](Acc a) { return std::log(static_cast<double>(a)); });
      break;
    case ReduceKind::SumSquare:
      reduce_fold<T>(input, plan, output, Acc(0), add_square, same);
      break;
    case ReduceKind::LogSumExp: {
      // log(sum(exp(x))) = m + log(sum(exp(x - m))) with m the maximum, so exp never overflows.
      // An infinite or NaN maximum is the answer itself (all -inf, any +inf, NaN).
      Tensor maxima(input.dtype(), output.shape());
      reduce_typed<T>(input, plan, ReduceKind::Max, maxima);
      const T* max_of = maxima.data<T>();
      const T* in = input.data<T>();
      std::vector<double> sum_exp(static_cast<size_t>(output.numel()), 0.0);
      broadcast_for_each(plan.kept_shape, input.shape(), [&](int64_t in_index, int64_t out_index) {
        sum_exp[out_index] += std::exp(static_cast<double>(in[in_index]) - static_cast<double>(max_of[out_index]));
      });
      T* out = output.data<T>();
      for (int64_t o = 0; o < output.numel(); ++o) {
        const double m = static_cast<double>(max_of[o]);
        out[o] = static_cast<T>(std::isfinite(m) ? m + std::log(sum_exp[o]) : m);
      }
      break;
    }
  }
}

void run_reduce(KernelContext& ctx, ReduceKind kind) {
  const Tensor& input = ctx.input(0);
  if (input.dtype() == DType::Bool)
    user_error("{}: bool inputs are not reducible; cast to a number first", ctx.node.describe());
  ReducePlan plan = plan_reduce(ctx);
  if (plan.identity) {
    ctx.outputs[0] = input.clone();
    return;
  }
  Tensor output(input.dtype(), plan.output_shape);
  dispatch_dtype(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, bool>) OCS_CHECK(false, "bool rejected above");
    else reduce_typed<T>(input, plan, kind, output);
  });
  ctx.outputs[0] = std::move(output);
}

void reduce_sum(KernelContext& ctx) { run_reduce(ctx, ReduceKind::Sum); }
void reduce_mean(KernelContext& ctx) { run_reduce(ctx, ReduceKind::Mean); }
void reduce_max(KernelContext& ctx) { run_reduce(ctx, ReduceKind::Max); }
void reduce_min(KernelContext& ctx) { run_reduce(ctx, ReduceKind::Min); }
void reduce_prod(KernelContext& ctx) { run_reduce(ctx, ReduceKind::Prod); }
void reduce_l1(KernelContext& ctx) { run_reduce(ctx, ReduceKind::L1); }
void reduce_l2(KernelContext& ctx) { run_reduce(ctx, ReduceKind::L2); }
void reduce_log_sum(KernelContext& ctx) { run_reduce(ctx, ReduceKind::LogSum); }
void reduce_log_sum_exp(KernelContext& ctx) { run_reduce(ctx, ReduceKind::LogSumExp); }
void reduce_sum_square(KernelContext& ctx) { run_reduce(ctx, ReduceKind::SumSquare); }

}  // namespace

void register_reduction_kernels(KernelRegistry& registry) {
  registry.add_reference("ReduceSum", reduce_sum);
  registry.add_reference("ReduceMean", reduce_mean);
  registry.add_reference("ReduceMax", reduce_max);
  registry.add_reference("ReduceMin", reduce_min);
  registry.add_reference("ReduceProd", reduce_prod);
  registry.add_reference("ReduceL1", reduce_l1);
  registry.add_reference("ReduceL2", reduce_l2);
  registry.add_reference("ReduceLogSum", reduce_log_sum);
  registry.add_reference("ReduceLogSumExp", reduce_log_sum_exp);
  registry.add_reference("ReduceSumSquare", reduce_sum_square);
  register_softmax_kernels(registry);
  register_argminmax_kernels(registry);
  register_cumsum_kernels(registry);
  register_normalization_kernels(registry);
}

}  // namespace ocs
