// write_upsamplings_channels_last and read_channels_last_upsamplings
// (passes/channels_last_upsampling.h): each rewritten model is run before the pass (our reference
// kernels) and after it (our reference kernels, our engine, which reads the form back, and ONNX
// Runtime). Metric: exact equality (nearest upsampling only copies codes).
// Resizes that differ in any condition are left alone (counts unchanged).
#include "passes/channels_last_upsampling.h"
#include "passes/graph_edit.h"

#include "model_builder.h"
#include "ort_runner.h"
#include "passes_test_util.h"

#include <unistd.h>

namespace ocs {
namespace {

using namespace ocs::testing;

struct ResizeSpec {
  float fh = 2.0f, fw = 2.0f;
  std::string mode = "nearest";
  std::string coordinates = "asymmetric";
  std::string rounding = "floor";
  bool after_dequantize = true;  // else the Resize reads the float input itself
  bool per_channel = false;      // the grid: one scale per channel (axis 1)
  int64_t opset = 13;
};

// x [1, 3, 5, 6] -> QuantizeLinear -> DequantizeLinear -> Resize -> y.
onnx::ModelProto resize_model(const ResizeSpec& s) {
  onnx::ModelProto m = model(s.opset);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 3, 5, 6});
  if (s.per_channel) {
    tensor_to_proto(Tensor::from_vector<float>({3}, {0.05f, 0.02f, 0.1f}), "scale", g->add_initializer());
    tensor_to_proto(Tensor::from_vector<uint8_t>({3}, {128, 100, 140}), "zero", g->add_initializer());
  } else {
    tensor_to_proto(Tensor::scalar<float>(0.05f), "scale", g->add_initializer());
    tensor_to_proto(Tensor::scalar<uint8_t>(128), "zero", g->add_initializer());
  }
  tensor_to_proto(Tensor::from_vector<float>({0}, {}), "roi", g->add_initializer());
  tensor_to_proto(Tensor::from_vector<float>({4}, {1, 1, s.fh, s.fw}), "scales", g->add_initializer());
  auto q = node("QuantizeLinear", {"x", "scale", "zero"}, {"q"}, "quantize");
  auto dq = node("DequantizeLinear", {"q", "scale", "zero"}, {"d"}, "dequantize");
  if (s.per_channel) {
    for (auto* n : {&q, &dq}) {
      auto* a = n->add_attribute();
      a->set_name("axis");
      a->set_type(onnx::AttributeProto::INT);
      a->set_i(1);
    }
  }
  *g->add_node() = q;
  *g->add_node() = dq;
  auto resize = node("Resize", {s.after_dequantize ? "d" : "x", "roi", "scales"}, {"y"}, "resize");
  add_string_attribute(resize, "mode", s.mode);
  add_string_attribute(resize, "coordinate_transformation_mode", s.coordinates);
  add_string_attribute(resize, "nearest_mode", s.rounding);
  *g->add_node() = resize;
  *g->add_output() = value_info("y", {});
  if (!s.after_dequantize) *g->add_output() = value_info("d", {});
  return m;
}

std::map<std::string, Tensor> inputs() { return {{"x", random_tensor({1, 3, 5, 6}, 7, -6.0f, 6.0f)}}; }

void expect_same_function(const Graph& before, const Graph& after, const std::string& name) {
  const Tensor want = run_graph(before, inputs(), /*reference=*/true)[0];
  EXPECT_EQ(max_abs_difference(run_graph(after, inputs(), true)[0], want), 0.0) << name << " (reference)";
  EXPECT_EQ(max_abs_difference(run_graph(after, inputs(), false)[0], want), 0.0) << name << " (engine)";
  if (!ort_available()) OCS_SKIP_OR_FAIL("onnxruntime-node not found in " << ocs_cache() / "ort");
  const auto scratch = std::filesystem::temp_directory_path() / fmt::format("ocs_upsampling_{}_{}", getpid(), name);
  EXPECT_EQ(max_abs_difference(run_ort(after, inputs(), scratch), want), 0.0) << name << " (ONNX Runtime)";
  std::filesystem::remove_all(scratch);
}

const std::vector<std::pair<std::string, ResizeSpec>> kRewritten = {
    {"x2", {}},
    {"x8", {.fh = 8.0f, .fw = 8.0f}},
    {"x3 by x2", {.fh = 3.0f, .fw = 2.0f}},
    {"x1 by x4", {.fh = 1.0f, .fw = 4.0f}},
    {"half_pixel x3", {.fh = 3.0f, .fw = 3.0f, .coordinates = "half_pixel", .rounding = "round_prefer_ceil"}},
    {"half_pixel x4", {.fh = 4.0f, .fw = 4.0f, .coordinates = "half_pixel", .rounding = "round_prefer_floor"}},
    {"per-channel grid", {.per_channel = true}},
    {"opset 11", {.fh = 4.0f, .fw = 4.0f, .opset = 11}},
};

