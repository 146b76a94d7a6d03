// ConvTranspose: the adjoint of Conv. Each input element scatters a scaled copy of its kernel
// into the output:
//
//   Y[n, g*M_g + m, in*stride - pad_begin + k*dilation] += X[n, g*C_g + c, in] * W[g*C_g + c, m, k]
//
// and Y starts from the bias. W has shape [C, M/group, kernel...] (input channels first).
// Output size and padding come from nn_conv_transpose_geometry (output_padding, output_shape,
// auto_pad); output positions that no input reaches hold only the bias.
#include "kernels/reference/nn_common.h"

namespace ocs {

void nn_conv_transpose(KernelContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor& b = ctx.input(2);
  if (x.rank() < 3 || w.rank() != x.rank())
    user_error("{}: X {} and W {} must have the same rank >= 3", node.describe(), shape_str(x.shape()),
               shape_str(w.shape()));
  if (w.dtype() != x.dtype() || (b.defined() && b.dtype() != x.dtype()))
    user_error("{}: X, W and B must share an element type", node.describe());
  const int64_t batch = x.dim(0);
  const int64_t in_channels = x.dim(1);
  const int64_t group = node.attr_int("group", 1);
  if (group < 1 || w.dim(0) != in_channels || in_channels % group != 0)
    user_error("{}: W {} must have X's {} channels first, divisible by group={}", node.describe(),
               shape_str(w.shape()), in_channels, group);
  const int64_t in_channels_per_group = in_channels / group;
  const int64_t out_channels_per_group = w.dim(1);
  const int64_t out_channels = out_channels_per_group * group;
  if (b.defined() && b.numel() != out_channels)
    user_error("{}: bias B {} must have {} entries", node.describe(), shape_str(b.shape()), out_channels);

  const Shape kernel = nn_spatial_dims(w.shape());
  if (node.attr_ints("kernel_shape", kernel) != kernel)
    user_error("{}: kernel_shape disagrees with W {}", node.describe(), shape_str(w.shape()));
  const WindowGeometry geometry = nn_conv_transpose_geometry(node, nn_spatial_dims(x.shape()), kernel);
  const Window3d win = nn_window_3d(node, geometry);

  Shape y_shape{batch, out_channels};
  for (int64_t d : geometry.output) y_shape.push_back(d);
  const int64_t in_plane = win.input[0] * win.input[1] * win.input[2];
  const int64_t out_plane = win.output[0] * win.output[1] * win.output[2];
  const int64_t kernel_volume = win.kernel[0] * win.kernel[1] * win.kernel[2];

  // Accumulate in double (the reference should be more accurate than what it judges).
  std::vector<double> acc(static_cast<size_t>(shape_numel(y_shape)), 0.0);
  const std::vector<double> x_values = x.to_double_vector();
  const std::vector<double> w_values = w.to_double_vector();
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t in_c = 0; in_c < in_channels; ++in_c) {
      const int64_t g = in_c / in_channels_per_group;
      const double* x_plane = x_values.data() + (n * in_channels + in_c) * in_plane;
      for (int64_t m = 0; m < out_channels_per_group; ++m) {
        const int64_t out_c = g * out_channels_per_group + m;
        const double* w_kernel = w_values.data() + (in_c * out_channels_per_group + m) * kernel_volume;
        double* y_plane = acc.data() + (n * out_channels + out_c) * out_plane;
        for (int64_t in_z = 0; in_z < win.input[0]; ++in_z) {
          for (int64_t in_y = 0; in_y < win.input[1]; ++in_y) {
            for (int64_t in_x = 0; in_x < win.input[2]; ++in_x) {
              const double x_value = x_plane[(in_z * win.input[1] + in_y) * win.input[2] + in_x];
              const int64_t out_z_origin = in_z * win.stride[0] - win.pad_begin[0];
              const int64_t out_y_origin = in_y * win.stride[1] - win.pad_begin[1];
              const int64_t out_x_origin = in_x * win.stride[2] - win.pad_begin[2];
              for (int64_t k_z = 0; k_z < win.kernel[0]; ++k_z) {
                const int64_t out_z = out_z_origin + k_z * win.dilation[0];
                if (out_z < 0 || out_z >= win.output[0]) continue;
                for (int64_t k_y = 0; k_y < win.kernel[1]; ++k_y) {
                  const int64_t out_y = out_y_origin + k_y * win.dilation[1];
                  if (out_y < 0 || out_y >= win.output[1]) continue;
                  for (int64_t k_x = 0; k_x < win.kernel[2]; ++k_x) {
                    const int64_t out_x = out_x_origin + k_x * win.dilation[2];
                    if (out_x < 0 || out_x >= win.output[2]) continue;
                    y_plane[(out_z * win.output[1] + out_y) * win.output[2] + out_x] +=
                        x_value * w_kernel[(k_z * win.kernel[1] + k_y) * win.kernel[2] + k_x];
                  }
                }
              }
            }
          }
        }
      }
    }
  }

  const std::vector<double> bias = b.defined() ? b.to_double_vector() : std::vector<double>{};
  Tensor y(x.dtype(), y_shape);
  auto store = [&](auto tag) {
    using T = decltype(tag);
    T* out = y.data<T>();
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t out_c = 0; out_c < out_channels; ++out_c) {
        const int64_t base = (n * out_channels + out_c) * out_plane;
        const double bias_c = bias.empty() ? 0.0 : bias[out_c];
        for (int64_t i = 0; i < out_plane; ++i) out[base + i] = static_cast<T>(acc[base + i] + bias_c);
      }
  };
  switch (x.dtype()) {
    case DType::Float32: store(float{}); break;
    case DType::Float64: store(double{}); break;
    default: user_error("{}: ConvTranspose supports float32 and float64, got {}", node.describe(), dtype_name(x.dtype()));
  }
  ctx.outputs[0] = std::move(y);
}

}  // namespace ocs
