// Private to the neural-network kernels (reference/ conv, pool, norm, gemm and the fast/ oneDNN
// kernels, which share the window geometry so both paths agree on output sizes and padding).
#pragma once

#include "kernels/kernel.h"

#include <array>
#include <cstdint>
#include <vector>

namespace ocs {

// ---- Sliding-window geometry (Conv, ConvTranspose, the pools) ---------------------------------

enum class AutoPad { NotSet, SameUpper, SameLower, Valid };

// Reads the `auto_pad` attribute; user_error on an unknown value.
AutoPad nn_read_auto_pad(const Node& node);

// Per spatial axis (all vectors have the spatial rank): where each window starts and how big the
// output is. A window for output position `out` covers input positions
//   out * strides[i] - pads_begin[i] + k * dilations[i],  k in [0, kernel[i]).
struct WindowGeometry {
  Shape input;
  Shape kernel;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads_begin;
  std::vector<int64_t> pads_end;
  Shape output;

  size_t spatial_rank() const { return input.size(); }
  // (kernel - 1) * dilation + 1: the input extent one window spans.
  int64_t dilated_kernel(size_t axis) const { return (kernel[axis] - 1) * dilations[axis] + 1; }
};

// Geometry of Conv and the pooling ops: reads strides, dilations, pads and auto_pad from `node`.
// `ceil_mode` rounds the output size up (pooling only); a window that would start inside the end
// padding is dropped, as in the ONNX pooling spec.
WindowGeometry nn_window_geometry(const Node& node, const Shape& input_spatial, const Shape& kernel,
                                  bool ceil_mode);

// Geometry of ConvTranspose, seen from the output: output position `out` receives input
// position `in` through kernel tap k when out = in * strides - pads_begin + k * dilations.
// Reads strides, dilations, pads, auto_pad, output_padding and output_shape.
WindowGeometry nn_conv_transpose_geometry(const Node& node, const Shape& input_spatial,
                                          const Shape& kernel);

// The same geometry padded to exactly three spatial axes (depth, height, width) by prepending
// axes of size 1, so that 1-D, 2-D and 3-D kernels share one loop nest.
struct Window3d {
  std::array<int64_t, 3> input{1, 1, 1};
  std::array<int64_t, 3> kernel{1, 1, 1};
  std::array<int64_t, 3> stride{1, 1, 1};
  std::array<int64_t, 3> dilation{1, 1, 1};
  std::array<int64_t, 3> pad_begin{0, 0, 0};
  std::array<int64_t, 3> pad_end{0, 0, 0};
  std::array<int64_t, 3> output{1, 1, 1};
};
// user_error naming `node` when there are more than three spatial axes.
Window3d nn_window_3d(const Node& node, const WindowGeometry& geometry);

// Spatial dims of a tensor of shape [N, C, spatial...].
Shape nn_spatial_dims(const Shape& shape);

// ---- Reference kernels (one family per file) ---------------------------------------------------

// conv.cpp
void nn_conv(KernelContext& ctx);
void nn_conv_integer(KernelContext& ctx);
// conv_transpose.cpp
void nn_conv_transpose(KernelContext& ctx);
// pool.cpp
void nn_max_pool(KernelContext& ctx);
void nn_average_pool(KernelContext& ctx);
void nn_lp_pool(KernelContext& ctx);
void nn_global_average_pool(KernelContext& ctx);
void nn_global_max_pool(KernelContext& ctx);
void nn_global_lp_pool(KernelContext& ctx);
// nn_normalization.cpp
void nn_batch_normalization(KernelContext& ctx);
void nn_instance_normalization(KernelContext& ctx);
void nn_layer_normalization(KernelContext& ctx);
void nn_lrn(KernelContext& ctx);
// gemm.cpp
void nn_gemm(KernelContext& ctx);
void nn_matmul(KernelContext& ctx);
void nn_matmul_integer(KernelContext& ctx);

}  // namespace ocs
