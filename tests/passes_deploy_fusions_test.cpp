// fuse_hardswish and fold_input_affine (the deployable layout's float-op reductions): each model
// is run before the pass (our reference kernels) and after it (our reference kernels, and ONNX
// Runtime, independent of both), and the op counts are checked.
// Metric: max |before - after| / max |before| < 1e-5 (the passes change float32 rounding only:
// HardSwish's x / 6 + 1/2 against (x + 3) / 6, a W against a * h; a few ulps per layer).
// Patterns that differ in any detail are left alone (counts unchanged).
#include "passes/fold_input_affine.h"
#include "passes/fuse_hardswish.h"
#include "passes/graph_edit.h"

#include "model_builder.h"
#include "ort_runner.h"
#include "passes_test_util.h"

#include <unistd.h>

namespace ocs {
namespace {

using namespace ocs::testing;

constexpr double kTolerance = 1e-5;

void add_float(onnx::GraphProto* g, const std::string& name, const Tensor& t) {
  tensor_to_proto(t, name, g->add_initializer());
}

void add_conv(onnx::GraphProto* g, const std::string& in, const std::string& out, const std::string& name,
              int64_t cin, int64_t cout, int64_t k, int64_t pad, uint32_t seed) {
  add_float(g, name + "_w", random_tensor({cout, cin, k, k}, seed));
  add_float(g, name + "_b", random_tensor({cout}, seed + 1));
  auto conv = node("Conv", {in, name + "_w", name + "_b"}, {out}, name);
  auto* pads = conv.add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(pad);
  *g->add_node() = conv;
}

// x -> Conv -> x * Clip(x + 3, lo, hi) / 6 (Paddle's export) -> Conv -> y, at opset 11.
onnx::ModelProto hardswish_model(float clip_high = 6.0f, bool add_read_twice = false) {
  onnx::ModelProto m = model(11);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 3, 6, 6});
  *g->add_output() = value_info("y", {1, 4, 6, 6});
  add_conv(g, "x", "h", "conv0", 3, 4, 3, 1, 1);
  add_float(g, "three", Tensor::scalar<float>(3.0f));
  add_float(g, "zero", Tensor::scalar<float>(0.0f));
  add_float(g, "high", Tensor::scalar<float>(clip_high));
  add_float(g, "six", Tensor::scalar<float>(6.0f));
  *g->add_node() = node("Add", {"three", "h"}, {"h3"}, "add");  // the constant first: either order
  *g->add_node() = node("Clip", {"h3", "zero", "high"}, {"c"}, "clip");
  *g->add_node() = node("Mul", {"c", "h"}, {"hc"}, "mul");
  *g->add_node() = node("Div", {"hc", "six"}, {"s"}, "div");
  std::string conv_in = "s";
  if (add_read_twice) {
    *g->add_node() = node("Add", {"s", "h3"}, {"s2"}, "also_reads_h3");
    conv_in = "s2";
  }
  add_conv(g, conv_in, "y", "conv1", 4, 4, 1, 0, 3);
  return m;
}

std::map<std::string, Tensor> input_of(const Graph& g, uint32_t seed) {
  const Value& x = g.values[g.inputs[0]];
  return {{x.name, random_tensor(*x.shape, seed, -4.0f, 4.0f)}};
}

// Runs `before` and `after` with the reference kernels, `after` also in ONNX Runtime.
void expect_same_function(const Graph& before, const Graph& after, const std::string& name) {
  const auto inputs = input_of(before, 7);
  const Tensor want = run_graph(before, inputs, /*reference=*/true)[0];
  EXPECT_LT(max_relative_difference(want, run_graph(after, inputs, true)[0]), kTolerance) << name << " (ours)";
  if (!ort_available()) OCS_SKIP_OR_FAIL("onnxruntime-node not found in " << ocs_cache() / "ort");
  const auto scratch = std::filesystem::temp_directory_path() / fmt::format("ocs_deploy_fusions_{}_{}", getpid(), name);
  EXPECT_LT(max_relative_difference(want, run_ort(after, inputs, scratch)), kTolerance) << name << " (ONNX Runtime)";
  std::filesystem::remove_all(scratch);
}

TEST(PassesFuseHardswish, PaddlePatternBecomesOneNodeAtOpset14) {
  const Graph before = import_model(hardswish_model());
  Graph after = before;
  EXPECT_EQ(fuse_hardswish(after), 1);
  after.verify();
  EXPECT_EQ(after.opset(), 14);
  EXPECT_EQ(count_ops(after, "HardSwish"), 1);
  for (const char* op : {"Add", "Clip", "Mul", "Div"}) EXPECT_EQ(count_ops(after, op), 0) << op;
  expect_same_function(before, after, "hardswish");
}

TEST(PassesFuseHardswish, OtherPatternsStayAsTheyAre) {
  for (const auto& [name, m] : {std::pair{"clip at 5", hardswish_model(5.0f)},
                                std::pair{"x + 3 read twice", hardswish_model(6.0f, true)}}) {
    Graph g = import_model(m);
    EXPECT_EQ(fuse_hardswish(g), 0) << name;
    EXPECT_EQ(g.opset(), 11) << name;
    EXPECT_EQ(count_ops(g, "HardSwish"), 0) << name;
  }
}

