// Ops that make a new tensor from a description: ConstantOfShape, Range, EyeLike, OneHot.
#include "core/memory_budget.h"
#include "kernels/reference/tensor_internal.h"

#include <cmath>
#include <type_traits>

namespace ocs::tensor_kernels {
namespace {

// ConstantOfShape: the one-element `value` tensor (default float32 0) repeated over the shape.
void constant_of_shape(KernelContext& ctx) {
  const std::vector<int64_t> shape = input_ints(ctx, 0, "input");
  for (int64_t d : shape)
    if (d < 0) user_error("{}: negative dim in shape {}", ctx.node.describe(), shape_str(shape));
  Tensor value = Tensor::scalar<float>(0.0f);
  if (ctx.node.has_attr("value")) {
    value = ctx.node.attr("value").t;
    if (value.numel() != 1)
      user_error("{}: 'value' must hold one element, it holds {}", ctx.node.describe(), value.numel());
  }
  Tensor output(value.dtype(), shape);
  const size_t element_size = dtype_size(value.dtype());
  for (int64_t i = 0; i < output.numel(); ++i)
    std::memcpy(bytes_of(output) + i * element_size, bytes_of(value), element_size);
  ctx.outputs[0] = output;
}

// Range: start + i * delta for i in [0, max(ceil((limit - start) / delta), 0)).
void range(KernelContext& ctx) {
  const Tensor& start_t = ctx.input(0);
  const Tensor& limit_t = ctx.input(1);
  const Tensor& delta_t = ctx.input(2);
  if (start_t.numel() != 1 || limit_t.numel() != 1 || delta_t.numel() != 1 ||
      limit_t.dtype() != start_t.dtype() || delta_t.dtype() != start_t.dtype())
    user_error("{}: start, limit and delta must be scalars of one type", ctx.node.describe());
  dispatch_dtype(start_t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T start = start_t.data<T>()[0];
    const T limit = limit_t.data<T>()[0];
    const T delta = delta_t.data<T>()[0];
    if (delta == T{}) user_error("{}: delta is 0", ctx.node.describe());
    // The count is computed in T for floating types (as the spec's formula reads) and in double
    // for integers, whose difference could overflow T.
    double steps;
    if constexpr (std::is_floating_point_v<T>)
      steps = std::ceil(static_cast<double>(static_cast<T>((limit - start) / delta)));
    else
      steps = std::ceil((static_cast<double>(limit) - static_cast<double>(start)) /
                        static_cast<double>(delta));
    // An absurd or infinite count is refused before the conversion to int64, which would be
    // undefined; the tensor's allocation checks the memory budget for the others.
    if (steps >= 0x1p62) {
      const double bytes = steps * static_cast<double>(dtype_size(start_t.dtype()));
      memory_refuse(bytes < 0x1p64 ? static_cast<uint64_t>(bytes) : UINT64_MAX,
                    fmt::format("a {} tensor of {} elements", dtype_name(start_t.dtype()), steps));
    }
    const int64_t count = steps > 0 ? static_cast<int64_t>(steps) : 0;
    Tensor output(start_t.dtype(), {count});
    T* out = output.data<T>();
    for (int64_t i = 0; i < count; ++i) out[i] = static_cast<T>(start + static_cast<T>(i) * delta);
    ctx.outputs[0] = output;
  });
}

// EyeLike: a 2-D tensor of the input's shape with ones on diagonal k; `dtype` overrides the
// element type.
void eye_like(KernelContext& ctx) {
  const Tensor& input = ctx.input(0);
  if (input.rank() != 2) user_error("{}: input must be 2-D", ctx.node.describe());
  const DType type = ctx.node.has_attr("dtype")
                         ? static_cast<DType>(ctx.node.attr_int("dtype", 1))
                         : input.dtype();
  if (!dtype_supported(type)) user_error("{}: unsupported dtype {}", ctx.node.describe(), dtype_name(type));
  const int64_t k = ctx.node.attr_int("k", 0);
  Tensor output(type, input.shape());
  const int64_t rows = input.dim(0), cols = input.dim(1);
  dispatch_dtype(type, [&](auto tag) {
    using T = decltype(tag);
    T* out = output.data<T>();
    for (int64_t i = 0; i < rows; ++i)
      if (i + k >= 0 && i + k < cols) out[i * cols + i + k] = static_cast<T>(1);
  });
  ctx.outputs[0] = output;
}

// OneHot: depth is inserted at `axis` of the indices' shape; out = values[1] where the index
// (negative counts from depth) equals the position along that axis, values[0] elsewhere.
void one_hot(KernelContext& ctx) {
  const Tensor& indices = ctx.input(0);
  const Tensor& depth_t = ctx.input(1);
  const Tensor& values = ctx.input(2);
  if (depth_t.numel() != 1 || values.numel() != 2)
    user_error("{}: depth must be one value and values two", ctx.node.describe());
  const int64_t depth = static_cast<int64_t>(depth_t.to_double_vector()[0]);
  if (depth <= 0) user_error("{}: depth {} must be positive", ctx.node.describe(), depth);
  const int64_t out_rank = indices.rank() + 1;
  const int64_t axis = normalize_axis(ctx, ctx.node.attr_int("axis", -1), out_rank);
  Shape out_shape = indices.shape();
  out_shape.insert(out_shape.begin() + axis, depth);
  Tensor output(values.dtype(), out_shape);

  // Indices may be of any numeric type; fractional values truncate toward zero.
  const std::vector<double> index = indices.to_double_vector();
  const int64_t outer = dims_product(indices.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = dims_product(indices.shape(), static_cast<size_t>(axis), indices.shape().size());
  const size_t element_size = dtype_size(values.dtype());
  const std::byte* off_value = bytes_of(values);
  const std::byte* on_value = bytes_of(values) + element_size;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t d = 0; d < depth; ++d)
      for (int64_t i = 0; i < inner; ++i) {
        int64_t hot = static_cast<int64_t>(index[o * inner + i]);
        if (hot < 0) hot += depth;
        const int64_t at = (o * depth + d) * inner + i;
        std::memcpy(bytes_of(output) + at * element_size, hot == d ? on_value : off_value, element_size);
      }
  ctx.outputs[0] = output;
}

}  // namespace

void register_create_kernels(KernelRegistry& registry) {
  registry.add_reference("ConstantOfShape", constant_of_shape);
  registry.add_reference("Range", range);
  registry.add_reference("EyeLike", eye_like);
  registry.add_reference("OneHot", one_hot);
}

}  // namespace ocs::tensor_kernels
