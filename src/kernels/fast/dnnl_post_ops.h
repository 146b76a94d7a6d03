// oneDNN post-op chains shared by the layout kernels (dnnl_layout.cpp, dnnl_int8_conv.cpp): the
// element-wise functions of EltwiseOp, a sum, and the round trip of a quantized tensor,
// DequantizeLinear(QuantizeLinear(x)), as a clip to the code range and a round (half to even)
// times the scale. The values in front of a round trip must already be x / s: a kernel folds 1 / s
// into its output scales or appends it as a linear function.
#pragma once

#include "kernels/fast/dnnl_layout.h"

#include <vector>

namespace ocs {

// A sum (the destination's contents times `scale` added), or an element-wise function whose
// result is multiplied by `scale`.
struct DnnlPostOp {
  bool sum = false;
  dnnl::algorithm algorithm = dnnl::algorithm::eltwise_relu;
  float scale = 1.0f, alpha = 0.0f, beta = 0.0f;
};

dnnl::algorithm dnnl_eltwise_algorithm(EltwiseOp::Kind kind);
float dnnl_eltwise_alpha(const EltwiseOp& op);  // Relu has none
DnnlPostOp dnnl_post_op(const EltwiseOp& op);
// A fused chain's post-ops (engine/fusion.h) as they are: sums of scale 1, the functions.
std::vector<DnnlPostOp> dnnl_post_ops_from(const std::vector<PostOp>& chain);

// Appends `op`, composing a linear function with a linear one right before it (one float rounding
// away from the two).
void dnnl_push_merged(std::vector<DnnlPostOp>& ops, const DnnlPostOp& op);
// Appends Q -> DQ of a per-tensor grid (scale, zero point, code type uint8 or int8) on values
// that are x / scale: clip to [q_min - zero_point, q_max - zero_point], round, times the scale.
void dnnl_push_round_trip(std::vector<DnnlPostOp>& ops, float scale, int32_t zero_point, DType type);
// oneDNN 2.6 computes a repeated algorithm in one chain with the first one's constants
// (engine/fusion.h): such chains must not run.
bool dnnl_repeats_an_algorithm(const std::vector<DnnlPostOp>& ops);
dnnl::post_ops dnnl_post_ops_of(const std::vector<DnnlPostOp>& ops);

}  // namespace ocs
