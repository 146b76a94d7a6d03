// What import makes of models as converters write them: node names empty or repeated
// (ir/node_names.h), nodes out of topological order (onnx/node_order.h), and networks that
// compute in float16 (onnx/half_to_float.h).
#include "core/error.h"
#include "core/half.h"
#include "engine/session.h"
#include "ir/node_names.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"

#include <gtest/gtest.h>

#include <set>

namespace ocs {
namespace {
using namespace ocs::testing;

// x -> Relu -> Relu -> Relu -> Relu -> y, with the four node names given.
onnx::ModelProto relu_chain(const std::vector<std::string>& names) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2});
  *g->add_output() = value_info("y", {2});
  std::string in = "x";
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string out = i + 1 == names.size() ? "y" : "v" + std::to_string(i);
    *g->add_node() = node("Relu", {in}, {out}, names[i]);
    in = out;
  }
  return m;
}

std::vector<std::string> node_names(const Graph& g) {
  std::vector<std::string> names;
  for (const Node& n : g.nodes) names.push_back(n.name);
  return names;
}

TEST(NodeNames, EmptyAndRepeatedNamesBecomeUniqueAndStable) {
  // The first node is unnamed, but its generated name Relu_0 is the fourth node's own name.
  Graph g = import_onnx_bytes(serialize(relu_chain({"", "a", "a", "Relu_0"})), ".", "m.onnx");
  EXPECT_EQ(node_names(g), (std::vector<std::string>{"Relu_0_2", "a", "a_2", "Relu_0"}));
  Graph again = import_onnx_bytes(serialize(relu_chain({"", "a", "a", "Relu_0"})), ".", "m.onnx");
  EXPECT_EQ(node_names(again), node_names(g));
  Graph unnamed = import_onnx_bytes(serialize(relu_chain({"", "", "", ""})), ".", "m.onnx");
  EXPECT_EQ(node_names(unnamed), (std::vector<std::string>{"Relu_0", "Relu_1", "Relu_2", "Relu_3"}));
}

// y = If(c) then {Identity(x)} else {Neg(x)}, every node unnamed.
onnx::ModelProto unnamed_if() {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("c", {}, onnx::TensorProto::BOOL);
  *g->add_input() = value_info("x", {2});
  *g->add_output() = value_info("y", {2});
  auto branch = [](const std::string& op, const std::string& out) {
    onnx::GraphProto b;
    b.set_name(op);
    *b.add_output() = value_info(out, {2});
    *b.add_node() = node(op, {"x"}, {out}, "");
    return b;
  };
  auto n = node("If", {"c"}, {"y"}, "");
  for (auto [key, op, out] : {std::tuple{"then_branch", "Identity", "t"}, std::tuple{"else_branch", "Neg", "e"}}) {
    auto* a = n.add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::GRAPH);
    *a->mutable_g() = branch(op, out);
  }
  *g->add_node() = n;
  return m;
}

TEST(NodeNames, SubgraphNodesArePrefixedByTheirOwner) {
  Graph g = import_onnx_bytes(serialize(unnamed_if()), ".", "m.onnx");
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_EQ(g.nodes[0].name, "If_0");
  EXPECT_EQ(g.nodes[0].attributes.at("then_branch").g->nodes[0].name, "If_0/then_branch/Identity_0");
  EXPECT_EQ(g.nodes[0].attributes.at("else_branch").g->nodes[0].name, "If_0/else_branch/Neg_0");
}

TEST(NodeNames, ExportWritesUniqueNamesWithoutTouchingTheGraph) {
  Graph g = import_onnx_bytes(serialize(unnamed_if()), ".", "m.onnx");
  Graph& branch = *g.nodes[0].attributes.at("then_branch").g;
  branch.nodes.push_back(branch.nodes[0]);  // a pass that repeats a name (and a value: rewired below)
  Value v = branch.values[branch.nodes[0].outputs[0]];
  v.name = "t2";
  branch.nodes[1].outputs = {branch.add_value(v)};
  branch.nodes[1].inputs = {branch.nodes[0].outputs[0]};
  branch.outputs = {branch.nodes[1].outputs[0]};
  onnx::ModelProto written;
  ASSERT_TRUE(written.ParseFromString(export_onnx_bytes(g)));
  const auto& body = written.graph().node(0).attribute(0).g();
  std::set<std::string> names;
  for (const auto& n : body.node()) EXPECT_TRUE(names.insert(n.name()).second) << n.name();
  EXPECT_EQ(branch.nodes[1].name, branch.nodes[0].name);  // the caller's graph is unchanged
}

