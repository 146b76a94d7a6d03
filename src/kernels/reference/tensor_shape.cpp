// Ops that change only the shape (the data buffer is shared, never copied) and ops that report
// shapes: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout (inference), Shape, Size.
#include "core/memory_budget.h"
#include "kernels/reference/tensor_internal.h"

#include <algorithm>

namespace ocs::tensor_kernels {
namespace {

// Reshape-5+: shape from input 1. A 0 copies the input's dim at that position (unless
// allowzero=1, opset 14, where 0 is a real zero-size dim); one -1 is inferred.
void reshape(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  std::vector<int64_t> requested =
      ctx.has_input(1) ? input_ints(ctx, 1, "shape") : ctx.node.attr_ints("shape");
  const bool allow_zero = ctx.node.attr_int("allowzero", 0) != 0;

  Shape shape(requested.size());
  int64_t inferred_axis = -1;
  int64_t known_product = 1;
  for (size_t i = 0; i < requested.size(); ++i) {
    int64_t dim = requested[i];
    if (dim == 0 && !allow_zero) {
      if (i >= data.shape().size())
        user_error("{}: shape entry {} is 0 (copy) but the input {} has no dim {}",
                   ctx.node.describe(), i, shape_str(data.shape()), i);
      dim = data.dim(static_cast<int64_t>(i));
    }
    if (dim == -1) {
      if (inferred_axis >= 0)
        user_error("{}: shape {} has more than one -1", ctx.node.describe(), shape_str(requested));
      inferred_axis = static_cast<int64_t>(i);
      continue;
    }
    if (dim < 0) user_error("{}: shape {} has a negative dim", ctx.node.describe(), shape_str(requested));
    shape[i] = dim;
    // A product that overflows would wrap around and could "match" the input's count.
    if (__builtin_mul_overflow(known_product, dim, &known_product))
      memory_refuse(UINT64_MAX, fmt::format("reshaping {} to {}", shape_str(data.shape()), shape_str(requested)));
  }
  if (inferred_axis >= 0) {
    if (known_product == 0 || data.numel() % known_product != 0)
      user_error("{}: cannot infer the -1 in {} for an input of shape {}", ctx.node.describe(),
                 shape_str(requested), shape_str(data.shape()));
    shape[inferred_axis] = data.numel() / known_product;
  }
  if (shape_numel(shape) != data.numel())
    user_error("{}: cannot reshape {} to {}", ctx.node.describe(), shape_str(data.shape()),
               shape_str(shape));
  ctx.outputs[0] = data.reshaped(std::move(shape));
}

// Flatten: [d0 .. d(axis-1)] x [d(axis) .. dn] as a 2-D tensor; axis in [-rank, rank].
void flatten(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const int64_t rank = data.rank();
  int64_t axis = ctx.node.attr_int("axis", 1);
  if (axis < -rank || axis > rank)
    user_error("{}: axis {} is out of range for rank {}", ctx.node.describe(), axis, rank);
  if (axis < 0) axis += rank;
  const int64_t outer = dims_product(data.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = dims_product(data.shape(), static_cast<size_t>(axis), data.shape().size());
  ctx.outputs[0] = data.reshaped({outer, inner});
}

// Axes come from the `axes` attribute before opset 13 and from input 1 from opset 13.
std::vector<int64_t> squeeze_axes(const KernelContext& ctx, bool* present) {
  if (ctx.has_input(1)) {
    *present = true;
    return input_ints(ctx, 1, "axes");
  }
  *present = ctx.node.has_attr("axes");
  return ctx.node.attr_ints("axes");
}

void squeeze(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const int64_t rank = data.rank();
  bool axes_given = false;
  std::vector<int64_t> axes = squeeze_axes(ctx, &axes_given);
  std::vector<bool> remove(static_cast<size_t>(rank), false);
  if (!axes_given) {
    for (int64_t i = 0; i < rank; ++i) remove[i] = data.dim(i) == 1;
  } else {
    for (int64_t axis : axes) {
      int64_t a = normalize_axis(ctx, axis, rank);
      if (data.dim(a) != 1)
        user_error("{}: cannot squeeze axis {} of shape {} (its size is not 1)",
                   ctx.node.describe(), axis, shape_str(data.shape()));
      remove[a] = true;
    }
  }
  Shape shape;
  for (int64_t i = 0; i < rank; ++i)
    if (!remove[i]) shape.push_back(data.dim(i));
  ctx.outputs[0] = data.reshaped(std::move(shape));
}

// Unsqueeze: axes index the output, whose rank is the input rank plus the number of axes.
void unsqueeze(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  bool axes_given = false;
  std::vector<int64_t> axes = squeeze_axes(ctx, &axes_given);
  if (!axes_given) user_error("{}: 'axes' is required", ctx.node.describe());
  const int64_t out_rank = data.rank() + static_cast<int64_t>(axes.size());
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t axis : axes) {
    int64_t a = normalize_axis(ctx, axis, out_rank);
    if (inserted[a]) user_error("{}: axis {} is repeated", ctx.node.describe(), axis);
    inserted[a] = true;
  }
  Shape shape;
  int64_t next_input_dim = 0;
  for (int64_t i = 0; i < out_rank; ++i)
    shape.push_back(inserted[i] ? 1 : data.dim(next_input_dim++));
  ctx.outputs[0] = data.reshaped(std::move(shape));
}

void identity(KernelContext& ctx) { ctx.outputs[0] = ctx.input(0); }

// Dropout at inference is the identity. The optional mask output is all true (bool from
// opset 10; before that it had the input's type). Training mode with a nonzero ratio would need
// random numbers and is refused.
void dropout(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  if (ctx.has_input(2) && ctx.input(2).to_int64_vector().at(0) != 0) {
    double ratio = ctx.has_input(1) ? ctx.input(1).to_double_vector().at(0) : 0.5;
    if (ratio != 0.0)
      user_error("{}: training_mode=true with ratio {} is random; ocs runs inference only",
                 ctx.node.describe(), ratio);
  }
  ctx.outputs[0] = data;
  const bool mask_wanted = ctx.num_outputs() > 1 &&
                           (ctx.node.outputs.size() < 2 || ctx.node.outputs[1] != kNoValue);
  if (mask_wanted) {
    const DType mask_type = ctx.opset >= 10 ? DType::Bool : data.dtype();
    Tensor mask(mask_type, data.shape());
    dispatch_dtype(mask_type, [&](auto tag) {
      using T = decltype(tag);
      std::fill_n(mask.data<T>(), mask.numel(), static_cast<T>(1));
    });
    ctx.outputs[1] = mask;
  }
}

// Shape: int64 dims; opset 15 takes the slice [start, end) with negative values counted from
// the end and both clamped to [0, rank].
void shape_op(KernelContext& ctx) {
  const Shape& shape = ctx.input(0).shape();
  const int64_t rank = static_cast<int64_t>(shape.size());
  auto clamp_index = [&](int64_t i) {
    if (i < 0) i += rank;
    return std::clamp<int64_t>(i, 0, rank);
  };
  const int64_t start = clamp_index(ctx.node.attr_int("start", 0));
  const int64_t end = clamp_index(ctx.node.attr_int("end", rank));
  std::vector<int64_t> dims;
  for (int64_t i = start; i < end; ++i) dims.push_back(shape[i]);
  ctx.outputs[0] = Tensor::from_vector<int64_t>({static_cast<int64_t>(dims.size())}, dims);
}

void size_op(KernelContext& ctx) { ctx.outputs[0] = Tensor::scalar<int64_t>(ctx.input(0).numel()); }

}  // namespace

void register_shape_kernels(KernelRegistry& registry) {
  registry.add_reference("Reshape", reshape);
  registry.add_reference("Flatten", flatten);
  registry.add_reference("Squeeze", squeeze);
  registry.add_reference("Unsqueeze", unsqueeze);
  registry.add_reference("Identity", identity);
  registry.add_reference("Dropout", dropout);
  registry.add_reference("Shape", shape_op);
  registry.add_reference("Size", size_op);
}

}  // namespace ocs::tensor_kernels
