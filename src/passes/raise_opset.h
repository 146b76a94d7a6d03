// raise_opset: moves a model to a higher default-domain opset without changing what it computes,
// for the passes that add ops of a later opset (insert_qdq: QuantizeLinear/DequantizeLinear need
// opset 10, Round 11, per-axis scales 13; fuse_hardswish: HardSwish 14).
//
// Most ops mean the same from opset 7 to 14 (a table in raise_opset.cpp). The conversions:
//   Slice below 10       starts/ends/axes attributes -> int64 constant inputs
//   Clip below 11        min/max attributes -> float constant inputs (absent: +-largest float)
//   at 13                Squeeze/Unsqueeze/ReduceSum `axes` and Split `split` attributes ->
//                        int64 constant inputs; Softmax/LogSoftmax/Hardmax on a last axis keep
//                        their meaning with the axis made explicit, otherwise the old
//                        "flatten at axis" meaning is spelled out as
//                        Reshape(op(Flatten(x, axis), axis 1), Shape(x))
// Any other op that changed meaning on the way (Pad, Resize, TopK, ...), a subgraph, or
// BatchNormalization's removed `spatial` attribute blocks the move.
#pragma once

#include "ir/graph.h"

#include <cstdint>
#include <string>

namespace ocs {

// Why the model cannot move from its opset to `target`; empty when it can.
std::string opset_blocker(const Graph& graph, int64_t target);

// Raises the default-domain opset to `target` (no-op when already there) and the IR version to
// the one that introduced it. `why` names what needs the opset in the UserError raised when
// opset_blocker() is not empty; the graph is unchanged then.
void raise_opset(Graph& graph, int64_t target, const std::string& why);

}  // namespace ocs
