// The engine: running a graph, checking inputs at the boundary, the observer hook, If
// subgraphs reading outer-scope values, and fast vs reference kernels giving the same result.
#include "engine/session.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"

#include <gtest/gtest.h>

namespace ocs {
namespace {
using namespace ocs::testing;

std::shared_ptr<const Graph> load(const onnx::ModelProto& m) {
  return std::make_shared<const Graph>(import_onnx_bytes(serialize(m), ".", "test model"));
}

TEST(Session, RunsAddMulAgainstHandComputedValues) {
  Session session(load(add_mul_model()));
  Tensor x = Tensor::from_vector<float>({2, 3}, {0, 1, 2, 3, 4, 5});
  auto out = session.run({{"x", x}});
  ASSERT_EQ(out.size(), 1u);
  // (x + w) * c with w = 1..6 and c = [10, 20, 30] broadcast over rows.
  EXPECT_EQ(out[0].to_vector<float>(), (std::vector<float>{10, 60, 150, 70, 180, 330}));
}

TEST(Session, ObserverSeesEveryValueOnce) {
  Session session(load(add_mul_model()));
  std::vector<std::string> seen;
  session.run({{"x", Tensor(DType::Float32, {2, 3})}},
              [&](const Graph& g, ValueId id, const Tensor&) { seen.push_back(g.values[id].name); });
  EXPECT_EQ(seen, (std::vector<std::string>{"x", "y", "z"}));
}

TEST(Session, BadInputsAreUserErrors) {
  Session session(load(add_mul_model()));
  EXPECT_THROW(session.run({}), UserError);                                          // missing
  EXPECT_THROW(session.run({{"x", Tensor(DType::Float32, {3, 2})}}), UserError);     // shape
  EXPECT_THROW(session.run({{"x", Tensor(DType::Int64, {2, 3})}}), UserError);       // type
  EXPECT_THROW(session.run({{"x", Tensor(DType::Float32, {2, 3})}, {"nope", Tensor(DType::Float32, {1})}}),
               UserError);                                                           // unknown
}

// out = If(cond) then (x + w) else (x - w), where w is an initializer of the main graph that
// both branches read from the outer scope (as Silero VAD's branches do).
onnx::ModelProto if_model() {
  onnx::ModelProto m = model();
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("cond", {}, onnx::TensorProto::BOOL);
  *g->add_input() = value_info("x", {3});
  *g->add_output() = value_info("out", {3});
  tensor_to_proto(Tensor::from_vector<float>({3}, {1, 2, 3}), "w", g->add_initializer());
  auto branch = [](const std::string& op, const std::string& name) {
    onnx::GraphProto b;
    b.set_name(name);
    *b.add_node() = node(op, {"x", "w"}, {name + "_y"}, name + "_node");
    *b.add_output() = value_info(name + "_y", {3});
    return b;
  };
  auto n = node("If", {"cond"}, {"out"}, "the_if");
  auto* then_attr = n.add_attribute();
  then_attr->set_name("then_branch");
  then_attr->set_type(onnx::AttributeProto::GRAPH);
  *then_attr->mutable_g() = branch("Add", "then");
  auto* else_attr = n.add_attribute();
  else_attr->set_name("else_branch");
  else_attr->set_type(onnx::AttributeProto::GRAPH);
  *else_attr->mutable_g() = branch("Sub", "else");
  *g->add_node() = n;
  return m;
}

TEST(Session, IfRunsTheChosenBranchWithOuterScopeValues) {
  auto graph = load(if_model());
  Session session(graph);
  Tensor x = Tensor::from_vector<float>({3}, {10, 10, 10});
  auto then_out = session.run({{"cond", Tensor::scalar<bool>(true)}, {"x", x}});
  EXPECT_EQ(then_out[0].to_vector<float>(), (std::vector<float>{11, 12, 13}));
  auto else_out = session.run({{"cond", Tensor::scalar<bool>(false)}, {"x", x}});
  EXPECT_EQ(else_out[0].to_vector<float>(), (std::vector<float>{9, 8, 7}));
}

TEST(Session, IfSurvivesExportAndImport) {
  Graph first = import_onnx_bytes(serialize(if_model()), ".", "if model");
  auto again = std::make_shared<const Graph>(import_onnx_bytes(export_onnx_bytes(first), ".", "exported"));
  Session session(again);
  auto out = session.run({{"cond", Tensor::scalar<bool>(false)}, {"x", Tensor::from_vector<float>({3}, {0, 0, 0})}});
  EXPECT_EQ(out[0].to_vector<float>(), (std::vector<float>{-1, -2, -3}));
}

}  // namespace
}  // namespace ocs