TEST(NodeOrder, NodesOutOfOrderAreSortedAtImport) {
  // y = Neg(Relu(x)), the Neg written first; and an If whose branch reads a value that a node
  // written after the If produces.
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {3});
  *g->add_input() = value_info("c", {}, onnx::TensorProto::BOOL);
  *g->add_output() = value_info("z", {3});
  onnx::GraphProto then_branch;
  then_branch.set_name("then");
  *then_branch.add_output() = value_info("t", {3});
  *then_branch.add_node() = node("Identity", {"y"}, {"t"}, "id");
  onnx::GraphProto else_branch = then_branch;
  else_branch.set_name("else");
  else_branch.mutable_node(0)->set_op_type("Neg");
  auto n_if = node("If", {"c"}, {"z"}, "choose");
  for (auto [key, body] : {std::pair{"then_branch", &then_branch}, std::pair{"else_branch", &else_branch}}) {
    auto* a = n_if.add_attribute();
    a->set_name(key);
    a->set_type(onnx::AttributeProto::GRAPH);
    *a->mutable_g() = *body;
  }
  *g->add_node() = n_if;
  *g->add_node() = node("Neg", {"r"}, {"y"}, "neg");
  *g->add_node() = node("Relu", {"x"}, {"r"}, "relu");
  Graph graph = import_onnx_bytes(serialize(m), ".", "m.onnx");
  EXPECT_EQ(node_names(graph), (std::vector<std::string>{"relu", "neg", "choose"}));
  Session session(std::make_shared<const Graph>(graph));
  auto x = Tensor::from_vector<float>({3}, {-1.0f, 0.5f, 2.0f});
  auto yes = Tensor::from_vector<bool>({}, {true});
  const Tensor z = session.run({{"x", x}, {"c", yes}})[0];
  EXPECT_EQ(z.to_double_vector(), (std::vector<double>{0.0, -0.5, -2.0}));
}

TEST(NodeOrder, ACycleIsRefusedWithAMessage) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2});
  *g->add_output() = value_info("b", {2});
  *g->add_node() = node("Add", {"x", "b"}, {"a"}, "first");
  *g->add_node() = node("Relu", {"a"}, {"b"}, "second");
  EXPECT_THROW(import_onnx_bytes(serialize(m), ".", "m.onnx"), UserError);
}

// y = Relu(x + w) * c in float16: x and y float16, w a float16 initializer, c from a
// ConstantOfShape whose value is a float16 tensor.
onnx::ModelProto float16_model() {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {3}, onnx::TensorProto::FLOAT16);
  *g->add_output() = value_info("y", {3}, onnx::TensorProto::FLOAT16);
  Tensor w(DType::Float16, {3});
  const double wv[] = {0.1, -2.0, 1000.3};
  for (int i = 0; i < 3; ++i) w.data<Float16>()[i] = float16_from_double(wv[i]);
  tensor_to_proto(w, "w", g->add_initializer());
  tensor_to_proto(Tensor::from_vector<int64_t>({1}, {3}), "shape", g->add_initializer());
  Tensor c(DType::Float16, {1});
  c.data<Float16>()[0] = float16_from_double(0.3);
  auto fill = node("ConstantOfShape", {"shape"}, {"c"}, "");
  add_tensor_attribute(fill, "value", c);
  *g->add_node() = fill;
  *g->add_node() = node("Add", {"x", "w"}, {"s"}, "");
  *g->add_node() = node("Relu", {"s"}, {"r"}, "");
  *g->add_node() = node("Mul", {"r", "c"}, {"y"}, "");
  return m;
}

TEST(Float16Models, ComputeInFloat32AndKeepTheirInterface) {
  std::string said;
  ImportOptions options;
  options.note = [&](const std::string& text) { said += text; };
  const Graph g = import_onnx_bytes(serialize(float16_model()), ".", "half.onnx", options);
  EXPECT_NE(said.find("float32"), std::string::npos) << said;
  EXPECT_EQ(g.values[g.inputs[0]].dtype, DType::Float16);
  EXPECT_EQ(g.values[g.outputs[0]].dtype, DType::Float16);
  EXPECT_EQ(g.values[g.outputs[0]].name, "y");

  // Expected: the float16 values widened, the sums and products in float32, the result
  // rounded once to float16.
  const double xv[] = {-0.25, 3.5, 7.0};
  const double wv[] = {0.1, -2.0, 1000.3};
  Tensor x16(DType::Float16, {3});
  std::vector<uint16_t> want;
  for (int i = 0; i < 3; ++i) {
    x16.data<Float16>()[i] = float16_from_double(xv[i]);
    const float x = float16_to_float(float16_from_double(xv[i]));
    const float w = float16_to_float(float16_from_double(wv[i]));
    const float c = float16_to_float(float16_from_double(0.3));
    want.push_back(float16_from_double(std::max(x + w, 0.0f) * c).bits);
  }
  Session session(std::make_shared<const Graph>(g));
  Tensor x32(DType::Float32, {3});
  for (int i = 0; i < 3; ++i) x32.data<float>()[i] = static_cast<float>(xv[i]);
  for (const Tensor& x : {x16, x32}) {  // float32 data is taken for a float16 input too
    const Tensor y = session.run({{"x", x}})[0];
    ASSERT_EQ(y.dtype(), DType::Float16);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(y.data<Float16>()[i].bits, want[i]) << i;
  }
  // The model written back is valid ONNX with the same interface.
  onnx::ModelProto written;
  ASSERT_TRUE(written.ParseFromString(export_onnx_bytes(g)));
  EXPECT_EQ(written.graph().input(0).type().tensor_type().elem_type(), onnx::TensorProto::FLOAT16);
  EXPECT_EQ(written.graph().output(0).type().tensor_type().elem_type(), onnx::TensorProto::FLOAT16);
}

}  // namespace
}  // namespace ocs
