#include "ir/graph.h"

#include <algorithm>
#include <set>

namespace ocs {

int64_t Node::attr_int(const std::string& key, int64_t fallback) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.i;
}

float Node::attr_float(const std::string& key, float fallback) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.f;
}

std::string Node::attr_string(const std::string& key, const std::string& fallback) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.s;
}

std::vector<int64_t> Node::attr_ints(const std::string& key, std::vector<int64_t> fallback) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.ints;
}

std::vector<float> Node::attr_floats(const std::string& key, std::vector<float> fallback) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.floats;
}

const Attribute& Node::attr(const std::string& key) const {
  auto it = attributes.find(key);
  if (it == attributes.end())
    user_error("{} lacks its required attribute '{}'; re-export the model", describe(), key);
  return it->second;
}

std::string Node::describe() const {
  return fmt::format("{} node '{}'", op_type, name.empty() ? "<unnamed>" : name);
}

ValueId Graph::add_value(Value value) {
  values.push_back(std::move(value));
  return static_cast<ValueId>(values.size() - 1);
}

ValueId Graph::find_value(const std::string& name) const {
  for (size_t i = 0; i < values.size(); ++i)
    if (values[i].name == name) return static_cast<ValueId>(i);
  return kNoValue;
}

NodeId Graph::add_node(Node node) {
  nodes.push_back(std::move(node));
  return static_cast<NodeId>(nodes.size() - 1);
}

std::optional<NodeId> Graph::producer(ValueId value) const {
  for (size_t n = 0; n < nodes.size(); ++n)
    for (ValueId out : nodes[n].outputs)
      if (out == value) return static_cast<NodeId>(n);
  return std::nullopt;
}

static bool subgraph_reads(const Graph& g, const std::string& name) {
  for (const Value& v : g.values)
    if (v.outer_scope && v.name == name) return true;
  for (const Node& node : g.nodes)
    for (const auto& [key, attr] : node.attributes)
      if (attr.g && subgraph_reads(*attr.g, name)) return true;
  return false;
}

std::vector<NodeId> Graph::consumers(ValueId value) const {
  std::vector<NodeId> result;
  for (size_t n = 0; n < nodes.size(); ++n) {
    const Node& node = nodes[n];
    bool uses = std::find(node.inputs.begin(), node.inputs.end(), value) != node.inputs.end();
    for (const auto& [key, attr] : node.attributes)
      if (!uses && attr.g) uses = subgraph_reads(*attr.g, values[value].name);
    if (uses) result.push_back(static_cast<NodeId>(n));
  }
  return result;
}

bool Graph::is_graph_output(ValueId value) const {
  return std::find(outputs.begin(), outputs.end(), value) != outputs.end();
}

int64_t Graph::opset(const std::string& domain) const {
  auto it = opsets.find(domain == "ai.onnx" ? "" : domain);
  return it == opsets.end() ? 0 : it->second;
}

void Graph::verify() const {
  const ValueId count = static_cast<ValueId>(values.size());
  std::vector<bool> defined(values.size(), false);
  for (ValueId i = 0; i < count; ++i)
    if (values[i].constant || values[i].outer_scope) defined[i] = true;
  for (ValueId id : inputs) {
    OCS_CHECK(id >= 0 && id < count, "graph '{}' input id {} out of range", name, id);
    defined[id] = true;
  }
  for (const Value& v : values) {
    if (!v.constant) continue;
    OCS_CHECK(v.constant->dtype() == v.dtype, "constant '{}' holds {} but is typed {}", v.name,
              dtype_name(v.constant->dtype()), dtype_name(v.dtype));
    if (v.shape)
      OCS_CHECK(*v.shape == v.constant->shape(), "constant '{}' has shape {} but data {}", v.name,
                shape_str(*v.shape), shape_str(v.constant->shape()));
  }
  std::set<ValueId> produced;
  for (const Node& node : nodes) {
    for (ValueId in : node.inputs) {
      if (in == kNoValue) continue;
      OCS_CHECK(in >= 0 && in < count, "{} reads value id {} out of range", node.describe(), in);
      OCS_CHECK(defined[in], "{} reads '{}' before it is defined", node.describe(),
                values[in].name);
    }
    for (ValueId out : node.outputs) {
      if (out == kNoValue) continue;
      OCS_CHECK(out >= 0 && out < count, "{} writes value id {} out of range", node.describe(), out);
      OCS_CHECK(!values[out].constant, "{} writes constant '{}'", node.describe(), values[out].name);
      OCS_CHECK(produced.insert(out).second, "value '{}' has two producers", values[out].name);
      defined[out] = true;
    }
    for (const auto& [key, attr] : node.attributes)
      if (attr.g) attr.g->verify();
  }
  for (ValueId id : outputs) {
    OCS_CHECK(id >= 0 && id < count, "graph '{}' output id {} out of range", name, id);
    OCS_CHECK(defined[id], "graph output '{}' is never produced", values[id].name);
  }
}

}  // namespace ocs
