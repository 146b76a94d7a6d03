// Ops that write updates into a copy of the data by index: ScatterElements (and its opset 9-10
// name Scatter), ScatterND. `reduction` (opset 16: none, add, mul; opset 18: max, min) combines
// an update with the value already there; updates apply in index order, so with reduction=none
// a repeated index keeps the last update.
#include "kernels/reference/tensor_internal.h"

#include <algorithm>

namespace ocs::tensor_kernels {
namespace {

enum class Reduction { None, Add, Mul, Max, Min };

Reduction reduction_of(const KernelContext& ctx) {
  const std::string name = ctx.node.attr_string("reduction", "none");
  if (name == "none") return Reduction::None;
  if (name == "add") return Reduction::Add;
  if (name == "mul") return Reduction::Mul;
  if (name == "max") return Reduction::Max;
  if (name == "min") return Reduction::Min;
  user_error("{}: unknown reduction '{}'", ctx.node.describe(), name);
}

template <typename T>
void combine(T& target, T update, Reduction reduction) {
  switch (reduction) {
    case Reduction::None: target = update; break;
    case Reduction::Add: target = static_cast<T>(target + update); break;
    case Reduction::Mul: target = static_cast<T>(target * update); break;
    case Reduction::Max: target = std::max(target, update); break;
    case Reduction::Min: target = std::min(target, update); break;
  }
}

int64_t checked_index(const KernelContext& ctx, int64_t index, int64_t dim) {
  if (index < -dim || index >= dim)
    user_error("{}: index {} is out of range for a dim of size {}", ctx.node.describe(), index, dim);
  return index < 0 ? index + dim : index;
}

// ScatterElements: for every position p of indices,
//   out[p with its `axis` coordinate replaced by indices[p]] (op)= updates[p].
void scatter_elements(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  const std::vector<int64_t> index = indices.to_int64_vector();
  const int64_t rank = data.rank();
  const int64_t axis = normalize_axis(ctx, ctx.node.attr_int("axis", 0), rank);
  const Reduction reduction = reduction_of(ctx);
  if (indices.shape() != updates.shape() || indices.rank() != rank || updates.dtype() != data.dtype())
    user_error("{}: indices {} and updates {} must have one shape, and the rank of data {}",
               ctx.node.describe(), shape_str(indices.shape()), shape_str(updates.shape()),
               shape_str(data.shape()));
  for (int64_t a = 0; a < rank; ++a)
    if (a != axis && indices.dim(a) > data.dim(a))
      user_error("{}: indices {} exceed data {} on axis {}", ctx.node.describe(),
                 shape_str(indices.shape()), shape_str(data.shape()), a);
  Tensor output = data.clone();
  if (indices.numel() == 0) {
    ctx.outputs[0] = output;
    return;
  }
  const std::vector<int64_t> strides = shape_strides(data.shape());
  dispatch_dtype(data.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* out = output.data<T>();
    const T* update = updates.data<T>();
    IndexCounter position(indices.shape());
    int64_t p = 0;
    do {
      int64_t offset = 0;
      for (int64_t a = 0; a < rank; ++a) {
        const int64_t coordinate =
            a == axis ? checked_index(ctx, index[p], data.dim(a)) : position.index[a];
        offset += coordinate * strides[a];
      }
      combine(out[offset], update[p], reduction);
      ++p;
    } while (position.advance());
  });
  ctx.outputs[0] = output;
}

// ScatterND: indices [..., k] address slices of data's trailing dims data.shape[k:];
// updates has shape indices.shape[:-1] + data.shape[k:].
void scatter_nd(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& indices = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  const std::vector<int64_t> index = indices.to_int64_vector();
  const Reduction reduction = reduction_of(ctx);
  const int64_t q = indices.rank();
  if (q < 1) user_error("{}: indices must have rank >= 1", ctx.node.describe());
  const int64_t k = indices.dim(q - 1);
  if (k > data.rank())
    user_error("{}: index tuples of length {} for data of rank {}", ctx.node.describe(), k, data.rank());
  Shape expected(indices.shape().begin(), indices.shape().end() - 1);
  expected.insert(expected.end(), data.shape().begin() + k, data.shape().end());
  if (updates.shape() != expected || updates.dtype() != data.dtype())
    user_error("{}: updates {} should have shape {}", ctx.node.describe(),
               shape_str(updates.shape()), shape_str(expected));

  const std::vector<int64_t> strides = shape_strides(data.shape());
  const int64_t tuples = dims_product(indices.shape(), 0, q - 1);
  const int64_t slice = dims_product(data.shape(), static_cast<size_t>(k), data.shape().size());
  Tensor output = data.clone();
  dispatch_dtype(data.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* out = output.data<T>();
    const T* update = updates.data<T>();
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t offset = 0;
      for (int64_t j = 0; j < k; ++j)
        offset += checked_index(ctx, index[t * k + j], data.dim(j)) * strides[j];
      for (int64_t e = 0; e < slice; ++e) combine(out[offset + e], update[t * slice + e], reduction);
    }
  });
  ctx.outputs[0] = output;
}

}  // namespace

void register_scatter_kernels(KernelRegistry& registry) {
  registry.add_reference("ScatterElements", scatter_elements);
  registry.add_reference("Scatter", scatter_elements);
  registry.add_reference("ScatterND", scatter_nd);
}

}  // namespace ocs::tensor_kernels
