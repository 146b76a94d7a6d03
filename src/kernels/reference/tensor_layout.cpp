// Ops that rearrange elements without computing on them: Transpose, Slice, Expand, Tile,
// DepthToSpace, SpaceToDepth (all strided views, see copy_strided), Concat, Split, Trilu,
// ReverseSequence.
#include "core/memory_budget.h"
#include "kernels/reference/broadcast.h"
#include "kernels/reference/tensor_internal.h"

#include <algorithm>
#include <numeric>

namespace ocs::tensor_kernels {
namespace {

// out = input transposed by perm, as a strided view: output dim i walks input dim perm[i].
Tensor transposed(const Tensor& input, const std::vector<int64_t>& perm) {
  const std::vector<int64_t> in_strides = shape_strides(input.shape());
  Shape out_shape(perm.size());
  std::vector<int64_t> strides(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    out_shape[i] = input.dim(perm[i]);
    strides[i] = in_strides[perm[i]];
  }
  Tensor output(input.dtype(), out_shape);
  copy_strided(input, 0, strides, output);
  return output;
}

void transpose(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const int64_t rank = data.rank();
  std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  if (perm.empty()) {  // default: reverse the dims
    perm.resize(static_cast<size_t>(rank));
    for (int64_t i = 0; i < rank; ++i) perm[i] = rank - 1 - i;
  }
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  if (static_cast<int64_t>(perm.size()) != rank)
    user_error("{}: perm {} does not match rank {}", ctx.node.describe(), shape_str(perm), rank);
  for (int64_t& p : perm) {
    p = normalize_axis(ctx, p, rank);
    if (seen[p]) user_error("{}: perm {} is not a permutation", ctx.node.describe(), shape_str(perm));
    seen[p] = true;
  }
  ctx.outputs[0] = transposed(data, perm);
}

// Slice-10+: starts, ends, axes, steps as inputs (opset 1: attributes, step 1). Per axis:
// negative start/end count from the end; then start is clamped to [0, dim] (step > 0) or
// [0, dim-1] (step < 0) and end to [0, dim] or [-1, dim-1]; the length is
// max(0, ceil((end - start) / step)).
void slice(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const int64_t rank = data.rank();
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.num_inputs() >= 3) {
    starts = input_ints(ctx, 1, "starts");
    ends = input_ints(ctx, 2, "ends");
    if (ctx.has_input(3)) axes = input_ints(ctx, 3, "axes");
    if (ctx.has_input(4)) steps = input_ints(ctx, 4, "steps");
  } else {
    starts = ctx.node.attr_ints("starts");
    ends = ctx.node.attr_ints("ends");
    axes = ctx.node.attr_ints("axes");
  }
  if (axes.empty()) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    user_error("{}: starts, ends, axes and steps must have the same length", ctx.node.describe());

  Shape out_shape = data.shape();
  std::vector<int64_t> first(static_cast<size_t>(rank), 0);
  std::vector<int64_t> step_of(static_cast<size_t>(rank), 1);
  std::vector<bool> seen(static_cast<size_t>(rank), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t axis = normalize_axis(ctx, axes[i], rank);
    if (seen[axis]) user_error("{}: axis {} appears twice", ctx.node.describe(), axes[i]);
    seen[axis] = true;
    const int64_t dim = data.dim(axis);
    const int64_t step = steps[i];
    if (step == 0) user_error("{}: a step is 0", ctx.node.describe());
    if (dim == 0) {  // nothing to take (and the clamp ranges below would be empty)
      out_shape[axis] = 0;
      continue;
    }
    int64_t start = starts[i] < 0 ? starts[i] + dim : starts[i];
    int64_t end = ends[i] < 0 ? ends[i] + dim : ends[i];
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
    }
    // ceil((end - start) / step) in integers, written so that a huge step cannot overflow.
    const int64_t span = end - start;
    int64_t length = 0;
    if (step > 0 && span > 0) length = 1 + (span - 1) / step;
    if (step < 0 && span < 0) length = 1 + (span + 1) / step;
    out_shape[axis] = length;
    first[axis] = start;
    step_of[axis] = step;
  }

  const std::vector<int64_t> in_strides = shape_strides(data.shape());
  int64_t offset = 0;
  std::vector<int64_t> strides(static_cast<size_t>(rank));
  for (int64_t a = 0; a < rank; ++a) {
    strides[a] = in_strides[a] * step_of[a];
    if (out_shape[a] > 0) offset += first[a] * in_strides[a];
  }
  Tensor output(data.dtype(), out_shape);
  if (output.numel() > 0) copy_strided(data, offset, strides, output);
  ctx.outputs[0] = output;
}

