// Ops that pick elements by index or condition: Gather, GatherElements, GatherND, Compress,
// NonZero. Indices may be negative (counted from the end of their axis) and are checked.
#include "kernels/reference/tensor_internal.h"

namespace ocs::tensor_kernels {
namespace {

// An index into a dim of size `dim`, with negative values counting from the end.
int64_t checked_index(const KernelContext& ctx, int64_t index, int64_t dim) {
  if (index < -dim || index >= dim)
    user_error("{}: index {} is out of range for a dim of size {}", ctx.node.describe(), index, dim);
  return index < 0 ? index + dim : index;
}

std::vector<int64_t> index_values(const KernelContext& ctx, size_t i) {
  const Tensor& t = ctx.input(i);
  if (t.dtype() != DType::Int64 && t.dtype() != DType::Int32)
    user_error("{}: indices must be int32 or int64, not {}", ctx.node.describe(), dtype_name(t.dtype()));
  return t.to_int64_vector();
}

// Gather: out[o, i..., n] = data[o, indices[i...], n], with o over the dims before `axis` and
// n over the dims after it. Output shape: data[:axis] + indices.shape + data[axis+1:].
void gather(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const std::vector<int64_t> index = index_values(ctx, 1);
  const int64_t axis = normalize_axis(ctx, ctx.node.attr_int("axis", 0), data.rank());
  const int64_t dim = data.dim(axis);
  Shape out_shape(data.shape().begin(), data.shape().begin() + axis);
  out_shape.insert(out_shape.end(), indices.shape().begin(), indices.shape().end());
  out_shape.insert(out_shape.end(), data.shape().begin() + axis + 1, data.shape().end());
  Tensor output(data.dtype(), out_shape);

  const int64_t outer = dims_product(data.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = dims_product(data.shape(), static_cast<size_t>(axis) + 1, data.shape().size());
  const size_t block_bytes = static_cast<size_t>(inner) * dtype_size(data.dtype());
  const int64_t count = static_cast<int64_t>(index.size());
  for (int64_t i = 0; i < count; ++i) {
    const int64_t row = checked_index(ctx, index[i], dim);
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(bytes_of(output) + (o * count + i) * block_bytes,
                  bytes_of(data) + (o * dim + row) * block_bytes, block_bytes);
  }
  ctx.outputs[0] = output;
}

// GatherElements: out[p] = data[p with its `axis` coordinate replaced by indices[p]].
void gather_elements(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const std::vector<int64_t> index = index_values(ctx, 1);
  const int64_t rank = data.rank();
  const int64_t axis = normalize_axis(ctx, ctx.node.attr_int("axis", 0), rank);
  if (indices.rank() != rank)
    user_error("{}: indices {} and data {} differ in rank", ctx.node.describe(),
               shape_str(indices.shape()), shape_str(data.shape()));
  for (int64_t a = 0; a < rank; ++a)
    if (a != axis && indices.dim(a) > data.dim(a))
      user_error("{}: indices {} exceed data {} on axis {}", ctx.node.describe(),
                 shape_str(indices.shape()), shape_str(data.shape()), a);
  Tensor output(data.dtype(), indices.shape());
  if (output.numel() == 0) {
    ctx.outputs[0] = output;
    return;
  }
  const std::vector<int64_t> strides = shape_strides(data.shape());
  dispatch_element_bytes(dtype_size(data.dtype()), [&](auto tag) {
    using U = decltype(tag);
    const U* src = static_cast<const U*>(data.raw());
    U* dst = static_cast<U*>(output.raw());
    IndexCounter position(indices.shape());
    int64_t p = 0;
    do {
      int64_t offset = 0;
      for (int64_t a = 0; a < rank; ++a) {
        const int64_t coordinate =
            a == axis ? checked_index(ctx, index[p], data.dim(a)) : position.index[a];
        offset += coordinate * strides[a];
      }
      dst[p++] = src[offset];
    } while (position.advance());
  });
  ctx.outputs[0] = output;
}

// GatherND: indices [..., k] address k leading dims of data (after batch_dims shared leading
// dims) and each tuple selects a slice of the remaining dims.
// Output shape: indices.shape[:-1] + data.shape[batch_dims + k:].
void gather_nd(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const std::vector<int64_t> index = index_values(ctx, 1);
  const int64_t batch_dims = ctx.node.attr_int("batch_dims", 0);
  const int64_t q = indices.rank();
  if (q < 1) user_error("{}: indices must have rank >= 1", ctx.node.describe());
  const int64_t k = indices.dim(q - 1);
  if (batch_dims < 0 || batch_dims >= q || batch_dims + k > data.rank())
    user_error("{}: indices {} with batch_dims {} do not fit data {}", ctx.node.describe(),
               shape_str(indices.shape()), batch_dims, shape_str(data.shape()));
  for (int64_t a = 0; a < batch_dims; ++a)
    if (indices.dim(a) != data.dim(a))
      user_error("{}: batch dim {} differs between data {} and indices {}", ctx.node.describe(), a,
                 shape_str(data.shape()), shape_str(indices.shape()));

  Shape out_shape(indices.shape().begin(), indices.shape().end() - 1);
  out_shape.insert(out_shape.end(), data.shape().begin() + batch_dims + k, data.shape().end());
  Tensor output(data.dtype(), out_shape);

  const std::vector<int64_t> strides = shape_strides(data.shape());
  const int64_t batches = dims_product(data.shape(), 0, static_cast<size_t>(batch_dims));
  const int64_t batch_stride = dims_product(data.shape(), static_cast<size_t>(batch_dims), data.shape().size());
  const int64_t tuples_per_batch = dims_product(indices.shape(), static_cast<size_t>(batch_dims), q - 1);
  const int64_t slice = dims_product(data.shape(), static_cast<size_t>(batch_dims + k), data.shape().size());
  const size_t element_size = dtype_size(data.dtype());
  for (int64_t b = 0; b < batches; ++b)
    for (int64_t t = 0; t < tuples_per_batch; ++t) {
      const int64_t tuple = b * tuples_per_batch + t;
      int64_t offset = b * batch_stride;
      for (int64_t j = 0; j < k; ++j) {
        const int64_t axis = batch_dims + j;
        offset += checked_index(ctx, index[tuple * k + j], data.dim(axis)) * strides[axis];
      }
      std::memcpy(bytes_of(output) + tuple * slice * element_size,
                  bytes_of(data) + offset * element_size, static_cast<size_t>(slice) * element_size);
    }
  ctx.outputs[0] = output;
}

// Compress: keeps the slices along `axis` whose condition is true (a shorter condition leaves
// the rest out). Without axis the input is flattened first.
void compress(KernelContext& ctx) {
  const Tensor& input = ctx.input(0);
  const std::vector<int64_t> condition = ctx.input(1).to_int64_vector();
  const bool has_axis = ctx.node.has_attr("axis");
  const Tensor data = has_axis ? input : input.reshaped({input.numel()});
  const int64_t axis = has_axis ? normalize_axis(ctx, ctx.node.attr_int("axis", 0), data.rank()) : 0;
  const int64_t dim = data.dim(axis);
  if (static_cast<int64_t>(condition.size()) > dim)
    user_error("{}: condition has {} entries for a dim of {}", ctx.node.describe(), condition.size(), dim);
  std::vector<int64_t> kept;
  for (size_t i = 0; i < condition.size(); ++i)
    if (condition[i] != 0) kept.push_back(static_cast<int64_t>(i));

  Shape out_shape = data.shape();
  out_shape[axis] = static_cast<int64_t>(kept.size());
  Tensor output(data.dtype(), out_shape);
  const int64_t outer = dims_product(data.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = dims_product(data.shape(), static_cast<size_t>(axis) + 1, data.shape().size());
  const size_t block_bytes = static_cast<size_t>(inner) * dtype_size(data.dtype());
  const int64_t count = static_cast<int64_t>(kept.size());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < count; ++i)
      std::memcpy(bytes_of(output) + (o * count + i) * block_bytes,
                  bytes_of(data) + (o * dim + kept[i]) * block_bytes, block_bytes);
  ctx.outputs[0] = output;
}

// NonZero: int64 [rank, count], the coordinates of the nonzero elements in row-major order.
// A scalar is treated as shape [1].
void non_zero(KernelContext& ctx) {
  const Tensor& input = ctx.input(0);
  const Shape shape = input.rank() == 0 ? Shape{1} : input.shape();
  const int64_t rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> positions;
  dispatch_dtype(input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* values = input.data<T>();
    for (int64_t i = 0; i < input.numel(); ++i)
      if (values[i] != T{}) positions.push_back(i);
  });
  const int64_t count = static_cast<int64_t>(positions.size());
  Tensor output(DType::Int64, {rank, count});
  int64_t* out = output.data<int64_t>();
  const std::vector<int64_t> strides = shape_strides(shape);
  for (int64_t n = 0; n < count; ++n)
    for (int64_t a = 0; a < rank; ++a) out[a * count + n] = positions[n] / strides[a] % shape[a];
  ctx.outputs[0] = output;
}

}  // namespace

void register_gather_kernels(KernelRegistry& registry) {
  registry.add_reference("Gather", gather);
  registry.add_reference("GatherElements", gather_elements);
  registry.add_reference("GatherND", gather_nd);
  registry.add_reference("Compress", compress);
  registry.add_reference("NonZero", non_zero);
}

}  // namespace ocs::tensor_kernels
