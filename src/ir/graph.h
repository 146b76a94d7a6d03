// The graph IR: an index-based graph that passes can rewrite.
//
//  - Values are identified by ValueId (an index into Graph::values). A value has a name, an
//    element type, an optional static shape (dims of -1 are unknown) and, for weights, constant
//    data. Import hoists ONNX `Constant` nodes into constant values.
//  - Nodes refer to values by id; an absent optional input is kNoValue.
//  - Producers and consumers are derived (producer(), consumers()), never stored twice.
//  - A subgraph (If/Loop body) is a Graph held in an attribute. A subgraph value that the body
//    reads from an enclosing graph is marked `outer_scope` and resolved by name at run time.
#pragma once

#include "core/tensor.h"
#include "ir/attribute.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ocs {

using ValueId = int32_t;
using NodeId = int32_t;
inline constexpr ValueId kNoValue = -1;

struct Value {
  std::string name;
  DType dtype = DType::Undefined;
  std::optional<Shape> shape;      // rank known when set; a dim of -1 is unknown
  std::optional<Tensor> constant;  // weights and hoisted Constant nodes
  bool outer_scope = false;        // defined by an enclosing graph (subgraphs only)
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" is the default ONNX domain
  std::vector<ValueId> inputs;
  std::vector<ValueId> outputs;
  std::map<std::string, Attribute> attributes;

  bool has_attr(const std::string& key) const { return attributes.count(key) != 0; }
  int64_t attr_int(const std::string& key, int64_t fallback) const;
  float attr_float(const std::string& key, float fallback) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> fallback = {}) const;
  std::vector<float> attr_floats(const std::string& key, std::vector<float> fallback = {}) const;
  // Throws UserError naming this node when a required attribute is missing.
  const Attribute& attr(const std::string& key) const;
  // "Conv 'conv1'" for messages.
  std::string describe() const;
};

struct Graph {
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;  // topological order after import (verify() checks it)
  std::vector<ValueId> inputs;   // runtime inputs only (initializers are constant values)
  std::vector<ValueId> outputs;
  std::map<std::string, int64_t> opsets;  // domain -> version (top-level graph)
  int64_t ir_version = 8;
  std::string producer_name;

  ValueId add_value(Value value);
  // Finds a value by name; kNoValue when absent.
  ValueId find_value(const std::string& name) const;
  NodeId add_node(Node node);  // appends; caller keeps topological order

  // Derived lookups (linear scans; graphs here have at most a few thousand nodes).
  std::optional<NodeId> producer(ValueId value) const;
  std::vector<NodeId> consumers(ValueId value) const;  // includes uses inside subgraphs by name
  bool is_graph_output(ValueId value) const;
  int64_t opset(const std::string& domain = "") const;

  // Checks the invariants: every input defined before use, one producer per value, ids in range,
  // constants' shapes agree with their data. Throws InternalError describing the first failure.
  void verify() const;
};

}  // namespace ocs
