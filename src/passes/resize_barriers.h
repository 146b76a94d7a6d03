// resize_barriers: nearest upsamplings of the deployable QDQ layout in the form ONNX Runtime runs
// fast (docs/QUANTIZE.md, "Two layouts"; measured in docs/PERFORMANCE.md, issue #11).
//
// ORT drops the DequantizeLinear/QuantizeLinear pair around a Resize with equal grids and runs it
// on the uint8 codes, and its layout optimizer moves it channels-last next to the int8 Convs. Its
// channels-last nearest Resize is a generic per-element loop (PP-OCRv4 det's six: 6.6 ms of 41 per
// run), while channels-first with scales [1, 1, 2, 2] it has a copy loop 20x faster. So each
// nearest Resize by a power-of-two factor f (asymmetric coordinates, floor: the other modes read
// other pixels) that reads a DequantizeLinear becomes:
//   x -> Reshape(x, Shape(x)) -> Resize(x2) -> ... (log2 f times) -> y
// The Reshape to its own shape changes nothing, but ORT's layout optimizer does not move a
// transpose through it, so the Resizes stay channels-first (with one Transpose back after them).
// Nearest with floor composes exactly: floor(floor(x / 2) / 2) = floor(x / 4).
// Our engine skips such Reshapes (passes/identity_reshapes.h) and runs the same steps as before.
#pragma once

#include "ir/graph.h"

#include <cstdint>

namespace ocs {

// Rewrites every such Resize; returns how many.
int64_t add_resize_barriers(Graph& graph);

}  // namespace ocs
