// The DepthToSpace layout kernel (kernels/fast/dnnl_depth_to_space.h) against the reference
// kernel, in both modes, on a plain input (the graph input) and on one a layout step wrote (Relu).
// Metric: exact equality (both only move elements).
#include "model_builder.h"
#include "passes_test_util.h"

namespace ocs {
namespace {

using namespace ocs::testing;

// x [2, C, 3, 5] -> [Relu ->] DepthToSpace(block, mode) -> y.
onnx::ModelProto depth_to_space_model(int64_t channels, int64_t block, const std::string& mode, bool relu_first) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, channels, 3, 5});
  std::string in = "x";
  if (relu_first) {
    *g->add_node() = node("Relu", {"x"}, {"r"}, "relu");
    in = "r";
  }
  auto n = node("DepthToSpace", {in}, {"y"}, "d2s");
  auto* b = n.add_attribute();
  b->set_name("blocksize");
  b->set_type(onnx::AttributeProto::INT);
  b->set_i(block);
  auto* md = n.add_attribute();
  md->set_name("mode");
  md->set_type(onnx::AttributeProto::STRING);
  md->set_s(mode);
  *g->add_node() = n;
  *g->add_output() = value_info("y", {});
  return m;
}

TEST(FastDepthToSpace, MatchesTheReferenceKernel) {
  for (const char* mode : {"DCR", "CRD"})
    for (const auto& [channels, block] : {std::pair<int64_t, int64_t>{16, 4}, {12, 2}, {18, 3}})
      for (bool relu_first : {false, true}) {
        const Graph g = import_model(depth_to_space_model(channels, block, mode, relu_first));
        const std::map<std::string, Tensor> inputs = {{"x", random_tensor({2, channels, 3, 5}, 7, -2.0f, 2.0f)}};
        const Tensor want = run_graph(g, inputs, /*reference=*/true)[0];
        const Tensor got = run_graph(g, inputs, /*reference=*/false)[0];
        ASSERT_EQ(got.shape(), want.shape());
        EXPECT_EQ(max_abs_difference(got, want), 0.0)
            << mode << " " << channels << " channels, block " << block << (relu_first ? ", after Relu" : "");
      }
}

}  // namespace
}  // namespace ocs
