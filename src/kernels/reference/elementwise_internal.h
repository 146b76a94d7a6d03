// Private to the element-wise reference kernels (elementwise*.cpp): the loops they share and the
// per-file registration functions that register_elementwise_kernels calls.
//
// Loops come in two speeds. When every input either has the output's shape or is a single
// element, the loop is a plain flat loop the compiler can vectorise. Otherwise the output is
// walked row by row: broadcast_layout merges adjacent dimensions that every input walks
// contiguously (or skips together), so that the innermost row is as long as possible, and each
// input advances through that row by a fixed step (1, or 0 for a broadcast dimension).
#pragma once

#include "core/dtype.h"
#include "core/tensor.h"
#include "kernels/kernel.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace ocs::elementwise {

// ---- registration, one function per file -------------------------------------------------
void register_unary(KernelRegistry& registry);        // elementwise_unary.cpp
void register_activations(KernelRegistry& registry);  // elementwise_activations.cpp
void register_binary(KernelRegistry& registry);       // elementwise_binary.cpp
void register_variadic(KernelRegistry& registry);     // elementwise_variadic.cpp (Sum.., Where)
void register_cast(KernelRegistry& registry);         // elementwise_cast.cpp

// ---- type helpers --------------------------------------------------------------------------
template <typename T>
inline constexpr bool is_float_v = std::is_floating_point_v<T>;
template <typename T>
inline constexpr bool is_integer_v = std::is_integral_v<T> && !std::is_same_v<T, bool>;
template <typename T>
inline constexpr bool is_numeric_v = is_float_v<T> || is_integer_v<T>;

// Throws a UserError saying the node does not accept tensors of `type`.
[[noreturn]] void unsupported_dtype(const KernelContext& ctx, DType type);

// dispatch_dtype restricted to float32/float64; other types are a user error naming the node.
template <typename Fn>
void dispatch_float(const KernelContext& ctx, DType type, Fn&& fn) {
  dispatch_dtype(type, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_float_v<T>) fn(tag);
    else unsupported_dtype(ctx, type);
  });
}

// dispatch_dtype restricted to numbers (every storable type but bool).
template <typename Fn>
void dispatch_numeric(const KernelContext& ctx, DType type, Fn&& fn) {
  dispatch_dtype(type, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (is_numeric_v<T>) fn(tag);
    else unsupported_dtype(ctx, type);
  });
}

// Requires input `i` to be present.
const Tensor& required_input(const KernelContext& ctx, size_t i);
// Requires inputs i and j to share an element type (ONNX's type constraint T for both).
void require_same_dtype(const KernelContext& ctx, size_t i, size_t j);
// The NumPy broadcast of the shapes of the given (present) inputs; user error if they clash.
Shape broadcast_output_shape(const KernelContext& ctx, const std::vector<Shape>& shapes);

// ---- broadcast walking ----------------------------------------------------------------------
// The output index space with adjacent dimensions merged where possible, and for each input
// its stride (in elements) along every merged dimension, 0 where it is broadcast.
struct BroadcastLayout {
  Shape dims;                                 // at least one dimension
  std::vector<std::vector<int64_t>> strides;  // strides[input][dim]
};
// Every shape in `inputs` must broadcast to `out`.
BroadcastLayout broadcast_layout(const Shape& out, const std::vector<Shape>& inputs);

// Calls row(out_offset, in_offsets, in_steps, length) for each innermost row of the output:
// element k of the row is out[out_offset + k] and, for input n, in_n[in_offsets[n] + k *
// in_steps[n]].
template <size_t N, typename RowFn>
void broadcast_rows(const BroadcastLayout& layout, RowFn&& row) {
  OCS_CHECK(layout.strides.size() == N, "layout has {} inputs, walker expects {}",
            layout.strides.size(), N);
  const size_t rank = layout.dims.size();
  const int64_t row_length = layout.dims[rank - 1];
  const int64_t total = shape_numel(layout.dims);
  if (total == 0) return;
  std::array<int64_t, N> steps{};
  for (size_t n = 0; n < N; ++n) steps[n] = layout.strides[n][rank - 1];

  std::array<int64_t, N> offsets{};
  std::vector<int64_t> counter(rank, 0);  // index over the outer (rank - 1) dims
  for (int64_t out_offset = 0; out_offset < total; out_offset += row_length) {
    row(out_offset, offsets, steps, row_length);
    // Advance the outer index like an odometer, keeping the input offsets in step.
    for (size_t axis = rank - 1; axis-- > 0;) {
      ++counter[axis];
      for (size_t n = 0; n < N; ++n) offsets[n] += layout.strides[n][axis];
      if (counter[axis] < layout.dims[axis]) break;
      for (size_t n = 0; n < N; ++n) offsets[n] -= layout.strides[n][axis] * counter[axis];
      counter[axis] = 0;
    }
  }
}

