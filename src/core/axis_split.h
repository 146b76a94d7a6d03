// A shape seen around one axis as [outer, channels, inner]: in row-major order, element (o, c, r)
// of that view sits at (o * channels + c) * inner + r. Every per-channel loop (the quantizer, OCS,
// BatchNorm folding, calibration statistics, weight statistics) walks a tensor this way.
#pragma once

#include "core/error.h"
#include "core/tensor.h"

#include <cstdint>
#include <vector>

namespace ocs {

struct AxisSplit {
  int64_t outer = 1;     // product of the dims before the axis
  int64_t channels = 1;  // the axis's own dim
  int64_t inner = 1;     // product of the dims after it
  int64_t index(int64_t o, int64_t c, int64_t r) const { return (o * channels + c) * inner + r; }
};

// `axis` in [0, rank) (an internal error otherwise: callers normalize and validate it).
inline AxisSplit split_at_axis(const Shape& shape, int64_t axis) {
  OCS_CHECK(axis >= 0 && axis < static_cast<int64_t>(shape.size()), "axis {} of shape {}", axis, shape_str(shape));
  AxisSplit s;
  for (int64_t a = 0; a < axis; ++a) s.outer *= shape[a];
  s.channels = shape[axis];
  for (size_t a = static_cast<size_t>(axis) + 1; a < shape.size(); ++a) s.inner *= shape[a];
  return s;
}

// The float32 tensor `t` gathered along `axis`: slice c of the result is slice indices[c] of t
// (every index in [0, t.dim(axis))). Duplicating channels (weight OCS absorbed into a producer)
// and keeping the first ones (comparing a widened layer with its original) are both this.
inline Tensor gather_along_axis(const Tensor& t, int64_t axis, const std::vector<int64_t>& indices) {
  Shape shape = t.shape();
  const AxisSplit in = split_at_axis(shape, axis);
  shape[axis] = static_cast<int64_t>(indices.size());
  Tensor out(DType::Float32, shape);
  const AxisSplit o = split_at_axis(shape, axis);
  const float* src = t.data<float>();
  float* dst = out.data<float>();
  for (int64_t outer = 0; outer < o.outer; ++outer)
    for (int64_t c = 0; c < o.channels; ++c)
      for (int64_t r = 0; r < o.inner; ++r) dst[o.index(outer, c, r)] = src[in.index(outer, indices[c], r)];
  return out;
}

}  // namespace ocs