// Expand: broadcast the input against the requested shape (either side may be 1).
void expand(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const std::vector<int64_t> requested = input_ints(ctx, 1, "shape");
  std::optional<Shape> out_shape = broadcast_shapes(data.shape(), requested);
  if (!out_shape)
    user_error("{}: input shape {} does not broadcast to {}", ctx.node.describe(),
               shape_str(data.shape()), shape_str(requested));
  const std::vector<int64_t> in_strides = shape_strides(data.shape());
  const size_t rank = out_shape->size();
  const size_t lead = rank - data.shape().size();
  std::vector<int64_t> strides(rank, 0);
  for (size_t i = lead; i < rank; ++i)
    strides[i] = data.dim(static_cast<int64_t>(i - lead)) == 1 ? 0 : in_strides[i - lead];
  Tensor output(data.dtype(), *out_shape);
  copy_strided(data, 0, strides, output);
  ctx.outputs[0] = output;
}

// Tile: out[i] = in[i mod dim] per axis. As a view: shape [r0, d0, r1, d1, ...] with stride 0
// on each repeat axis, then reshaped to [r0*d0, r1*d1, ...].
void tile(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const std::vector<int64_t> repeats = input_ints(ctx, 1, "repeats");
  const int64_t rank = data.rank();
  if (static_cast<int64_t>(repeats.size()) != rank)
    user_error("{}: {} repeats for an input of rank {}", ctx.node.describe(), repeats.size(), rank);
  const std::vector<int64_t> in_strides = shape_strides(data.shape());
  Shape view_shape, out_shape;
  std::vector<int64_t> strides;
  for (int64_t a = 0; a < rank; ++a) {
    if (repeats[a] < 0) user_error("{}: negative repeat {}", ctx.node.describe(), repeats[a]);
    view_shape.insert(view_shape.end(), {repeats[a], data.dim(a)});
    strides.insert(strides.end(), {0, in_strides[a]});
    int64_t length = 0;  // a hostile repeat must not overflow (the allocation checks the budget)
    if (__builtin_mul_overflow(repeats[a], data.dim(a), &length))
      memory_refuse(UINT64_MAX, fmt::format("a {} tensor of shape {} tiled {} times", dtype_name(data.dtype()),
                                            shape_str(data.shape()), shape_str(repeats)));
    out_shape.push_back(length);
  }
  Tensor output(data.dtype(), view_shape);
  copy_strided(data, 0, strides, output);
  ctx.outputs[0] = output.reshaped(out_shape);
}

int64_t block_size_of(const KernelContext& ctx) {
  const int64_t block = ctx.node.attr_int("blocksize", 0);
  if (block <= 0) user_error("{}: blocksize must be positive", ctx.node.describe());
  if (ctx.input(0).rank() != 4)
    user_error("{}: input must be 4-D (N, C, H, W), got {}", ctx.node.describe(),
               shape_str(ctx.input(0).shape()));
  return block;
}

// DepthToSpace, as a reshape-transpose-reshape:
//  DCR: [N, b, b, C/b^2, H, W] -> perm [0, 3, 4, 1, 5, 2]
//  CRD: [N, C/b^2, b, b, H, W] -> perm [0, 1, 4, 2, 5, 3]
// then [N, C/b^2, H*b, W*b].
void depth_to_space(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const int64_t b = block_size_of(ctx);
  const int64_t n = data.dim(0), c = data.dim(1), h = data.dim(2), w = data.dim(3);
  if (c % (b * b) != 0)
    user_error("{}: channels {} are not divisible by blocksize^2 = {}", ctx.node.describe(), c, b * b);
  const int64_t c_out = c / (b * b);
  const bool crd = ctx.node.attr_string("mode", "DCR") == "CRD";
  Tensor view = crd ? data.reshaped({n, c_out, b, b, h, w}) : data.reshaped({n, b, b, c_out, h, w});
  Tensor moved = crd ? transposed(view, {0, 1, 4, 2, 5, 3}) : transposed(view, {0, 3, 4, 1, 5, 2});
  ctx.outputs[0] = moved.reshaped({n, c_out, h * b, w * b});
}

