// fuse_hardswish: Paddle's expanded HardSwish, x * Clip(x + 3, 0, 6) / 6, as one HardSwish node
// (opset 14), for the deployable QDQ layout (docs/QUANTIZE.md, "Two layouts"). ONNX Runtime runs
// the four float ops between the 8-bit tensors as four passes over the data; one HardSwish is
// one (measured in docs/PERFORMANCE.md, "ORT: PP-OCRv4 det").
//
// The pattern, checked exactly: Add(x, 3) (either input order) -> Clip(0, 6) (bounds as
// attributes or constant inputs) -> Mul(x, clip) (either order) -> Div(., 6), each intermediate
// read only by the next node and no graph output. HardSwish computes x * max(0, min(1, x / 6 +
// 1/2)), the same function; in float32 the two orders of rounding differ by a few ulps.
// The model is raised to opset 14 when it is below (passes/raise_opset.h); when it cannot be
// raised (an op that changed meaning on the way), nothing changes.
#pragma once

#include "ir/graph.h"

#include <cstdint>

namespace ocs {

// Rewrites every match; returns how many (0 when none, or when the opset cannot be raised).
int64_t fuse_hardswish(Graph& graph);

}  // namespace ocs
