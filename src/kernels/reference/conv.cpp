// Conv and ConvInteger: direct N-D convolution (1-D, 2-D, 3-D) with groups, strides, dilations
// and padding.
//
//   Y[n, m, out] = B[m] + sum_{c, k} (X[n, g*C_g + c, out*stride - pad_begin + k*dilation] - x_zero)
//                                    * (W[m, c, k] - w_zero[m])
// where g = m / M_g is the group of output channel m, C_g = C / group and M_g = M / group.
// Input positions outside X are padding and contribute zero.
#include "kernels/reference/nn_common.h"

#include <type_traits>

namespace ocs {

namespace {

// Shapes of one convolution, checked against each other.
struct ConvShapes {
  int64_t batch = 0;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t group = 1;
  Window3d window;
};

ConvShapes conv_check_shapes(const Node& node, const Tensor& x, const Tensor& w) {
  if (x.rank() < 3) user_error("{}: input X must have rank >= 3, got {}", node.describe(), shape_str(x.shape()));
  if (w.rank() != x.rank())
    user_error("{}: weight W {} and input X {} must have the same rank", node.describe(),
               shape_str(w.shape()), shape_str(x.shape()));
  ConvShapes s;
  s.batch = x.dim(0);
  s.in_channels = x.dim(1);
  s.out_channels = w.dim(0);
  s.group = node.attr_int("group", 1);
  if (s.group < 1 || s.in_channels % s.group != 0 || s.out_channels % s.group != 0 ||
      w.dim(1) * s.group != s.in_channels)
    user_error("{}: channels do not agree with group={}: X {} W {}", node.describe(), s.group,
               shape_str(x.shape()), shape_str(w.shape()));
  const Shape kernel = nn_spatial_dims(w.shape());
  const std::vector<int64_t> kernel_attr = node.attr_ints("kernel_shape", kernel);
  if (kernel_attr != kernel)
    user_error("{}: kernel_shape {} disagrees with W {}", node.describe(), shape_str(kernel_attr),
               shape_str(w.shape()));
  const WindowGeometry geometry = nn_window_geometry(node, nn_spatial_dims(x.shape()), kernel, false);
  s.window = nn_window_3d(node, geometry);
  return s;
}

Shape conv_output_shape(const Tensor& x, const ConvShapes& s) {
  Shape out{s.batch, s.out_channels};
  const size_t offset = 3 - static_cast<size_t>(x.rank() - 2);
  for (size_t i = offset; i < 3; ++i) out.push_back(s.window.output[i]);
  return out;
}

// The loop nest shared by Conv and ConvInteger. `Acc` is the accumulator type: double for
// floating point (so the reference is more accurate than any fast kernel it judges), int32 for
// ConvInteger (exact: ONNX defines the output as int32).
template <typename Acc, typename TX, typename TW, typename TY>
void conv_loops(const ConvShapes& s, const TX* x, const TW* w, Acc x_zero,
                const std::vector<Acc>& w_zero, const std::vector<Acc>& bias, TY* y) {
  const Window3d& win = s.window;
  const int64_t in_channels_per_group = s.in_channels / s.group;
  const int64_t out_channels_per_group = s.out_channels / s.group;
  const int64_t in_plane = win.input[0] * win.input[1] * win.input[2];
  const int64_t out_plane = win.output[0] * win.output[1] * win.output[2];
  const int64_t kernel_volume = win.kernel[0] * win.kernel[1] * win.kernel[2];

  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t out_c = 0; out_c < s.out_channels; ++out_c) {
      const int64_t g = out_c / out_channels_per_group;
      const TW* w_oc = w + out_c * in_channels_per_group * kernel_volume;
      TY* y_plane = y + (n * s.out_channels + out_c) * out_plane;
      for (int64_t out_z = 0; out_z < win.output[0]; ++out_z) {
        for (int64_t out_y = 0; out_y < win.output[1]; ++out_y) {
          for (int64_t out_x = 0; out_x < win.output[2]; ++out_x) {
            const int64_t in_z_origin = out_z * win.stride[0] - win.pad_begin[0];
            const int64_t in_y_origin = out_y * win.stride[1] - win.pad_begin[1];
            const int64_t in_x_origin = out_x * win.stride[2] - win.pad_begin[2];
            Acc acc = bias.empty() ? Acc(0) : bias[out_c];
            for (int64_t ic = 0; ic < in_channels_per_group; ++ic) {
              const int64_t in_c = g * in_channels_per_group + ic;
              const TX* x_plane = x + (n * s.in_channels + in_c) * in_plane;
              const TW* w_kernel = w_oc + ic * kernel_volume;
              for (int64_t k_z = 0; k_z < win.kernel[0]; ++k_z) {
                const int64_t in_z = in_z_origin + k_z * win.dilation[0];
                if (in_z < 0 || in_z >= win.input[0]) continue;
                for (int64_t k_y = 0; k_y < win.kernel[1]; ++k_y) {
                  const int64_t in_y = in_y_origin + k_y * win.dilation[1];
                  if (in_y < 0 || in_y >= win.input[1]) continue;
                  for (int64_t k_x = 0; k_x < win.kernel[2]; ++k_x) {
                    const int64_t in_x = in_x_origin + k_x * win.dilation[2];
                    if (in_x < 0 || in_x >= win.input[2]) continue;
                    const Acc x_value =
                        static_cast<Acc>(x_plane[(in_z * win.input[1] + in_y) * win.input[2] + in_x]) - x_zero;
                    const Acc w_value =
                        static_cast<Acc>(w_kernel[(k_z * win.kernel[1] + k_y) * win.kernel[2] + k_x]) -
                        w_zero[out_c];
                    acc += x_value * w_value;
                  }
                }
              }
            }
            y_plane[(out_z * win.output[1] + out_y) * win.output[2] + out_x] = static_cast<TY>(acc);
          }
        }
      }
    }
  }
}

}  // namespace

