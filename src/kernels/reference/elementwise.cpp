// The element-wise family: unary math, activations, broadcasting binary ops, variadic ops,
// Where and Cast. Each group lives in its own elementwise_*.cpp; this file registers them all
// and holds the shape helpers they share (elementwise_internal.h).
#include "kernels/reference/broadcast.h"
#include "kernels/reference/elementwise_internal.h"

namespace ocs {

void register_elementwise_kernels(KernelRegistry& registry) {
  elementwise::register_unary(registry);
  elementwise::register_activations(registry);
  elementwise::register_binary(registry);
  elementwise::register_variadic(registry);
  elementwise::register_cast(registry);
}

namespace elementwise {

void unsupported_dtype(const KernelContext& ctx, DType type) {
  user_error("{} does not accept {} tensors", ctx.node.describe(), dtype_name(type));
}

const Tensor& required_input(const KernelContext& ctx, size_t i) {
  if (!ctx.has_input(i)) user_error("{} lacks its required input {}", ctx.node.describe(), i);
  return ctx.input(i);
}

void require_same_dtype(const KernelContext& ctx, size_t i, size_t j) {
  DType a = required_input(ctx, i).dtype(), b = required_input(ctx, j).dtype();
  if (a != b)
    user_error("{} needs inputs {} and {} of one element type, got {} and {}",
               ctx.node.describe(), i, j, dtype_name(a), dtype_name(b));
}

Shape broadcast_output_shape(const KernelContext& ctx, const std::vector<Shape>& shapes) {
  OCS_CHECK(!shapes.empty(), "no shapes to broadcast for {}", ctx.node.describe());
  Shape out = shapes[0];
  for (size_t i = 1; i < shapes.size(); ++i) {
    std::optional<Shape> joined = broadcast_shapes(out, shapes[i]);
    if (!joined)
      user_error("{}: input shapes {} and {} do not broadcast", ctx.node.describe(),
                 shape_str(out), shape_str(shapes[i]));
    out = std::move(*joined);
  }
  return out;
}

BroadcastLayout broadcast_layout(const Shape& out, const std::vector<Shape>& inputs) {
  const size_t rank = out.size();
  // Per-input strides over the full output rank (leading missing dims and size-1 dims are 0).
  std::vector<std::vector<int64_t>> full(inputs.size(), std::vector<int64_t>(rank, 0));
  for (size_t n = 0; n < inputs.size(); ++n) {
    const Shape& in = inputs[n];
    OCS_CHECK(in.size() <= rank, "input rank {} above output rank {}", in.size(), rank);
    int64_t stride = 1;
    for (size_t k = 0; k < in.size(); ++k) {
      size_t axis_in = in.size() - 1 - k, axis_out = rank - 1 - k;
      OCS_CHECK(in[axis_in] == out[axis_out] || in[axis_in] == 1, "{} does not broadcast to {}",
                shape_str(in), shape_str(out));
      full[n][axis_out] = in[axis_in] == 1 ? 0 : stride;
      stride *= in[axis_in];
    }
  }

  // Merge axis into the dimension after it when every input steps over the pair as over one
  // dimension: stride[axis] == stride[axis + 1] * dim[axis + 1] (true when both are 0, too).
  // Size-1 output dims are dropped first since they do not move any offset.
  BroadcastLayout layout;
  layout.strides.assign(inputs.size(), {});
  for (size_t axis = 0; axis < rank; ++axis) {
    if (out[axis] == 1) continue;
    bool mergeable = !layout.dims.empty();
    for (size_t n = 0; n < inputs.size() && mergeable; ++n)
      mergeable = layout.strides[n].back() == full[n][axis] * out[axis];
    if (mergeable) {
      layout.dims.back() *= out[axis];
      for (size_t n = 0; n < inputs.size(); ++n) layout.strides[n].back() = full[n][axis];
    } else {
      layout.dims.push_back(out[axis]);
      for (size_t n = 0; n < inputs.size(); ++n) layout.strides[n].push_back(full[n][axis]);
    }
  }
  if (layout.dims.empty()) {  // a scalar or all-ones output: one row of one element
    layout.dims.push_back(1);
    for (auto& s : layout.strides) s.push_back(0);
  }
  return layout;
}

}  // namespace elementwise
}  // namespace ocs
