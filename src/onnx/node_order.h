// Node order at import. ONNX requires a graph's nodes in topological order, but converters
// sometimes append nodes at the end (an fp16 converter's Casts) and ONNX Runtime sorts such
// graphs and runs them; so do we, before the ONNX checker sees the model.
#pragma once

#include <onnx/onnx_pb.h>

namespace ocs {

// Puts the nodes of `graph` and of its subgraphs in an order where every value is produced
// before it is read (a subgraph's reads of enclosing values count as reads of its node),
// keeping the file's order wherever it already is one: Kahn's algorithm, lowest index first.
// Leaves a graph whose nodes form a cycle as it is (the checker then names the problem).
// Returns true when some order changed.
bool sort_nodes_topologically(onnx::GraphProto& graph);

}  // namespace ocs