TEST(PassesChannelsLastUpsampling, NearestUpsamplingBecomesCopiesOfChannelsLastRows) {
  for (const auto& [name, spec] : kRewritten) {
    const Graph before = import_model(resize_model(spec));
    Graph after = before;
    EXPECT_EQ(write_upsamplings_channels_last(after), 1) << name;
    after.verify();
    EXPECT_EQ(count_ops(after, "Resize"), 0) << name;
    EXPECT_EQ(count_ops(after, "Expand"), 1) << name;
    EXPECT_EQ(count_ops(after, "Transpose"), 2) << name;
    EXPECT_EQ(count_ops(after, "DequantizeLinear"), 1) << name;  // moved behind the copies
    expect_same_function(before, after, name);
  }
}

TEST(PassesChannelsLastUpsampling, OtherResizesStayAsTheyAre) {
  for (const auto& [name, spec] : std::vector<std::pair<std::string, ResizeSpec>>{
           {"factor 1.5", {.fh = 1.5f, .fw = 1.5f}},
           {"factor 1", {.fh = 1.0f, .fw = 1.0f}},
           {"half_pixel floor", {.coordinates = "half_pixel", .rounding = "floor"}},
           {"align_corners", {.coordinates = "align_corners", .rounding = "round_prefer_floor"}},
           {"linear", {.mode = "linear"}},
           {"float input", {.after_dequantize = false}}}) {
    Graph g = import_model(resize_model(spec));
    EXPECT_EQ(write_upsamplings_channels_last(g), 0) << name;
    EXPECT_EQ(count_ops(g, "Resize"), 1) << name;
    EXPECT_EQ(count_ops(g, "Expand"), 0) << name;
  }
}

TEST(PassesChannelsLastUpsampling, EngineReadsTheCopiesBackAsOneResize) {
  for (const auto& [name, spec] : kRewritten) {
    const Graph before = import_model(resize_model(spec));
    Graph written = before;
    ASSERT_EQ(write_upsamplings_channels_last(written), 1) << name;
    Graph read = written;
    EXPECT_EQ(read_channels_last_upsamplings(read), 1) << name;
    read.verify();
    EXPECT_EQ(count_ops(read, "Resize"), 1) << name;
    for (const char* op : {"Transpose", "Unsqueeze", "Expand", "Shape", "Mul", "Reshape"})
      EXPECT_EQ(count_ops(read, op), 0) << name << ": " << op;
    const Tensor want = run_graph(before, inputs(), /*reference=*/true)[0];
    EXPECT_EQ(max_abs_difference(run_graph(read, inputs(), true)[0], want), 0.0) << name;
  }
}

// The chain of the export's form with one thing changed is not read back.
TEST(PassesChannelsLastUpsampling, OtherChainsAreNotReadBack) {
  Graph written = import_model(resize_model({.fh = 2.0f, .fw = 2.0f}));
  ASSERT_EQ(write_upsamplings_channels_last(written), 1);
  const auto node_of = [](const Graph& g, const char* op) {
    for (NodeId id = 0; id < static_cast<NodeId>(g.nodes.size()); ++id)
      if (g.nodes[id].op_type == op) return id;
    ADD_FAILURE() << "no " << op;
    return NodeId{0};
  };
  {  // the copies' factors and the shape's factors disagree
    Graph g = written;
    const NodeId mul = node_of(g, "Mul");
    for (ValueId in : g.nodes[mul].inputs)
      if (g.values[in].constant) g.values[in].constant = Tensor::from_vector<int64_t>({4}, {1, 2, 3, 1});
    EXPECT_EQ(read_channels_last_upsamplings(g), 0) << "factors disagree";
  }
  {  // the channels-last copies are also a graph output
    Graph g = written;
    g.outputs.push_back(g.nodes[node_of(g, "Expand")].outputs[0]);
    EXPECT_EQ(read_channels_last_upsamplings(g), 0) << "intermediate is an output";
  }
  {  // another permutation back
    Graph g = written;
    const NodeId last = node_of(g, "DequantizeLinear");
    g.nodes[*g.producer(g.nodes[last].inputs[0])].attributes["perm"] = ints_attribute({0, 3, 2, 1});
    EXPECT_EQ(read_channels_last_upsamplings(g), 0) << "other permutation";
  }
}

}  // namespace
}  // namespace ocs
