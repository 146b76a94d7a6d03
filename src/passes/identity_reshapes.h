// skip_identity_reshapes: Reshape(x, Shape(x)) read as x, for the fast plan. The deployable export
// writes such Reshapes in front of nearest Resizes to keep ONNX Runtime's layout optimizer from
// moving them channels-last (passes/resize_barriers.h); to our engine they would be a step that
// turns a value in a oneDNN layout back into a plain tensor.
//
// Like constant folding (passes/constant_folding.h), an engine optimization on the Session's
// private copy: the graph given keeps its nodes. A Reshape whose output is a graph output stays.
#pragma once

#include "ir/graph.h"

#include <cstdint>

namespace ocs {

// Rewires the readers of every such Reshape to its input and removes it (and its Shape, when
// nothing else reads it). Returns the number of Reshapes removed.
int64_t skip_identity_reshapes(Graph& graph);

}  // namespace ocs
