// raise_opset: every conversion keeps what the model computes. Each test builds a model at an
// old opset with the op in its old form, raises it, checks the new form (attributes became
// inputs, nodes around a normalizer) and runs both graphs with the reference kernels on the same
// input: the outputs must be identical (the conversions only restate the same computation).
// The blockers are user errors that leave the graph unchanged.
#include "engine/session.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"
#include "passes/graph_edit.h"
#include "passes/raise_opset.h"

#include <gtest/gtest.h>

#include <random>

namespace ocs {
namespace {
using namespace ocs::testing;

Graph load(const onnx::ModelProto& m) { return import_onnx_bytes(serialize(m), ".", "test model"); }

Tensor random_tensor(Shape shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (float& x : v) x = normal(rng);
  return Tensor::from_vector<float>(shape, v);
}

std::vector<Tensor> run_reference(const Graph& g, const std::map<std::string, Tensor>& inputs) {
  SessionOptions options;
  options.reference_kernels_only = true;
  Session session(std::make_shared<const Graph>(g), options);
  return session.run(inputs);
}

void add_int(onnx::NodeProto& n, const std::string& key, int64_t value) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void add_float(onnx::NodeProto& n, const std::string& key, float value) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

// Raises `m` to `target` and checks the outputs on a random x are those of the original.
Graph raise_and_compare(const onnx::ModelProto& m, int64_t target, const Shape& x_shape) {
  const Graph original = load(m);
  Graph raised = original;
  raise_opset(raised, target, "the test");
  EXPECT_EQ(raised.opset(), target);
  raised.verify();
  EXPECT_NO_THROW(export_onnx_bytes(raised));
  const std::map<std::string, Tensor> in{{"x", random_tensor(x_shape, 3)}};
  const std::vector<Tensor> expected = run_reference(original, in), actual = run_reference(raised, in);
  EXPECT_EQ(actual.size(), expected.size());
  for (size_t o = 0; o < expected.size() && o < actual.size(); ++o) {
    EXPECT_EQ(actual[o].shape(), expected[o].shape()) << "output " << o;
    EXPECT_EQ(actual[o].to_double_vector(), expected[o].to_double_vector()) << "output " << o;
  }
  return raised;
}

const Node& only_node(const Graph& g, const std::string& op) {
  for (const Node& n : g.nodes)
    if (n.op_type == op) return n;
  ADD_FAILURE() << "no " << op;
  return g.nodes.front();
}

TEST(RaiseOpset, SliceAttributesBecomeInputsAt10) {
  onnx::ModelProto m = model(9);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {3, 6});
  *g->add_output() = value_info("y", {2, 3});
  auto slice = node("Slice", {"x"}, {"y"}, "slice");
  add_ints_attribute(slice, "starts", {1, 2});
  add_ints_attribute(slice, "ends", {3, 5});
  add_ints_attribute(slice, "axes", {0, 1});
  *g->add_node() = slice;
  const Graph raised = raise_and_compare(m, 10, {3, 6});
  const Node& s = only_node(raised, "Slice");
  EXPECT_EQ(s.inputs.size(), 4u);  // data, starts, ends, axes
  EXPECT_FALSE(s.has_attr("starts"));
  EXPECT_EQ(raised.values[s.inputs[2]].constant->to_double_vector(), (std::vector<double>{3, 5}));
  EXPECT_GE(raised.ir_version, 5);
}

TEST(RaiseOpset, ClipAttributesBecomeInputsAt11) {
  onnx::ModelProto m = model(10);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, 5});
  *g->add_output() = value_info("y", {2, 5});
  *g->add_output() = value_info("z", {2, 5});
  auto clip = node("Clip", {"x"}, {"y"}, "clip");
  add_float(clip, "min", -0.25f);
  add_float(clip, "max", 0.5f);
  *g->add_node() = clip;
  *g->add_node() = node("Clip", {"x"}, {"z"}, "clip_defaults");  // no bounds: +-largest float
  const Graph raised = raise_and_compare(m, 11, {2, 5});
  for (const Node& n : raised.nodes) {
    EXPECT_EQ(n.inputs.size(), 3u) << n.name;
    EXPECT_FALSE(n.has_attr("min")) << n.name;
  }
  EXPECT_EQ(raised.values[raised.nodes[0].inputs[1]].constant->to_double_vector()[0], -0.25);
  EXPECT_GE(raised.ir_version, 6);
}