// SpaceToDepth: [N, C, H/b, b, W/b, b] -> perm [0, 3, 5, 1, 2, 4] -> [N, C*b*b, H/b, W/b].
void space_to_depth(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const int64_t b = block_size_of(ctx);
  const int64_t n = data.dim(0), c = data.dim(1), h = data.dim(2), w = data.dim(3);
  if (h % b != 0 || w % b != 0)
    user_error("{}: spatial dims {} are not divisible by blocksize {}", ctx.node.describe(),
               shape_str(data.shape()), b);
  Tensor view = data.reshaped({n, c, h / b, b, w / b, b});
  ctx.outputs[0] = transposed(view, {0, 3, 5, 1, 2, 4}).reshaped({n, c * b * b, h / b, w / b});
}

// Concat along axis: each input contributes a block of dim(axis) * inner elements per outer index.
void concat(KernelContext& ctx) {
  std::vector<const Tensor*> parts;
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i)) parts.push_back(&ctx.inputs[i]);
  if (parts.empty()) user_error("{}: no inputs", ctx.node.describe());
  const Tensor& first = *parts.front();
  const int64_t rank = first.rank();
  const int64_t axis = normalize_axis(ctx, ctx.node.attr_int("axis", 1), rank);
  Shape out_shape = first.shape();
  out_shape[axis] = 0;
  for (const Tensor* part : parts) {
    bool same = part->rank() == rank && part->dtype() == first.dtype();
    for (int64_t a = 0; same && a < rank; ++a) same = a == axis || part->dim(a) == first.dim(a);
    if (!same)
      user_error("{}: cannot concatenate {} {} with {} {} on axis {}", ctx.node.describe(),
                 dtype_name(first.dtype()), shape_str(first.shape()), dtype_name(part->dtype()),
                 shape_str(part->shape()), axis);
    out_shape[axis] += part->dim(axis);
  }
  Tensor output(first.dtype(), out_shape);
  const size_t element_size = dtype_size(first.dtype());
  const int64_t outer = dims_product(out_shape, 0, static_cast<size_t>(axis));
  const int64_t inner = dims_product(out_shape, static_cast<size_t>(axis) + 1, out_shape.size());
  const size_t out_row_bytes = static_cast<size_t>(out_shape[axis] * inner) * element_size;
  size_t column_bytes = 0;  // where this part starts within an output row
  for (const Tensor* part : parts) {
    const size_t part_row_bytes = static_cast<size_t>(part->dim(axis) * inner) * element_size;
    for (int64_t o = 0; o < outer && part_row_bytes > 0; ++o)
      std::memcpy(bytes_of(output) + o * out_row_bytes + column_bytes,
                  bytes_of(*part) + o * part_row_bytes, part_row_bytes);
    column_bytes += part_row_bytes;
  }
  ctx.outputs[0] = output;
}

// Split: sizes from the `split` attribute (opset < 13) or input 1 (opset 13+); without them the
// axis is split into equal parts (the last part smaller when it does not divide, as opset 18).
void split(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const int64_t rank = data.rank();
  const int64_t axis = normalize_axis(ctx, ctx.node.attr_int("axis", 0), rank);
  const int64_t dim = data.dim(axis);
  const int64_t parts = static_cast<int64_t>(ctx.num_outputs());
  std::vector<int64_t> sizes;
  if (ctx.has_input(1)) sizes = input_ints(ctx, 1, "split");
  else sizes = ctx.node.attr_ints("split");
  if (sizes.empty()) {
    const int64_t each = (dim + parts - 1) / parts;
    for (int64_t p = 0; p < parts; ++p) sizes.push_back(std::clamp<int64_t>(dim - p * each, 0, each));
  }
  if (static_cast<int64_t>(sizes.size()) != parts)
    user_error("{}: {} split sizes for {} outputs", ctx.node.describe(), sizes.size(), parts);
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) user_error("{}: negative split size {}", ctx.node.describe(), s);
    total += s;
  }
  if (total != dim)
    user_error("{}: split sizes {} do not add up to dim {} of {}", ctx.node.describe(),
               shape_str(sizes), dim, shape_str(data.shape()));

  const size_t element_size = dtype_size(data.dtype());
  const int64_t outer = dims_product(data.shape(), 0, static_cast<size_t>(axis));
  const int64_t inner = dims_product(data.shape(), static_cast<size_t>(axis) + 1, data.shape().size());
  const size_t in_row_bytes = static_cast<size_t>(dim * inner) * element_size;
  size_t column_bytes = 0;
  for (int64_t p = 0; p < parts; ++p) {
    Shape shape = data.shape();
    shape[axis] = sizes[p];
    Tensor output(data.dtype(), shape);
    const size_t part_row_bytes = static_cast<size_t>(sizes[p] * inner) * element_size;
    for (int64_t o = 0; o < outer && part_row_bytes > 0; ++o)
      std::memcpy(bytes_of(output) + o * part_row_bytes,
                  bytes_of(data) + o * in_row_bytes + column_bytes, part_row_bytes);
    column_bytes += part_row_bytes;
    ctx.outputs[p] = output;
  }
}