void nn_conv(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor& b = ctx.input(2);
  const ConvShapes s = conv_check_shapes(ctx.node, x, w);
  if (w.dtype() != x.dtype() || (b.defined() && b.dtype() != x.dtype()))
    user_error("{}: X, W and B must share an element type", ctx.node.describe());
  if (b.defined() && b.numel() != s.out_channels)
    user_error("{}: bias B {} must have {} entries", ctx.node.describe(), shape_str(b.shape()),
               s.out_channels);
  Tensor y(x.dtype(), conv_output_shape(x, s));
  auto run = [&](auto tag) {
    using T = decltype(tag);
    std::vector<double> bias;
    if (b.defined()) bias = b.to_double_vector();
    const std::vector<double> w_zero(static_cast<size_t>(s.out_channels), 0.0);
    conv_loops<double>(s, x.data<T>(), w.data<T>(), 0.0, w_zero, bias, y.data<T>());
  };
  switch (x.dtype()) {
    case DType::Float32: run(float{}); break;
    case DType::Float64: run(double{}); break;
    default: user_error("{}: Conv supports float32 and float64, got {}", ctx.node.describe(), dtype_name(x.dtype()));
  }
  ctx.outputs[0] = std::move(y);
}

// ConvInteger (opset 10): uint8/int8 inputs, int32 output, zero points subtracted first.
// x_zero_point is a scalar; w_zero_point is a scalar or one value per output channel.
void nn_conv_integer(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const ConvShapes s = conv_check_shapes(ctx.node, x, w);
  int32_t x_zero = 0;
  if (ctx.has_input(2)) {
    const Tensor& zp = ctx.input(2);
    if (zp.numel() != 1 || zp.dtype() != x.dtype())
      user_error("{}: x_zero_point must be a scalar of X's type", ctx.node.describe());
    x_zero = static_cast<int32_t>(zp.to_int64_vector()[0]);
  }
  std::vector<int32_t> w_zero(static_cast<size_t>(s.out_channels), 0);
  if (ctx.has_input(3)) {
    const Tensor& zp = ctx.input(3);
    const std::vector<int64_t> values = zp.to_int64_vector();
    if (zp.dtype() != w.dtype() || (values.size() != 1 && static_cast<int64_t>(values.size()) != s.out_channels))
      user_error("{}: w_zero_point must be a scalar or have one entry per output channel",
                 ctx.node.describe());
    for (int64_t m = 0; m < s.out_channels; ++m)
      w_zero[m] = static_cast<int32_t>(values.size() == 1 ? values[0] : values[m]);
  }
  Tensor y(DType::Int32, conv_output_shape(x, s));
  // Products of 8-bit values fit 16 bits; int32 sums overflow only beyond ~2^15 terms per output.
  auto with_x = [&](auto x_tag) {
    using TX = decltype(x_tag);
    auto with_w = [&](auto w_tag) {
      using TW = decltype(w_tag);
      conv_loops<int32_t>(s, x.data<TX>(), w.data<TW>(), x_zero, w_zero, {}, y.data<int32_t>());
    };
    if (w.dtype() == DType::UInt8) with_w(uint8_t{});
    else if (w.dtype() == DType::Int8) with_w(int8_t{});
    else user_error("{}: W must be uint8 or int8", ctx.node.describe());
  };
  if (x.dtype() == DType::UInt8) with_x(uint8_t{});
  else if (x.dtype() == DType::Int8) with_x(int8_t{});
  else user_error("{}: X must be uint8 or int8", ctx.node.describe());
  ctx.outputs[0] = std::move(y);
}

}  // namespace ocs