TEST(RaiseOpset, AxesAndSplitAttributesBecomeInputsAt13) {
  onnx::ModelProto m = model(11);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, 1, 6});
  *g->add_output() = value_info("u", {2, 1, 1, 6});
  *g->add_output() = value_info("r", {2, 1});
  *g->add_output() = value_info("a", {2, 2});
  *g->add_output() = value_info("b", {2, 4});
  auto squeeze = node("Squeeze", {"x"}, {"s"}, "squeeze");
  add_ints_attribute(squeeze, "axes", {1});
  auto unsqueeze = node("Unsqueeze", {"x"}, {"u"}, "unsqueeze");
  add_ints_attribute(unsqueeze, "axes", {2});
  auto reduce = node("ReduceSum", {"x"}, {"r"}, "reduce");
  add_ints_attribute(reduce, "axes", {2});
  add_int(reduce, "keepdims", 0);
  auto split = node("Split", {"s"}, {"a", "b"}, "split");
  add_int(split, "axis", 1);
  add_ints_attribute(split, "split", {2, 4});
  for (const auto& n : {squeeze, unsqueeze, reduce, split}) *g->add_node() = n;
  const Graph raised = raise_and_compare(m, 13, {2, 1, 6});
  for (const char* op : {"Squeeze", "Unsqueeze", "ReduceSum", "Split"}) {
    EXPECT_EQ(only_node(raised, op).inputs.size(), 2u) << op;
    EXPECT_TRUE(only_node(raised, op).attributes.count("axes") == 0) << op;
  }
  EXPECT_FALSE(only_node(raised, "Split").has_attr("split"));
  EXPECT_GE(raised.ir_version, 7);
}

// Before 13 a normalizer flattens at `axis` and normalizes over everything after it.
TEST(RaiseOpset, NormalizersKeepTheirMeaningAt13) {
  onnx::ModelProto m = model(11);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, 3, 4});
  for (const char* op : {"Softmax", "LogSoftmax", "Hardmax"}) {
    const std::string name = op;
    *g->add_output() = value_info(name + "_wide", {2, 3, 4});
    *g->add_output() = value_info(name + "_last", {2, 3, 4});
    *g->add_node() = node(op, {"x"}, {name + "_wide"}, name + "_wide_node");  // default axis 1
    auto last = node(op, {"x"}, {name + "_last"}, name + "_last_node");
    add_int(last, "axis", -1);
    *g->add_node() = last;
  }
  const Graph raised = raise_and_compare(m, 13, {2, 3, 4});
  EXPECT_EQ(count_ops(raised, "Flatten"), 3);  // one per normalizer over a non-last axis
  EXPECT_EQ(count_ops(raised, "Reshape"), 3);
  EXPECT_EQ(count_ops(raised, "Shape"), 3);
}

TEST(RaiseOpset, BlockersAreUserErrorsAndLeaveTheGraphAlone) {
  // Dropout took its ratio as an attribute until opset 12.
  onnx::ModelProto m = model(11);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, 3});
  *g->add_output() = value_info("y", {2, 3});
  auto dropout = node("Dropout", {"x"}, {"y"}, "dropout");
  add_float(dropout, "ratio", 0.5f);
  *g->add_node() = dropout;
  Graph dropped = load(m);
  EXPECT_NE(opset_blocker(dropped, 13), "");
  EXPECT_EQ(opset_blocker(dropped, 11), "");
  EXPECT_THROW(raise_opset(dropped, 13, "the test"), UserError);
  EXPECT_EQ(dropped.opset(), 11);
  EXPECT_EQ(dropped.nodes.size(), 1u);

  // Opsets before 7 predate broadcasting.
  onnx::ModelProto old = model(6);
  *old.mutable_graph()->add_input() = value_info("x", {2, 3});
  *old.mutable_graph()->add_output() = value_info("y", {2, 3});
  *old.mutable_graph()->add_node() = node("Relu", {"x"}, {"y"}, "relu");
  Graph ancient = load(old);
  EXPECT_THROW(raise_opset(ancient, 10, "the test"), UserError);
  EXPECT_EQ(ancient.opset(), 6);

  // Already there: nothing to do.
  Graph same = load(m);
  EXPECT_NO_THROW(raise_opset(same, 11, "the test"));
  EXPECT_EQ(same.opset(), 11);
}

}  // namespace
}  // namespace ocs
