// Private to the reduction family (reduction.cpp, softmax.cpp, argminmax.cpp, cumsum.cpp,
// lp_mvn_normalization.cpp) and quant.cpp (per-axis scales): axis handling shared by the ops that work
// along one or more axes.
#pragma once

#include "kernels/kernel.h"

#include <cmath>
#include <type_traits>
#include <vector>

namespace ocs {

// Maps an ONNX axis in [-rank, rank-1] to [0, rank-1]; a user error naming the node otherwise.
int64_t reduction_normalize_axis(int64_t axis, int64_t rank, const Node& node);

// A tensor seen as [outer, axis_dim, inner] around one axis: element (o, a, i) is at flat index
// (o * axis_dim + a) * inner + i.
struct AxisSplit {
  int64_t outer = 1;
  int64_t axis_dim = 1;
  int64_t inner = 1;

  int64_t index(int64_t o, int64_t a, int64_t i) const { return (o * axis_dim + a) * inner + i; }
};
AxisSplit reduction_split_at_axis(const Shape& shape, int64_t axis);

// The shape after reducing `reduced` axes (true = reduced): reduced axes become 1 when
// keep_dims, otherwise they are dropped.
Shape reduction_output_shape(const Shape& shape, const std::vector<bool>& reduced, bool keep_dims);

// Accumulator for sums and products: double for floating types, 64-bit integers otherwise (so
// that int32 sums do not overflow before the final cast, which wraps like ONNX Runtime's).
template <typename T>
using ReduceAccumulator =
    std::conditional_t<std::is_floating_point_v<T>, double,
                       std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;

// NaN test that also compiles for integer element types.
template <typename T>
bool is_nan_value(T x) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(x);
  else return false;
}

// The other files of the family; register_reduction_kernels (reduction.cpp) calls them.
void register_softmax_kernels(KernelRegistry& registry);    // Softmax, LogSoftmax, Hardmax
void register_argminmax_kernels(KernelRegistry& registry);  // ArgMax, ArgMin, TopK
void register_cumsum_kernels(KernelRegistry& registry);     // CumSum
void register_normalization_kernels(KernelRegistry& registry);  // LpNormalization, MVN

}  // namespace ocs