// Trilu: keeps the upper (j - i >= k) or lower (j - i <= k) triangle of the last two dims; the
// rest is zero (all-zero bytes are 0 / false for every type).
void trilu(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  if (data.rank() < 2) user_error("{}: input must have rank >= 2", ctx.node.describe());
  const int64_t k = ctx.has_input(1) ? ctx.input(1).to_int64_vector().at(0) : 0;
  const bool upper = ctx.node.attr_int("upper", 1) != 0;
  const int64_t rows = data.dim(data.rank() - 2), cols = data.dim(data.rank() - 1);
  const int64_t matrices = dims_product(data.shape(), 0, data.shape().size() - 2);
  Tensor output(data.dtype(), data.shape());
  const size_t element_size = dtype_size(data.dtype());
  for (int64_t m = 0; m < matrices; ++m)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        const bool keep = upper ? (j - i >= k) : (j - i <= k);
        if (!keep) continue;
        const size_t at = static_cast<size_t>((m * rows + i) * cols + j) * element_size;
        std::memcpy(bytes_of(output) + at, bytes_of(data) + at, element_size);
      }
  ctx.outputs[0] = output;
}

// ReverseSequence: for batch b, the first sequence_lens[b] steps along time_axis are reversed.
void reverse_sequence(KernelContext& ctx) {
  const Tensor& data = ctx.input(0);
  const std::vector<int64_t> lengths = input_ints(ctx, 1, "sequence_lens");
  const int64_t batch_axis = ctx.node.attr_int("batch_axis", 1);
  const int64_t time_axis = ctx.node.attr_int("time_axis", 0);
  if (data.rank() < 2 || !((batch_axis == 0 && time_axis == 1) || (batch_axis == 1 && time_axis == 0)))
    user_error("{}: needs rank >= 2 and batch/time axes 0 and 1", ctx.node.describe());
  const int64_t batch = data.dim(batch_axis), steps = data.dim(time_axis);
  if (static_cast<int64_t>(lengths.size()) != batch)
    user_error("{}: {} sequence lengths for batch {}", ctx.node.describe(), lengths.size(), batch);
  const std::vector<int64_t> strides = shape_strides(data.shape());
  const int64_t inner = dims_product(data.shape(), 2, data.shape().size());
  const size_t block_bytes = static_cast<size_t>(inner) * dtype_size(data.dtype());
  Tensor output = data.clone();
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t length = lengths[b];
    if (length < 0 || length > steps)
      user_error("{}: sequence length {} is outside [0, {}]", ctx.node.describe(), length, steps);
    for (int64_t t = 0; t < length; ++t) {
      const int64_t to = b * strides[batch_axis] + t * strides[time_axis];
      const int64_t from = b * strides[batch_axis] + (length - 1 - t) * strides[time_axis];
      std::memcpy(bytes_of(output) + to * dtype_size(data.dtype()),
                  bytes_of(data) + from * dtype_size(data.dtype()), block_bytes);
    }
  }
  ctx.outputs[0] = output;
}

}  // namespace

void register_layout_kernels(KernelRegistry& registry) {
  registry.add_reference("Transpose", transpose);
  registry.add_reference("Slice", slice);
  registry.add_reference("Expand", expand);
  registry.add_reference("Tile", tile);
  registry.add_reference("DepthToSpace", depth_to_space);
  registry.add_reference("SpaceToDepth", space_to_depth);
  registry.add_reference("Concat", concat);
  registry.add_reference("Split", split);
  registry.add_reference("Trilu", trilu);
  registry.add_reference("ReverseSequence", reverse_sequence);
}

}  // namespace ocs::tensor_kernels
