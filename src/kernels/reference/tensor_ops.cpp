// Shape and data-movement kernels: registration and the helpers the tensor_*.cpp files share.
#include "kernels/reference/tensor_internal.h"

namespace ocs {

namespace tensor_kernels {

int64_t normalize_axis(const KernelContext& ctx, int64_t axis, int64_t rank) {
  if (axis < -rank || axis >= rank)
    user_error("{}: axis {} is out of range for rank {}", ctx.node.describe(), axis, rank);
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> input_ints(const KernelContext& ctx, size_t index, const char* what) {
  if (!ctx.has_input(index))
    user_error("{}: the '{}' input (input {}) is missing", ctx.node.describe(), what, index);
  const Tensor& t = ctx.input(index);
  if (t.dtype() != DType::Int64 && t.dtype() != DType::Int32)
    user_error("{}: the '{}' input must be int64 (or int32), not {}", ctx.node.describe(), what,
               dtype_name(t.dtype()));
  return t.to_int64_vector();
}

int64_t dims_product(const Shape& shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t i = begin; i < end && i < shape.size(); ++i) n *= shape[i];
  return n;
}

template <typename U>
static void copy_strided_typed(const U* src, int64_t offset, const std::vector<int64_t>& strides,
                               U* dst, const Shape& shape) {
  const size_t rank = shape.size();
  const int64_t total = shape_numel(shape);
  if (total == 0) return;
  if (rank == 0) {
    dst[0] = src[offset];
    return;
  }
  // Walk whole rows of the innermost dimension; a unit-stride row is one memcpy.
  const int64_t row_length = shape.back();
  const int64_t row_stride = strides.back();
  std::vector<int64_t> counter(rank - 1, 0);
  int64_t in_index = offset;
  for (int64_t out_index = 0; out_index < total; out_index += row_length) {
    if (row_stride == 1) {
      std::memcpy(dst + out_index, src + in_index, static_cast<size_t>(row_length) * sizeof(U));
    } else {
      for (int64_t j = 0; j < row_length; ++j) dst[out_index + j] = src[in_index + j * row_stride];
    }
    for (size_t axis = rank - 1; axis-- > 0;) {
      ++counter[axis];
      in_index += strides[axis];
      if (counter[axis] < shape[axis]) break;
      in_index -= strides[axis] * counter[axis];
      counter[axis] = 0;
    }
  }
}

void copy_strided(const Tensor& input, int64_t offset, const std::vector<int64_t>& strides,
                  Tensor& output) {
  OCS_CHECK(input.dtype() == output.dtype(), "copy {} into {}", dtype_name(input.dtype()),
            dtype_name(output.dtype()));
  OCS_CHECK(strides.size() == output.shape().size(), "{} strides for shape {}", strides.size(),
            shape_str(output.shape()));
  dispatch_element_bytes(dtype_size(input.dtype()), [&](auto tag) {
    using U = decltype(tag);
    copy_strided_typed(static_cast<const U*>(input.raw()), offset, strides,
                       static_cast<U*>(output.raw()), output.shape());
  });
}

}  // namespace tensor_kernels

void register_tensor_kernels(KernelRegistry& registry) {
  tensor_kernels::register_shape_kernels(registry);
  tensor_kernels::register_layout_kernels(registry);
  tensor_kernels::register_gather_kernels(registry);
  tensor_kernels::register_scatter_kernels(registry);
  tensor_kernels::register_create_kernels(registry);
  tensor_kernels::register_pad_kernels(registry);
  tensor_kernels::register_resize_kernels(registry);
}

}  // namespace ocs
