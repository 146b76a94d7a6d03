// How an ONNX Conv or ConvTranspose maps onto oneDNN's convolution and deconvolution: output
// shape, padding, dilation, and ONNX's weight buffer described in oneDNN's weight order. Shared by
// the plain fast kernel (dnnl_conv.cpp) and the layout-aware one (dnnl_layout.cpp).
#pragma once

#include "ir/graph.h"

#include <dnnl.hpp>

#include <optional>
#include <vector>

namespace ocs {

struct DnnlConvGeometry {
  int64_t out_channels = 0;  // M
  Shape y_shape;             // [N, M, output spatial...]
  // ONNX's weight buffer, unchanged, seen as oneDNN's [G,] M/G, C/G, k... (strides in elements).
  Shape weight_dims;
  std::vector<int64_t> weight_strides;
  // oneDNN's convention: dilation counted from 0, and the end padding that makes
  // in = (out + pad_l + pad_r - extent) / stride + 1 hold exactly (negative for a ConvTranspose
  // whose output_padding or output_shape adds positions at the end).
  dnnl::memory::dims strides, dilates, pads_begin, pads_end;
};

// `x` and `w` are the shapes of the data and weight inputs (same rank, at least 3). nullopt when
// they do not fit the node's attributes or give an empty output: the reference kernel then runs
// and reports any error in the model.
std::optional<DnnlConvGeometry> dnnl_conv_geometry(const Node& node, const Shape& x, const Shape& w,
                                                   bool transposed);

}  // namespace ocs
