// float16 / bfloat16 models at import. ocs's kernels compute in float32 (and the integer
// types); a model that computes in a 16-bit float is imported as the same network computing in
// float32: every 16-bit weight is widened (exactly), every 16-bit value inside the graph becomes
// float32, and the model keeps its interface: a 16-bit graph input is read through a Cast to
// float32, a 16-bit graph output is written through a Cast back to its type. Results differ
// from a 16-bit engine's only by the 16-bit roundings that float32 does not make.
#pragma once

#include "ir/graph.h"

namespace ocs {

// True when some value of `graph` or of its subgraphs is (or is declared as) a 16-bit float.
bool has_half_values(const Graph& graph);

// Rewrites `graph` as described above. Returns the number of values that changed type.
int64_t compute_half_in_float(Graph& graph);

}  // namespace ocs
