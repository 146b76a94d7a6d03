// Small graph-editing helpers shared by the passes that insert nodes (insert_qdq,
// ocs_split_activations): fresh names, new constants and activations, nodes, attributes, and
// removing constants a rewrite left unread.
#pragma once

#include "ir/graph.h"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ocs {

// Unique value and node names: the model's names plus the ones a pass creates.
class NameTable {
 public:
  explicit NameTable(const Graph& graph);
  std::string fresh(const std::string& base);

 private:
  std::set<std::string> used_;
};

ValueId add_constant(Graph& graph, NameTable& names, const std::string& base, Tensor tensor);
ValueId add_activation(Graph& graph, NameTable& names, const std::string& base, DType dtype,
                       const std::optional<Shape>& shape);
Node make_node(NameTable& names, const std::string& op, const std::string& base,
               std::vector<ValueId> inputs, std::vector<ValueId> outputs);
Attribute int_attribute(int64_t value);
Attribute float_attribute(float value);
// Removes the `candidates` that are constants nothing reads any more, renumbering value ids.
void drop_unused_constants(Graph& graph, const std::set<ValueId>& candidates);

}  // namespace ocs
