// Node names identify layers in reports, in `--exclude`, in messages and in the exported file.
// ONNX allows them empty or repeated (converters and hand-built graphs often leave them so), so
// nothing in ocs may rely on the names a model brings: import gives every node a name unique
// in the whole model, subgraphs included, and export writes unique names whatever a pass did.
//
// The rule, stable for a given model:
//  - a node keeps its name when it is non-empty and no earlier node (depth-first, graph order)
//    took it;
//  - an unnamed node gets `<op_type>_<index>` (its index in its own graph), prefixed inside a
//    subgraph by `<owner>/<attribute>/` (the If node and its branch: `If_3/then_branch/Conv_0`);
//  - a repeated name, or a generated one that is already taken, gets `_2`, `_3`, ... appended.
#pragma once

#include "ir/graph.h"

namespace ocs {

// Renames the nodes of `graph` and of its subgraphs by the rule above. Returns how many nodes
// were renamed.
int64_t make_node_names_unique(Graph& graph);

}  // namespace ocs
