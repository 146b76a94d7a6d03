// copy_convs: the channel copies of weight OCS, in the deployable layout, as 1x1 Convs with one-hot
// int8 rows (written by insert_qdq, QdqRewrite::gather_as_copy_conv), read back into a Gather on
// the codes for our engine.
//
// The form, on codes q of a Conv's input [N, C, H, W] with grid (s, z):
//   DequantizeLinear(q, s, z) -> Conv(W) -> QuantizeLinear(s, z)
// where W [C + k, C, 1, 1] = DequantizeLinear(one-hot int8 rows, scale 1, zero point 0) and no
// bias: output channel j is input channel idx[j], exactly. Our engine's int8 convolutions fuse a
// Gather of their input's codes (engine/int8_layers.cpp), so the Session reads the form back as
// Gather(q, idx, axis 1); without it each copy was one more convolution (det: 15.7 -> 19-21 ms).
#pragma once

#include "ir/graph.h"

#include <cstdint>

namespace ocs {

// Rewrites every chain of exactly that form into a Gather on the codes, adding no value and
// removing none (the Session matches weights in the original graph by value id). Returns how many.
int64_t read_copy_convs(Graph& graph);

}  // namespace ocs