TEST(PassesFuseHardswish, ModelThatCannotMoveToOpset14IsLeftAlone) {
  onnx::ModelProto m = hardswish_model();
  m.mutable_opset_import(0)->set_version(9);  // Clip with constant inputs is opset 11: use attributes
  auto* g = m.mutable_graph();
  for (auto& n : *g->mutable_node()) {
    if (n.op_type() != "Clip") continue;
    n.clear_input();
    n.add_input("h3");
    for (const auto& [key, v] : {std::pair{"min", 0.0f}, std::pair{"max", 6.0f}}) {
      auto* a = n.add_attribute();
      a->set_name(key);
      a->set_type(onnx::AttributeProto::FLOAT);
      a->set_f(v);
    }
  }
  // Upsample changed meaning at opset 10: the model cannot be raised, so it keeps its ops.
  add_float(g, "scales", Tensor::from_vector<float>({4}, {1, 1, 1, 1}));
  *g->add_node() = node("Upsample", {"y", "scales"}, {"z"}, "upsample");
  g->mutable_output(0)->set_name("z");
  Graph graph = import_model(m);
  EXPECT_EQ(fuse_hardswish(graph), 0);
  EXPECT_EQ(graph.opset(), 9);
  EXPECT_EQ(count_ops(graph, "Div"), 1);
}

// x -> Conv -> h -> Mul(a) [-> Add(b)] -> readers (Convs with the given kernel and padding).
onnx::ModelProto affine_model(bool with_add, const std::vector<std::pair<int64_t, int64_t>>& readers,
                              bool extra_relu_reader = false) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 3, 6, 6});
  add_conv(g, "x", "h", "conv0", 3, 4, 3, 1, 1);
  add_float(g, "a", Tensor::scalar<float>(-1.75f));
  add_float(g, "b", Tensor::scalar<float>(0.625f));
  *g->add_node() = node("Mul", {"a", "h"}, {"ha"}, "lab_mul");
  std::string y = "ha";
  if (with_add) {
    *g->add_node() = node("Add", {"ha", "b"}, {"hab"}, "lab_add");
    y = "hab";
  }
  std::vector<std::string> outs;
  for (size_t k = 0; k < readers.size(); ++k) {
    const std::string out = fmt::format("y{}", k);
    add_conv(g, y, out, fmt::format("conv{}", k + 1), 4, 2, readers[k].first, readers[k].second, 10 + 3 * k);
    outs.push_back(out);
  }
  if (extra_relu_reader) {
    *g->add_node() = node("Relu", {y}, {"r"}, "relu");
    outs.push_back("r");
  }
  // One output: the sum of the readers' outputs (all are 1x2x6x6 or 1x4x6x6 with Relu).
  std::string sum = outs[0];
  for (size_t k = 1; k < outs.size(); ++k) {
    *g->add_node() = node("Add", {sum, outs[k]}, {sum + "_" + outs[k]}, "sum" + std::to_string(k));
    sum += "_" + outs[k];
  }
  *g->add_output() = value_info(sum, {});
  return m;
}

TEST(PassesFoldInputAffine, UnpaddedReadersTakeScaleAndShift) {
  const Graph before = import_model(affine_model(true, {{1, 0}, {1, 0}}));
  Graph after = before;
  EXPECT_EQ(fold_input_affine(after), 2);
  after.verify();
  EXPECT_EQ(count_ops(after, "Mul"), 0);
  EXPECT_EQ(count_ops(after, "Add"), 1);  // the output sum
  expect_same_function(before, after, "unpadded");
}

TEST(PassesFoldInputAffine, PaddedReaderKeepsTheShiftAsOneAdd) {
  const Graph before = import_model(affine_model(true, {{3, 1}, {1, 0}}));
  Graph after = before;
  EXPECT_EQ(fold_input_affine(after), 1);
  after.verify();
  EXPECT_EQ(count_ops(after, "Mul"), 0);
  EXPECT_EQ(count_ops(after, "Add"), 2);  // h + b / a, and the output sum
  expect_same_function(before, after, "padded");
}

TEST(PassesFoldInputAffine, ScaleAloneFoldsIntoPaddedReader) {
  const Graph before = import_model(affine_model(false, {{3, 1}}));
  Graph after = before;
  EXPECT_EQ(fold_input_affine(after), 1);
  after.verify();
  EXPECT_EQ(count_ops(after, "Mul"), 0);
  expect_same_function(before, after, "scale_only");
}

TEST(PassesFoldInputAffine, OtherReaderLeavesItAlone) {
  Graph g = import_model(affine_model(true, {{1, 0}}, /*extra_relu_reader=*/true));
  EXPECT_EQ(fold_input_affine(g), 0);
  EXPECT_EQ(count_ops(g, "Mul"), 1);
}

}  // namespace
}  // namespace ocs
