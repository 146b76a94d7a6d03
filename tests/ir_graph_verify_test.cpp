// Graph::verify() against graphs that break each invariant it checks, built by hand: verify()
// must name the broken invariant (an InternalError), and must accept the same graph unbroken.
// Every pass and the importer rely on it to catch what they would otherwise corrupt silently.
#include "core/error.h"
#include "ir/graph.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace ocs {
namespace {

ValueId add_value(Graph& g, const std::string& name, std::optional<Tensor> constant = std::nullopt) {
  Value v;
  v.name = name;
  v.dtype = DType::Float32;
  if (constant) v.shape = constant->shape();
  v.constant = std::move(constant);
  return g.add_value(std::move(v));
}

Node make_node(const std::string& op, const std::string& name, std::vector<ValueId> in, std::vector<ValueId> out) {
  Node n;
  n.op_type = op;
  n.name = name;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}

// x -> Relu -> y;  Add(y, w) -> z (output), w a constant [2].
struct SmallGraph {
  Graph g;
  ValueId x, y, z, w;
  SmallGraph() {
    g.name = "small";
    g.opsets[""] = 13;
    x = add_value(g, "x");
    y = add_value(g, "y");
    z = add_value(g, "z");
    w = add_value(g, "w", Tensor::from_vector<float>({2}, {1.0f, 2.0f}));
    g.inputs = {x};
    g.add_node(make_node("Relu", "relu", {x}, {y}));
    g.add_node(make_node("Add", "add", {y, w}, {z}));
    g.outputs = {z};
  }
};

// verify() throws an InternalError whose message contains `expected`.
void expect_broken(const Graph& g, const std::string& expected) {
  try {
    g.verify();
    ADD_FAILURE() << "verify() accepted a graph that should fail with '" << expected << "'";
  } catch (const InternalError& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
  }
}

TEST(GraphVerify, AcceptsAValidGraph) {
  SmallGraph s;
  EXPECT_NO_THROW(s.g.verify());
  // An absent optional input, and an unused constant with no declared shape, are fine too.
  s.g.nodes[1].inputs.push_back(kNoValue);
  add_value(s.g, "spare", Tensor::from_vector<float>({1}, {0.0f}));
  s.g.values.back().shape.reset();
  EXPECT_NO_THROW(s.g.verify());
}

TEST(GraphVerify, InputIdOutOfRange) {
  for (ValueId bad : {ValueId{4}, ValueId{-2}, ValueId{1000}}) {
    SmallGraph s;
    s.g.inputs.push_back(bad);
    expect_broken(s.g, "input id " + std::to_string(bad) + " out of range");
  }
}

TEST(GraphVerify, ConstantWithAnotherTypeThanDeclared) {
  SmallGraph s;
  s.g.values[s.w].constant = Tensor::from_vector<int64_t>({2}, {1, 2});
  expect_broken(s.g, "constant 'w' holds int64 but is typed float32");
}

TEST(GraphVerify, ConstantWithAnotherShapeThanDeclared) {
  SmallGraph s;
  s.g.values[s.w].shape = Shape{3};
  expect_broken(s.g, "constant 'w' has shape [3] but data [2]");
}

TEST(GraphVerify, NodeReadsAnIdOutOfRange) {
  SmallGraph s;
  s.g.nodes[1].inputs[1] = 17;
  expect_broken(s.g, "reads value id 17 out of range");
}

TEST(GraphVerify, NodesOutOfTopologicalOrder) {
  SmallGraph s;
  std::swap(s.g.nodes[0], s.g.nodes[1]);  // Add reads y before Relu writes it
  expect_broken(s.g, "'add' reads 'y' before it is defined");
}

TEST(GraphVerify, NodeReadsAValueNothingDefines) {
  SmallGraph s;
  const ValueId orphan = add_value(s.g, "orphan");
  s.g.nodes[0].inputs[0] = orphan;
  expect_broken(s.g, "reads 'orphan' before it is defined");
}

TEST(GraphVerify, NodeWritesAnIdOutOfRange) {
  SmallGraph s;
  s.g.nodes[0].outputs.push_back(-7);
  expect_broken(s.g, "writes value id -7 out of range");
}

TEST(GraphVerify, NodeOverwritesAConstant) {
  SmallGraph s;
  s.g.nodes[0].outputs[0] = s.w;
  expect_broken(s.g, "writes constant 'w'");
}

TEST(GraphVerify, ValueWithTwoProducers) {
  SmallGraph s;
  s.g.add_node(make_node("Neg", "neg", {s.x}, {s.y}));
  expect_broken(s.g, "value 'y' has two producers");
  // Also when one node writes the same value twice.
  SmallGraph t;
  t.g.nodes[0].outputs.push_back(t.y);
  expect_broken(t.g, "value 'y' has two producers");
}

TEST(GraphVerify, OutputIdOutOfRange) {
  SmallGraph s;
  s.g.outputs.push_back(99);
  expect_broken(s.g, "output id 99 out of range");
}

TEST(GraphVerify, OutputNeverProduced) {
  SmallGraph s;
  s.g.outputs.push_back(add_value(s.g, "dangling"));
  expect_broken(s.g, "graph output 'dangling' is never produced");
}

// A subgraph is checked too; values it takes from the enclosing graph are marked outer_scope.
TEST(GraphVerify, ChecksSubgraphs) {
  auto body = std::make_shared<Graph>();
  body->name = "then_branch";
  const ValueId outer = add_value(*body, "y");
  body->values[outer].outer_scope = true;
  const ValueId result = add_value(*body, "then_out");
  body->add_node(make_node("Neg", "neg_in_branch", {outer}, {result}));
  body->outputs = {result};

  SmallGraph s;
  const ValueId cond = add_value(s.g, "cond");
  s.g.values[cond].dtype = DType::Bool;
  s.g.inputs.push_back(cond);
  const ValueId if_out = add_value(s.g, "if_out");
  Node if_node = make_node("If", "if", {cond}, {if_out});
  Attribute branch;
  branch.kind = Attribute::Kind::Graph;
  branch.g = body;
  if_node.attributes["then_branch"] = branch;
  if_node.attributes["else_branch"] = branch;
  s.g.add_node(std::move(if_node));
  EXPECT_NO_THROW(s.g.verify());

  body->values[outer].outer_scope = false;  // now the branch reads 'y' from nowhere
  expect_broken(s.g, "'neg_in_branch' reads 'y' before it is defined");
  body->values[outer].outer_scope = true;
  body->outputs.push_back(add_value(*body, "never_written"));
  expect_broken(s.g, "graph output 'never_written' is never produced");
}

}  // namespace
}  // namespace ocs
