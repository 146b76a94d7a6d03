// add_resize_barriers (passes/resize_barriers.h) and skip_identity_reshapes
// (passes/identity_reshapes.h): each rewritten model is run before the pass (our reference
// kernels) and after it (our reference kernels, our fast kernels, and ONNX Runtime).
// Metric: exact equality (nearest upsampling only copies codes; floor composes exactly).
// Resizes that differ in any condition are left alone (counts unchanged).
#include "passes/graph_edit.h"
#include "passes/identity_reshapes.h"
#include "passes/resize_barriers.h"

#include "model_builder.h"
#include "ort_runner.h"
#include "passes_test_util.h"

#include <unistd.h>

namespace ocs {
namespace {

using namespace ocs::testing;

Graph import_model(const onnx::ModelProto& m) { return import_onnx_bytes(serialize(m), ".", "test model"); }

void add_string(onnx::NodeProto& n, const std::string& key, const std::string& value) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(value);
}

struct ResizeSpec {
  float factor = 2.0f;
  std::string coordinates = "asymmetric";
  bool after_dequantize = true;  // else the Resize reads the float input itself
};

// x [1, 3, 5, 6] -> QuantizeLinear -> DequantizeLinear -> Resize(nearest, floor) -> y, opset 13.
onnx::ModelProto resize_model(const ResizeSpec& s) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 3, 5, 6});
  tensor_to_proto(Tensor::scalar<float>(0.05f), "scale", g->add_initializer());
  tensor_to_proto(Tensor::scalar<uint8_t>(128), "zero", g->add_initializer());
  tensor_to_proto(Tensor::from_vector<float>({0}, {}), "roi", g->add_initializer());
  tensor_to_proto(Tensor::from_vector<float>({4}, {1, 1, s.factor, s.factor}), "scales", g->add_initializer());
  *g->add_node() = node("QuantizeLinear", {"x", "scale", "zero"}, {"q"}, "quantize");
  *g->add_node() = node("DequantizeLinear", {"q", "scale", "zero"}, {"d"}, "dequantize");
  auto resize = node("Resize", {s.after_dequantize ? "d" : "x", "roi", "scales"}, {"y"}, "resize");
  add_string(resize, "mode", "nearest");
  add_string(resize, "coordinate_transformation_mode", s.coordinates);
  add_string(resize, "nearest_mode", "floor");
  *g->add_node() = resize;
  *g->add_output() = value_info("y", {});
  if (!s.after_dequantize) *g->add_output() = value_info("d", {});
  return m;
}

std::map<std::string, Tensor> inputs() { return {{"x", random_tensor({1, 3, 5, 6}, 7, -6.0f, 6.0f)}}; }

void expect_same_function(const Graph& before, const Graph& after, const std::string& name) {
  const Tensor want = run_graph(before, inputs(), /*reference=*/true)[0];
  EXPECT_EQ(max_abs_difference(run_graph(after, inputs(), true)[0], want), 0.0) << name << " (reference)";
  EXPECT_EQ(max_abs_difference(run_graph(after, inputs(), false)[0], want), 0.0) << name << " (fast)";
  if (!ort_available()) OCS_SKIP_OR_FAIL("onnxruntime-node not found in " << ocs_cache() / "ort");
  const auto scratch = std::filesystem::temp_directory_path() / fmt::format("ocs_resize_barriers_{}_{}", getpid(), name);
  EXPECT_EQ(max_abs_difference(run_ort(after, inputs(), scratch), want), 0.0) << name << " (ONNX Runtime)";
  std::filesystem::remove_all(scratch);
}

TEST(PassesResizeBarriers, PowerOfTwoUpsamplingBecomesBarrierAndSteps) {
  for (const auto& [factor, steps] : {std::pair{2.0f, 1}, std::pair{4.0f, 2}, std::pair{8.0f, 3}}) {
    const std::string name = fmt::format("x{}", factor);
    const Graph before = import_model(resize_model({.factor = factor}));
    Graph after = before;
    EXPECT_EQ(add_resize_barriers(after), 1) << name;
    after.verify();
    EXPECT_EQ(count_ops(after, "Resize"), steps) << name;
    EXPECT_EQ(count_ops(after, "Reshape"), 1) << name;
    EXPECT_EQ(count_ops(after, "Shape"), 1) << name;
    EXPECT_EQ(count_ops(after, "QuantizeLinear"), steps) << name;  // one round trip between two steps
    expect_same_function(before, after, name);
  }
}

TEST(PassesResizeBarriers, OtherResizesStayAsTheyAre) {
  for (const auto& [name, spec] : {std::pair{"factor 3", ResizeSpec{.factor = 3.0f}},
                                   std::pair{"half_pixel", ResizeSpec{.coordinates = "half_pixel"}},
                                   std::pair{"float input", ResizeSpec{.after_dequantize = false}}}) {
    Graph g = import_model(resize_model(spec));
    EXPECT_EQ(add_resize_barriers(g), 0) << name;
    EXPECT_EQ(count_ops(g, "Resize"), 1) << name;
    EXPECT_EQ(count_ops(g, "Reshape"), 0) << name;
  }
}

TEST(PassesIdentityReshapes, BarrierIsSkippedForTheEngine) {
  const Graph before = import_model(resize_model({.factor = 4.0f}));
  Graph with_barrier = before;
  ASSERT_EQ(add_resize_barriers(with_barrier), 1);
  Graph skipped = with_barrier;
  EXPECT_EQ(skip_identity_reshapes(skipped), 1);
  skipped.verify();
  EXPECT_EQ(count_ops(skipped, "Reshape"), 0);
  EXPECT_EQ(count_ops(skipped, "Shape"), 0);
  EXPECT_EQ(count_ops(skipped, "Resize"), 2);
  EXPECT_EQ(count_ops(skipped, "DequantizeLinear"), 2);
  expect_same_function(before, skipped, "skipped");
}

TEST(PassesIdentityReshapes, OtherReshapesStay) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, 6});
  *g->add_input() = value_info("z", {3, 4});
  *g->add_node() = node("Shape", {"z"}, {"s"}, "shape_of_z");
  *g->add_node() = node("Reshape", {"x", "s"}, {"y"}, "reshape");  // to another tensor's shape
  *g->add_output() = value_info("y", {});
  Graph graph = import_model(m);
  EXPECT_EQ(skip_identity_reshapes(graph), 0);
  EXPECT_EQ(count_ops(graph, "Reshape"), 1);
}

}  // namespace
}  // namespace ocs
