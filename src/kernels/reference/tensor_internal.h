// Private to the shape and data-movement kernels (reference/tensor_*.cpp).
//
// Most of these ops move elements without looking at them, so the helpers here work on raw
// element bytes: a kernel written once handles float32, int64, bool and the rest alike.
#pragma once

#include "kernels/kernel.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace ocs::tensor_kernels {

// One registration function per file; register_tensor_kernels (tensor_ops.cpp) calls them all.
void register_shape_kernels(KernelRegistry& registry);    // tensor_shape.cpp
void register_layout_kernels(KernelRegistry& registry);   // tensor_layout.cpp
void register_gather_kernels(KernelRegistry& registry);   // tensor_gather.cpp
void register_scatter_kernels(KernelRegistry& registry);  // tensor_scatter.cpp
void register_create_kernels(KernelRegistry& registry);   // tensor_create.cpp
void register_pad_kernels(KernelRegistry& registry);      // tensor_pad.cpp
void register_resize_kernels(KernelRegistry& registry);   // tensor_resize.cpp

// An axis in [-rank, rank) mapped to [0, rank); user_error naming the node otherwise.
int64_t normalize_axis(const KernelContext& ctx, int64_t axis, int64_t rank);

// Input `index` as int64 values (shape-like inputs: starts, pads, axes, ...). The input must be
// present.
std::vector<int64_t> input_ints(const KernelContext& ctx, size_t index, const char* what);

// Product of shape[begin, end).
int64_t dims_product(const Shape& shape, size_t begin, size_t end);

inline const std::byte* bytes_of(const Tensor& t) { return static_cast<const std::byte*>(t.raw()); }
inline std::byte* bytes_of(Tensor& t) { return static_cast<std::byte*>(t.raw()); }

// Calls fn(U{}) with U an unsigned integer of `element_size` bytes (1, 2, 4 or 8), so that a
// loop can copy elements of any type by value.
template <typename Fn>
void dispatch_element_bytes(size_t element_size, Fn&& fn) {
  switch (element_size) {
    case 1: fn(uint8_t{}); return;
    case 2: fn(uint16_t{}); return;
    case 4: fn(uint32_t{}); return;
    case 8: fn(uint64_t{}); return;
    default: break;
  }
  OCS_CHECK(false, "no element copy for {}-byte elements", element_size);
}

// Fills `output` (already allocated, shape S) from a strided view of `input`:
//   output[i0, ..., in] = input_flat[offset + i0 * strides[0] + ... + in * strides[n]]
// where strides are in elements and may be zero (broadcast) or negative (reversed slices).
// Transpose, Slice, Expand, Tile and DepthToSpace are all such views.
void copy_strided(const Tensor& input, int64_t offset, const std::vector<int64_t>& strides,
                  Tensor& output);

// The row-major position counter used by loops that walk every element of a shape.
// advance() moves to the next index and returns false after the last one.
struct IndexCounter {
  explicit IndexCounter(const Shape& shape) : shape(shape), index(shape.size(), 0) {}
  bool advance() {
    for (size_t axis = shape.size(); axis-- > 0;) {
      if (++index[axis] < shape[axis]) return true;
      index[axis] = 0;
    }
    return false;
  }
  const Shape& shape;
  std::vector<int64_t> index;
};

}  // namespace ocs::tensor_kernels
