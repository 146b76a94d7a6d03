// convtranspose_chains: chains of ConvTransposes whose stride equals their kernel, as 1x1 Convs and
// one DepthToSpace, for the deployable QDQ layout (docs/QUANTIZE.md, "Two layouts"). ONNX Runtime
// runs ConvTranspose in float with its own slow kernel, and PP-OCRv4 det's head is two of them
// (24 -> 24 channels 2x2 stride 2, Relu, 24 -> 1 channel 2x2 stride 2, Sigmoid) that write a
// 24-channel map at 320x320 in between; as 1x1 Convs they are quantized layers like the others, and
// the 320x320 map is never formed (measured in docs/PERFORMANCE.md, issue #11).
//
// Why it is exact: a ConvTranspose with strides == kernel (k x k, one group, no pads, dilation 1)
// writes every output pixel from exactly one input pixel: y[m, k h + i, k w + j] =
// b[m] + sum_c W[c, m, i, j] x[c, h, w]. Keeping y as its k x k sub-images stacked on the channel
// axis, z[(i k + j) M + m, h, w] = y[m, k h + i, k w + j] (DepthToSpace's DCR order), z is a 1x1
// Conv of x. An element-wise op on y is the same op on z. A second such ConvTranspose (block k2)
// on y reads each sub-image pixel on its own, so it is a 1x1 Conv from z (block K) to z' (block
// K k2) whose weight is block-diagonal over the K x K sub-images. One DepthToSpace(K, DCR) at the
// end writes y. The sums are the same sums (zero weights add exact zeros).
//
// The chain: a ConvTranspose of that form, then any number of [element-wise unary ops -> another
// such ConvTranspose] while the stacked block stays at most kMaxBlock, then the element-wise unary
// ops after the last one; every value inside the chain is read by one node and is no graph output.
// Only chains of two or more ConvTransposes are rewritten: a lone one would become a Conv and a
// DepthToSpace of the same full-size output, which ONNX Runtime runs no faster than its
// ConvTranspose (measured).
#pragma once

#include "ir/graph.h"

#include <cstdint>

namespace ocs {

// Rewrites every chain; returns the number of ConvTranspose nodes it replaced.
int64_t convtranspose_chains_as_convs(Graph& graph);

}  // namespace ocs
