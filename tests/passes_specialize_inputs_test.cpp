// specialize_inputs: fixed inputs become constants, Ifs with a now-constant condition are inlined
// (nested ones too, including conditions on shapes), and the graph computes what the original
// computed for the fixed values. Silero VAD with sr fixed has its LSTMs at top level, where
// unroll_recurrent unrolls them, and still gives the original's outputs.
#include "engine/session.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"
#include "ort_runner.h"
#include "passes/graph_edit.h"
#include "passes/specialize_inputs.h"
#include "passes/unroll_recurrent.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

namespace ocs {
namespace {
using namespace ocs::testing;

onnx::AttributeProto* graph_attribute(onnx::NodeProto& n, const std::string& key) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::GRAPH);
  return a;
}

onnx::NodeProto constant_node(const std::string& out, const Tensor& t) {
  auto n = node("Constant", {}, {out}, "make_" + out);
  add_tensor_attribute(n, "value", t);
  return n;
}

// mode (int64 scalar) selects, like Silero's sr:
//   mode == 1:  inner = If(Shape(x)[0] == 2) then x * w else Identity(x)   (a shape condition)
//               out = inner + x, side = w (a branch output that is an outer value)
//   otherwise:  out = x - w, side = Neg(w)
onnx::ModelProto nested_if_model() {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, 3});
  *g->add_input() = value_info("mode", {}, onnx::TensorProto::INT64);
  *g->add_output() = value_info("out", {2, 3});
  *g->add_output() = value_info("side", {3});
  tensor_to_proto(Tensor::from_vector<float>({3}, {2, -3, 0.5f}), "w", g->add_initializer());
  tensor_to_proto(Tensor::scalar<int64_t>(1), "one", g->add_initializer());
  *g->add_node() = node("Equal", {"mode", "one"}, {"cond"}, "is_mode_one");
  auto n = node("If", {"cond"}, {"out", "side"}, "outer_if");

  onnx::GraphProto then_g;
  then_g.set_name("then");
  *then_g.add_node() = constant_node("axis0", Tensor::scalar<int64_t>(0));
  *then_g.add_node() = constant_node("two", Tensor::scalar<int64_t>(2));
  *then_g.add_node() = node("Shape", {"x"}, {"x_shape"}, "shape_of_x");
  *then_g.add_node() = node("Gather", {"x_shape", "axis0"}, {"rows"}, "rows_of_x");
  *then_g.add_node() = node("Equal", {"rows", "two"}, {"two_rows"}, "has_two_rows");
  auto inner = node("If", {"two_rows"}, {"inner"}, "inner_if");
  onnx::GraphProto inner_then;
  inner_then.set_name("inner_then");
  *inner_then.add_node() = node("Mul", {"x", "w"}, {"scaled"}, "scale");
  *inner_then.add_output() = value_info("scaled", {2, 3});
  *graph_attribute(inner, "then_branch")->mutable_g() = inner_then;
  onnx::GraphProto inner_else;
  inner_else.set_name("inner_else");
  *inner_else.add_node() = node("Identity", {"x"}, {"same"}, "keep");
  *inner_else.add_output() = value_info("same", {2, 3});
  *graph_attribute(inner, "else_branch")->mutable_g() = inner_else;
  *then_g.add_node() = inner;
  *then_g.add_node() = node("Add", {"inner", "x"}, {"sum"}, "add_x");
  *then_g.add_output() = value_info("sum", {2, 3});
  *then_g.add_output() = value_info("w", {3});
  *graph_attribute(n, "then_branch")->mutable_g() = then_g;

  onnx::GraphProto else_g;
  else_g.set_name("else");
  *else_g.add_node() = node("Sub", {"x", "w"}, {"diff"}, "sub_w");
  *else_g.add_node() = node("Neg", {"w"}, {"minus_w"}, "neg_w");
  *else_g.add_output() = value_info("diff", {2, 3});
  *else_g.add_output() = value_info("minus_w", {3});
  *graph_attribute(n, "else_branch")->mutable_g() = else_g;
  *g->add_node() = n;
  return m;
}

std::vector<Tensor> run(const Graph& graph, const std::map<std::string, Tensor>& inputs) {
  Session session(std::make_shared<const Graph>(graph));
  return session.run(inputs);
}

