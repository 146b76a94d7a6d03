#include "kernels/reference/nn_common.h"

namespace ocs {

AutoPad nn_read_auto_pad(const Node& node) {
  const std::string value = node.attr_string("auto_pad", "NOTSET");
  if (value == "NOTSET" || value.empty()) return AutoPad::NotSet;
  if (value == "SAME_UPPER") return AutoPad::SameUpper;
  if (value == "SAME_LOWER") return AutoPad::SameLower;
  if (value == "VALID") return AutoPad::Valid;
  user_error("{}: unknown auto_pad '{}' (expected NOTSET, SAME_UPPER, SAME_LOWER or VALID)",
             node.describe(), value);
}

Shape nn_spatial_dims(const Shape& shape) {
  OCS_CHECK(shape.size() >= 2, "shape {} has no channel axis", shape_str(shape));
  return Shape(shape.begin() + 2, shape.end());
}

// Reads a per-axis attribute of `count` entries, defaulting every entry to `fallback`.
static std::vector<int64_t> read_per_axis(const Node& node, const std::string& key, size_t count,
                                          int64_t fallback) {
  std::vector<int64_t> values = node.attr_ints(key, std::vector<int64_t>(count, fallback));
  if (values.size() != count)
    user_error("{}: attribute {} has {} entries, expected {}", node.describe(), key, values.size(),
               count);
  return values;
}

// Fills the strides, dilations and explicit pads shared by every windowed op.
static WindowGeometry read_window_attributes(const Node& node, const Shape& input_spatial,
                                             const Shape& kernel) {
  const size_t rank = input_spatial.size();
  if (kernel.size() != rank)
    user_error("{}: kernel has {} spatial axes but the input has {}", node.describe(),
               kernel.size(), rank);
  WindowGeometry g;
  g.input = input_spatial;
  g.kernel = kernel;
  g.strides = read_per_axis(node, "strides", rank, 1);
  g.dilations = read_per_axis(node, "dilations", rank, 1);
  std::vector<int64_t> pads = read_per_axis(node, "pads", 2 * rank, 0);
  g.pads_begin.assign(pads.begin(), pads.begin() + rank);
  g.pads_end.assign(pads.begin() + rank, pads.end());
  for (size_t i = 0; i < rank; ++i) {
    if (g.strides[i] < 1 || g.dilations[i] < 1 || g.kernel[i] < 1)
      user_error("{}: strides, dilations and kernel sizes must be positive", node.describe());
    if (g.pads_begin[i] < 0 || g.pads_end[i] < 0)
      user_error("{}: negative pads are not supported", node.describe());
  }
  return g;
}

// Splits `total` padding between begin and end; SAME_UPPER puts the odd one at the end.
static void split_same_padding(AutoPad auto_pad, int64_t total, int64_t& begin, int64_t& end) {
  const int64_t smaller = total / 2;
  begin = auto_pad == AutoPad::SameUpper ? smaller : total - smaller;
  end = total - begin;
}

WindowGeometry nn_window_geometry(const Node& node, const Shape& input_spatial, const Shape& kernel,
                                  bool ceil_mode) {
  WindowGeometry g = read_window_attributes(node, input_spatial, kernel);
  const AutoPad auto_pad = nn_read_auto_pad(node);
  const size_t rank = g.spatial_rank();
  g.output.assign(rank, 0);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t in = g.input[i];
    const int64_t stride = g.strides[i];
    const int64_t extent = g.dilated_kernel(i);
    if (auto_pad == AutoPad::SameUpper || auto_pad == AutoPad::SameLower) {
      // Output covers ceil(in / stride) windows; pad just enough for the last one to fit.
      g.output[i] = (in + stride - 1) / stride;
      const int64_t total = std::max<int64_t>(0, (g.output[i] - 1) * stride + extent - in);
      split_same_padding(auto_pad, total, g.pads_begin[i], g.pads_end[i]);
      continue;
    }
    if (auto_pad == AutoPad::Valid) g.pads_begin[i] = g.pads_end[i] = 0;
    const int64_t padded = in + g.pads_begin[i] + g.pads_end[i];
    if (padded < extent)
      user_error("{}: window of extent {} does not fit the padded input of size {} on spatial axis {}",
                 node.describe(), extent, padded, i);
    const int64_t span = padded - extent;
    g.output[i] = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
    // Rounding up may add a window that starts in the end padding; ONNX drops it.
    if (ceil_mode && (g.output[i] - 1) * stride >= in + g.pads_begin[i]) --g.output[i];
  }
  return g;
}

WindowGeometry nn_conv_transpose_geometry(const Node& node, const Shape& input_spatial,
                                          const Shape& kernel) {
  WindowGeometry g = read_window_attributes(node, input_spatial, kernel);
  const AutoPad auto_pad = nn_read_auto_pad(node);
  const size_t rank = g.spatial_rank();
  const std::vector<int64_t> output_padding = read_per_axis(node, "output_padding", rank, 0);
  // output_shape may list only the spatial axes or every axis (N, C first).
  std::vector<int64_t> output_shape = node.attr_ints("output_shape");
  if (output_shape.size() == rank + 2) output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  if (!output_shape.empty() && output_shape.size() != rank)
    user_error("{}: output_shape has {} entries for {} spatial axes", node.describe(),
               output_shape.size(), rank);
  g.output.assign(rank, 0);
  for (size_t i = 0; i < rank; ++i) {
    // Size of the full (unpadded) transposed convolution along this axis.
    const int64_t full = g.strides[i] * (g.input[i] - 1) + output_padding[i] + g.dilated_kernel(i);
    if (!output_shape.empty() || auto_pad == AutoPad::SameUpper || auto_pad == AutoPad::SameLower) {
      g.output[i] = output_shape.empty() ? g.input[i] * g.strides[i] : output_shape[i];
      // A requested output larger than `full` is padded at the end with bias-only positions.
      const int64_t total = std::max<int64_t>(0, full - g.output[i]);
      split_same_padding(auto_pad == AutoPad::SameLower ? AutoPad::SameLower : AutoPad::SameUpper,
                         total, g.pads_begin[i], g.pads_end[i]);
      continue;
    }
    if (auto_pad == AutoPad::Valid) g.pads_begin[i] = g.pads_end[i] = 0;
    g.output[i] = full - g.pads_begin[i] - g.pads_end[i];
    if (g.output[i] < 1)
      user_error("{}: pads leave an empty output on spatial axis {}", node.describe(), i);
  }
  return g;
}

Window3d nn_window_3d(const Node& node, const WindowGeometry& g) {
  const size_t rank = g.spatial_rank();
  if (rank > 3) user_error("{}: at most 3 spatial axes are supported, got {}", node.describe(), rank);
  Window3d w;
  const size_t offset = 3 - rank;
  for (size_t i = 0; i < rank; ++i) {
    w.input[offset + i] = g.input[i];
    w.kernel[offset + i] = g.kernel[i];
    w.stride[offset + i] = g.strides[i];
    w.dilation[offset + i] = g.dilations[i];
    w.pad_begin[offset + i] = g.pads_begin[i];
    w.pad_end[offset + i] = g.pads_end[i];
    w.output[offset + i] = g.output[i];
  }
  return w;
}

}  // namespace ocs
