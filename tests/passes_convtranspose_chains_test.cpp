// convtranspose_chains_as_convs (passes/convtranspose_chains.h): each rewritten model is run
// before the pass (our reference kernels) and after it (our reference kernels, our fast kernels
// with the DepthToSpace layout kernel, and ONNX Runtime, independent of all three).
// Metric: max |before - after| / max |before| < 1e-5: the rewrite sums the same products (a
// different order in the fast kernels; zero blocks add exact zeros).
// Chains that differ in any condition are left alone (counts unchanged).
#include "passes/convtranspose_chains.h"
#include "passes/graph_edit.h"

#include "model_builder.h"
#include "ort_runner.h"
#include "passes_test_util.h"

#include <unistd.h>

namespace ocs {
namespace {

using namespace ocs::testing;

constexpr double kTolerance = 1e-5;

// One ConvTranspose `in` -> `out`: c -> m channels, k x k kernel, the given stride, with bias.
void add_convtranspose(onnx::GraphProto* g, const std::string& in, const std::string& out, const std::string& name,
                       int64_t c, int64_t m, int64_t k, int64_t stride, uint32_t seed) {
  tensor_to_proto(random_tensor({c, m, k, k}, seed), name + "_w", g->add_initializer());
  tensor_to_proto(random_tensor({m}, seed + 1), name + "_b", g->add_initializer());
  auto n = node("ConvTranspose", {in, name + "_w", name + "_b"}, {out}, name);
  add_ints_attribute(n, "kernel_shape", {k, k});
  add_ints_attribute(n, "strides", {stride, stride});
  *g->add_node() = n;
}

struct ChainSpec {
  int64_t k1 = 2, k2 = 2;       // kernels (= strides unless stride1 is set)
  int64_t stride1 = 0;          // the first ConvTranspose's stride when not its kernel
  bool relu_read_twice = false; // the Relu's output is also a graph output
  bool second = true;           // the second ConvTranspose (else the chain is a lone one)
};

// x [1, 3, 5, 6] -> ConvTranspose(3 -> 4, k1) -> Relu -> ConvTranspose(4 -> 2, k2) -> Sigmoid -> y,
// PP-OCRv4 det's head in small.
onnx::ModelProto chain_model(const ChainSpec& s) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 3, 5, 6});
  add_convtranspose(g, "x", "u", "up1", 3, 4, s.k1, s.stride1 ? s.stride1 : s.k1, 1);
  *g->add_node() = node("Relu", {"u"}, {"r"}, "relu");
  if (s.relu_read_twice) *g->add_output() = value_info("r", {});
  if (!s.second) {
    *g->add_node() = node("Sigmoid", {"r"}, {"y"}, "sigmoid");
  } else {
    add_convtranspose(g, "r", "v", "up2", 4, 2, s.k2, s.k2, 5);
    *g->add_node() = node("Sigmoid", {"v"}, {"y"}, "sigmoid");
  }
  *g->add_output() = value_info("y", {});
  return m;
}

std::map<std::string, Tensor> input_of(const Graph& g) {
  const Value& x = g.values[g.inputs[0]];
  return {{x.name, random_tensor(*x.shape, 7, -2.0f, 2.0f)}};
}

// `after` against `before` with our reference and fast kernels, and in ONNX Runtime.
void expect_same_function(const Graph& before, const Graph& after, const std::string& name) {
  const auto inputs = input_of(before);
  const std::vector<Tensor> want = run_graph(before, inputs, /*reference=*/true);
  const std::vector<Tensor> ours = run_graph(after, inputs, true), fast = run_graph(after, inputs, false);
  ASSERT_EQ(ours.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_LT(max_relative_difference(want[i], ours[i]), kTolerance) << name << " output " << i << " (reference)";
    EXPECT_LT(max_relative_difference(want[i], fast[i]), kTolerance) << name << " output " << i << " (fast)";
  }
  if (!ort_available()) OCS_SKIP_OR_FAIL("onnxruntime-node not found in " << ocs_cache() / "ort");
  const auto scratch = std::filesystem::temp_directory_path() / fmt::format("ocs_convt_chains_{}_{}", getpid(), name);
  EXPECT_LT(max_relative_difference(want.back(), run_ort(after, inputs, scratch)), kTolerance) << name << " (ONNX Runtime)";
  std::filesystem::remove_all(scratch);
}

TEST(PassesConvTransposeChains, TwoUpsamplingsBecomeConvsAndOneDepthToSpace) {
  const Graph before = import_model(chain_model({}));
  Graph after = before;
  EXPECT_EQ(convtranspose_chains_as_convs(after), 2);
  after.verify();
  EXPECT_EQ(count_ops(after, "ConvTranspose"), 0);
  EXPECT_EQ(count_ops(after, "Conv"), 2);
  EXPECT_EQ(count_ops(after, "DepthToSpace"), 1);
  // The element-wise ops run on the stacked maps, before the one DepthToSpace.
  EXPECT_EQ(after.nodes.back().op_type, "DepthToSpace");
  EXPECT_EQ(after.nodes.back().attr_int("blocksize", 0), 4);
  expect_same_function(before, after, "k2_k2");
}

TEST(PassesConvTransposeChains, UnequalKernelsStack) {
  const Graph before = import_model(chain_model({.k1 = 1, .k2 = 3}));
  Graph after = before;
  EXPECT_EQ(convtranspose_chains_as_convs(after), 2);
  after.verify();
  EXPECT_EQ(after.nodes.back().attr_int("blocksize", 0), 3);
  expect_same_function(before, after, "k1_k3");
}

TEST(PassesConvTransposeChains, OtherChainsStayAsTheyAre) {
  for (const auto& [name, spec] : {std::pair{"lone", ChainSpec{.second = false}},
                                   std::pair{"stride is not the kernel", ChainSpec{.k1 = 3, .stride1 = 2}},
                                   std::pair{"block above 4", ChainSpec{.k1 = 2, .k2 = 4}},
                                   std::pair{"inner value read twice", ChainSpec{.relu_read_twice = true}}}) {
    Graph g = import_model(chain_model(spec));
    const int64_t convtransposes = count_ops(g, "ConvTranspose");
    EXPECT_EQ(convtranspose_chains_as_convs(g), 0) << name;
    EXPECT_EQ(count_ops(g, "ConvTranspose"), convtransposes) << name;
    EXPECT_EQ(count_ops(g, "DepthToSpace"), 0) << name;
  }
}

}  // namespace
}  // namespace ocs