TEST(SpecializeInputs, InlinesNestedIfsAndKeepsTheOutputs) {
  const Graph original = import_onnx_bytes(serialize(nested_if_model()), ".", "nested if model");
  const Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, -4, 5, -6});
  for (int64_t mode : {1, 0}) {
    SCOPED_TRACE("mode " + std::to_string(mode));
    Graph graph = original;
    const SpecializeStats stats = specialize_inputs(graph, {{{"mode", std::to_string(mode)}}, {}});
    EXPECT_EQ(stats.inputs_fixed, 1);
    EXPECT_EQ(count_ops(graph, "If"), 0);
    EXPECT_EQ(stats.ifs_inlined, mode == 1 ? 2 : 1);  // the inner If only exists in the then branch
    ASSERT_EQ(graph.inputs.size(), 1u);
    EXPECT_EQ(graph.values[graph.inputs[0]].name, "x");
    EXPECT_EQ(graph.values[graph.outputs[0]].name, "out");  // output names survive inlining
    EXPECT_EQ(graph.values[graph.outputs[1]].name, "side");
    if (mode == 1) EXPECT_EQ(count_ops(graph, "Mul"), 1);  // Shape(x)[0] == 2 chose x * w

    const auto want = run(original, {{"x", x}, {"mode", Tensor::scalar<int64_t>(mode)}});
    const auto got = run(graph, {{"x", x}});
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].to_vector<float>(), want[i].to_vector<float>());
    // The specialized graph is valid ONNX and survives a round trip.
    const Graph again = import_onnx_bytes(export_onnx_bytes(graph), ".", "specialized");
    EXPECT_EQ(run(again, {{"x", x}})[0].to_vector<float>(), want[0].to_vector<float>());
  }
}

// Two Ifs on the same flag whose branches both compute a value named "tmp" (legal: sibling
// scopes), read by name from a nested subgraph as well: inlining both must rename one "tmp" and
// the nested read must follow.
onnx::ModelProto sibling_ifs_model() {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {3});
  *g->add_input() = value_info("flag", {}, onnx::TensorProto::BOOL);
  *g->add_output() = value_info("a", {3});
  *g->add_output() = value_info("b", {3});
  auto make_if = [](const std::string& out, const std::string& op) {
    auto n = node("If", {"flag"}, {out}, "if_" + out);
    onnx::GraphProto then_g;
    then_g.set_name("then_" + out);
    *then_g.add_node() = node(op, {"x", "x"}, {"tmp"}, op + "_" + out);
    // A nested If (on the same flag) that reads "tmp" from its enclosing branch.
    auto inner = node("If", {"flag"}, {"res_" + out}, "inner_" + out);
    for (const char* key : {"then_branch", "else_branch"}) {
      onnx::GraphProto b;
      b.set_name(std::string(key) + "_inner_" + out);
      *b.add_node() = node("Neg", {"tmp"}, {std::string(key) + "_neg_" + out}, std::string(key) + "_neg_node_" + out);
      *b.add_output() = value_info(std::string(key) + "_neg_" + out, {3});
      *graph_attribute(inner, key)->mutable_g() = b;
    }
    *then_g.add_node() = inner;
    *then_g.add_output() = value_info("res_" + out, {3});
    *graph_attribute(n, "then_branch")->mutable_g() = then_g;
    onnx::GraphProto else_g;
    else_g.set_name("else_" + out);
    *else_g.add_node() = node("Identity", {"x"}, {"same_" + out}, "same_" + out);
    *else_g.add_output() = value_info("same_" + out, {3});
    *graph_attribute(n, "else_branch")->mutable_g() = else_g;
    return n;
  };
  *g->add_node() = make_if("a", "Add");
  *g->add_node() = make_if("b", "Mul");
  return m;
}

TEST(SpecializeInputs, RenamesClashingBranchValuesAndTheirNestedReads) {
  const Graph original = import_onnx_bytes(serialize(sibling_ifs_model()), ".", "sibling ifs model");
  Graph graph = original;
  specialize_inputs(graph, {{{"flag", "1"}}, {}});
  EXPECT_EQ(count_ops(graph, "If"), 0);
  std::set<std::string> names;
  for (const Value& v : graph.values) EXPECT_TRUE(names.insert(v.name).second) << "two values named " << v.name;
  const Tensor x = Tensor::from_vector<float>({3}, {1, -2, 3});
  const auto want = run(original, {{"x", x}, {"flag", Tensor::scalar<bool>(true)}});
  const auto got = run(graph, {{"x", x}});
  EXPECT_EQ(got[0].to_vector<float>(), (std::vector<float>{-2, 4, -6}));  // -(x + x)
  EXPECT_EQ(got[1].to_vector<float>(), (std::vector<float>{-1, -4, -9}));  // -(x * x)
  EXPECT_EQ(got[0].to_vector<float>(), want[0].to_vector<float>());
  EXPECT_EQ(got[1].to_vector<float>(), want[1].to_vector<float>());
}

