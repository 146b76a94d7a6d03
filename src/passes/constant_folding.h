// Constant folding for the fast plan: a node whose inputs are all constants (a
// DequantizeLinear of int8 weights, a Reshape of a constant, a Gather of split channels) gives
// the same result on every run, so the fast plan computes it once and the Conv / MatMul after
// it sees a constant weight (and keeps it in oneDNN's preferred layout).
//
// This is an engine optimization, not a graph pass: the Session keeps the graph it was given
// (what is evaluated is what is exported) and folds a private copy. The folded values keep
// their ValueIds; only the folded nodes disappear.
#pragma once

#include "ir/graph.h"

#include <cstdint>

namespace ocs {

// Folds, in topological order, every top-level node of the default domain whose inputs are all
// constant (or absent), that has no subgraph, is deterministic (no Random*, Multinomial,
// Bernoulli) and whose outputs hold at most 2^26 elements in all. Returns the number of
// nodes folded. A node whose kernel fails is left in place (the error then surfaces at run time
// with the input the user gave, as without folding).
int64_t fold_constants(Graph& graph);

}  // namespace ocs
