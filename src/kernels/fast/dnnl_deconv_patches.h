// ConvTranspose as one matrix product per kernel row, when its strides equal its kernel: each
// input pixel then writes its own patch of the output (dnnl_deconv_patches.cpp).
#pragma once

#include "kernels/fast/dnnl_layout.h"

namespace ocs {

// True when `node` is a ConvTranspose (2-D, one group) whose strides equal its kernel (`w_shape`:
// [C, M, kh, kw]) with no padding, dilation, output padding or output shape.
bool dnnl_deconv_is_patchwise(const Node& node, const Shape& w_shape);

// That ConvTranspose with float32 constant weights [C, M, kh, kw] and bias [M] (or undefined),
// followed by element-wise `post_ops`, writing a channels-last float32 output; nullptr when the
// node is not patchwise or a post-op is a sum.
std::unique_ptr<LayoutKernel> dnnl_make_layout_patch_deconv(const Node& node, Tensor weights, Tensor bias,
                                                            std::vector<PostOp> post_ops);

}  // namespace ocs