TEST(SpecializeInputs, LeavesIfsOnRuntimeValuesAlone) {
  Graph graph = import_onnx_bytes(serialize(nested_if_model()), ".", "nested if model");
  // Nothing fixed: the outer condition depends on `mode`, which stays a runtime input.
  const SpecializeStats stats = specialize_inputs(graph, {});
  EXPECT_EQ(stats.ifs_inlined, 0);
  EXPECT_EQ(count_ops(graph, "If"), 1);
  EXPECT_EQ(graph.inputs.size(), 2u);
}

TEST(SpecializeInputs, BadSpecsAreUserErrors) {
  const Graph original = import_onnx_bytes(serialize(nested_if_model()), ".", "nested if model");
  Graph graph = original;
  EXPECT_THROW(specialize_inputs(graph, {{{"nope", "1"}}, {}}), UserError);   // no such input
  graph = original;
  EXPECT_THROW(specialize_inputs(graph, {{{"x", "1"}}, {}}), UserError);      // x holds 6 numbers
  graph = original;
  EXPECT_THROW(specialize_inputs(graph, {{{"mode", "1.5"}}, {}}), UserError); // int64 input
  graph = original;
  EXPECT_THROW(specialize_inputs(graph, {{{"mode", "one"}}, {}}), UserError);
  graph = original;
  EXPECT_THROW(specialize_inputs(graph, {{}, {{"x", {3, 3}}}}), UserError);   // declared [2, 3]
  EXPECT_THROW(parse_fixed_values({"sr"}, "--fix-input"), UserError);
  EXPECT_THROW(parse_fixed_shapes({"input=1x"}, "--fix-shape"), UserError);
  EXPECT_EQ(parse_fixed_shapes({"input=1x512"}, "--fix-shape").at("input"), (Shape{1, 512}));
}

// ---- Silero VAD v4 ------------------------------------------------------------------------

std::filesystem::path silero_path() { return ocs_cache() / "models" / "silero_vad.onnx"; }

TEST(SpecializeInputs, SileroWithSrFixedAndUnrolledGivesTheOriginalsOutputs) {
  if (!std::filesystem::exists(silero_path()))
    OCS_SKIP_OR_FAIL(silero_path() << " is missing (run scripts/fetch_models.sh)");
  const Graph original = import_onnx_file(silero_path());
  EXPECT_EQ(count_ops(original, "LSTM"), 0);  // all 8 are inside If branches
  for (const auto& [sr, chunk] : std::vector<std::pair<int64_t, int64_t>>{{16000, 512}, {8000, 256}}) {
    SCOPED_TRACE("sr " + std::to_string(sr));
    Graph graph = original;
    const SpecializeStats stats =
        specialize_inputs(graph, {{{"sr", std::to_string(sr)}}, {{"input", {1, chunk}}}});
    EXPECT_EQ(count_ops(graph, "If"), 0);
    EXPECT_EQ(count_ops(graph, "LSTM"), 2) << stats.ifs_inlined << " Ifs inlined";
    Graph unrolled = graph;
    std::vector<std::string> skipped;
    EXPECT_EQ(unroll_recurrent(unrolled, &skipped), 2);
    EXPECT_TRUE(skipped.empty()) << skipped.front();
    EXPECT_EQ(count_ops(unrolled, "LSTM"), 0);

    const Tensor input = random_normal_tensor({1, chunk}, 1, 0.1f);
    const Tensor h = random_normal_tensor({2, 1, 64}, 2, 0.5f), c = random_normal_tensor({2, 1, 64}, 3, 0.5f);
    const auto want = run(original, {{"input", input}, {"sr", Tensor::scalar<int64_t>(sr)}, {"h", h}, {"c", c}});
    const auto fixed = run(graph, {{"input", input}, {"h", h}, {"c", c}});
    const auto got = run(unrolled, {{"input", input}, {"h", h}, {"c", c}});
    ASSERT_EQ(got.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      // Inlining moves nodes and nothing else: identical numbers.
      EXPECT_EQ(fixed[i].to_vector<float>(), want[i].to_vector<float>()) << "output " << i;
      // Unrolling replaces the LSTM kernel (double accumulation) by float MatMuls and
      // element-wise ops: float32 rounding, 1e-5 of the output's scale (docs/RECURRENT.md).
      EXPECT_LT(max_relative_difference(want[i], got[i]), 1e-5) << "output " << i;
    }
  }
}

}  // namespace
}  // namespace ocs
