// Multidirectional (NumPy) broadcasting, shared by every element-wise reference kernel.
#pragma once

#include "core/tensor.h"

#include <optional>
#include <vector>

namespace ocs {

// The broadcast shape of a and b, or nullopt when they do not broadcast.
std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b);

// For each output element (row-major over `out`), the flat index into a tensor of shape `in`
// broadcast to `out`. `in` must broadcast to `out`.
std::vector<int64_t> broadcast_index_map(const Shape& in, const Shape& out);

// Walks the output in row-major order, calling fn(out_index, in_index) with the flat index into
// an input of shape `in` broadcast to `out`, without materialising an index map.
template <typename Fn>
void broadcast_for_each(const Shape& in, const Shape& out, Fn&& fn) {
  const size_t rank = out.size();
  std::vector<int64_t> in_strides(rank, 0);
  {
    int64_t stride = 1;
    for (size_t k = 0; k < in.size(); ++k) {
      size_t axis_in = in.size() - 1 - k;
      size_t axis_out = rank - 1 - k;
      in_strides[axis_out] = in[axis_in] == 1 ? 0 : stride;
      stride *= in[axis_in];
    }
  }
  const int64_t total = shape_numel(out);
  std::vector<int64_t> counter(rank, 0);
  int64_t in_index = 0;
  for (int64_t o = 0; o < total; ++o) {
    fn(o, in_index);
    for (size_t axis = rank; axis-- > 0;) {
      ++counter[axis];
      in_index += in_strides[axis];
      if (counter[axis] < out[axis]) break;
      in_index -= in_strides[axis] * counter[axis];
      counter[axis] = 0;
    }
  }
}

}  // namespace ocs
