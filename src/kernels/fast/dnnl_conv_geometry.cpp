#include "kernels/fast/dnnl_conv_geometry.h"

#include "kernels/reference/nn_common.h"

namespace ocs {

namespace {

dnnl::memory::dims to_dims(const std::vector<int64_t>& v) { return dnnl::memory::dims(v.begin(), v.end()); }

}  // namespace

std::optional<DnnlConvGeometry> dnnl_conv_geometry(const Node& node, const Shape& x, const Shape& w,
                                                   bool transposed) {
  if (x.size() < 3 || w.size() != x.size()) return std::nullopt;
  const int64_t group = node.attr_int("group", 1);
  const int64_t in_channels = x[1];
  if (group < 1 || in_channels % group != 0) return std::nullopt;
  const Shape kernel = nn_spatial_dims(w);
  if (node.attr_ints("kernel_shape", kernel) != kernel) return std::nullopt;
  int64_t kernel_volume = 1;
  for (int64_t k : kernel) kernel_volume *= k;

  DnnlConvGeometry c;
  WindowGeometry g;
  std::vector<int64_t> pads_end;
  if (!transposed) {
    // ONNX W [M, C/group, k...] is exactly oneDNN's [G, M/G, C/G, k...] in row-major order.
    c.out_channels = w[0];
    if (w[1] * group != in_channels || c.out_channels % group != 0) return std::nullopt;
    g = nn_window_geometry(node, nn_spatial_dims(x), kernel, false);
    pads_end = g.pads_end;
    c.weight_dims = group == 1 ? Shape{c.out_channels, in_channels}
                               : Shape{group, c.out_channels / group, in_channels / group};
    c.weight_dims.insert(c.weight_dims.end(), kernel.begin(), kernel.end());
    c.weight_strides = shape_strides(c.weight_dims);
  } else {
    // ONNX W [C, M/group, k...] stored as (g, c_g, m_g, k); oneDNN wants dims [G, M/G, C/G, k...],
    // described with strides over the same buffer.
    if (w[0] != in_channels) return std::nullopt;
    const int64_t out_per_group = w[1];
    const int64_t in_per_group = in_channels / group;
    c.out_channels = out_per_group * group;
    g = nn_conv_transpose_geometry(node, nn_spatial_dims(x), kernel);
    for (size_t i = 0; i < g.spatial_rank(); ++i)
      pads_end.push_back((g.input[i] - 1) * g.strides[i] + g.dilated_kernel(i) - g.pads_begin[i] - g.output[i]);
    if (group == 1) {
      c.weight_dims = {c.out_channels, in_channels};
      c.weight_strides = {kernel_volume, out_per_group * kernel_volume};
    } else {
      c.weight_dims = {group, out_per_group, in_per_group};
      c.weight_strides = {in_per_group * out_per_group * kernel_volume, kernel_volume,
                          out_per_group * kernel_volume};
    }
    const std::vector<int64_t> kernel_strides = shape_strides(kernel);
    c.weight_dims.insert(c.weight_dims.end(), kernel.begin(), kernel.end());
    c.weight_strides.insert(c.weight_strides.end(), kernel_strides.begin(), kernel_strides.end());
  }
  for (int64_t d : g.output)
    if (d < 1) return std::nullopt;

  c.y_shape = {x[0], c.out_channels};
  c.y_shape.insert(c.y_shape.end(), g.output.begin(), g.output.end());
  std::vector<int64_t> dilates;
  for (int64_t d : g.dilations) dilates.push_back(d - 1);
  c.strides = to_dims(g.strides);
  c.dilates = to_dims(dilates);
  c.pads_begin = to_dims(g.pads_begin);
  c.pads_end = to_dims(pads_end);
  return c;
}

}  // namespace ocs