// ---- loops ---------------------------------------------------------------------------------
// out[i] = op(x[i]); out must have x's element count.
template <typename In, typename Out, typename Op>
void apply_unary(const Tensor& x, Tensor& out, Op op) {
  const In* in = x.data<In>();
  Out* dst = out.data<Out>();
  const int64_t count = x.numel();
  for (int64_t i = 0; i < count; ++i) dst[i] = op(in[i]);
}

// out = op(a, b) with a and b broadcast to out's shape.
template <typename A, typename B, typename Out, typename Op>
void apply_binary(const Tensor& a, const Tensor& b, Tensor& out, Op op) {
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  Out* dst = out.data<Out>();
  const int64_t count = out.numel();
  // An input that broadcasts to the output and has as many elements has its flat layout.
  const bool a_full = a.numel() == count, b_full = b.numel() == count;
  if (a_full && b_full) {
    for (int64_t i = 0; i < count; ++i) dst[i] = op(pa[i], pb[i]);
    return;
  }
  if (a_full && b.numel() == 1) {
    const B scalar = pb[0];
    for (int64_t i = 0; i < count; ++i) dst[i] = op(pa[i], scalar);
    return;
  }
  if (a.numel() == 1 && b_full) {
    const A scalar = pa[0];
    for (int64_t i = 0; i < count; ++i) dst[i] = op(scalar, pb[i]);
    return;
  }
  const BroadcastLayout layout = broadcast_layout(out.shape(), {a.shape(), b.shape()});
  broadcast_rows<2>(layout, [&](int64_t o, const std::array<int64_t, 2>& in,
                                const std::array<int64_t, 2>& step, int64_t length) {
    const A* row_a = pa + in[0];
    const B* row_b = pb + in[1];
    Out* row_out = dst + o;
    if (step[0] == 1 && step[1] == 0) {
      for (int64_t k = 0; k < length; ++k) row_out[k] = op(row_a[k], row_b[0]);
    } else if (step[0] == 0 && step[1] == 1) {
      for (int64_t k = 0; k < length; ++k) row_out[k] = op(row_a[0], row_b[k]);
    } else {
      for (int64_t k = 0; k < length; ++k) row_out[k] = op(row_a[k * step[0]], row_b[k * step[1]]);
    }
  });
}

// out = op(a, b, c) with all three broadcast to out's shape (Where).
template <typename A, typename B, typename C, typename Out, typename Op>
void apply_ternary(const Tensor& a, const Tensor& b, const Tensor& c, Tensor& out, Op op) {
  const A* pa = a.data<A>();
  const B* pb = b.data<B>();
  const C* pc = c.data<C>();
  Out* dst = out.data<Out>();
  const int64_t count = out.numel();
  if (a.numel() == count && b.numel() == count && c.numel() == count) {
    for (int64_t i = 0; i < count; ++i) dst[i] = op(pa[i], pb[i], pc[i]);
    return;
  }
  const BroadcastLayout layout = broadcast_layout(out.shape(), {a.shape(), b.shape(), c.shape()});
  broadcast_rows<3>(layout, [&](int64_t o, const std::array<int64_t, 3>& in,
                                const std::array<int64_t, 3>& step, int64_t length) {
    for (int64_t k = 0; k < length; ++k)
      dst[o + k] = op(pa[in[0] + k * step[0]], pb[in[1] + k * step[1]], pc[in[2] + k * step[2]]);
  });
}

// Copies x broadcast to out's shape (same element type).
template <typename T>
void broadcast_copy(const Tensor& x, Tensor& out) {
  const T* src = x.data<T>();
  T* dst = out.data<T>();
  if (x.numel() == out.numel()) {
    std::copy(src, src + x.numel(), dst);
    return;
  }
  const BroadcastLayout layout = broadcast_layout(out.shape(), {x.shape()});
  broadcast_rows<1>(layout, [&](int64_t o, const std::array<int64_t, 1>& in,
                                const std::array<int64_t, 1>& step, int64_t length) {
    for (int64_t k = 0; k < length; ++k) dst[o + k] = src[in[0] + k * step[0]];
  });
}

}  // namespace ocs::elementwise
