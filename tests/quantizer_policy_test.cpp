// Which layers the recipe quantizes and how much OCS may add: the first-convolutions policy on
// parallel convolutions, and the --max-overhead cap (quant/ocs_budget.h), by hand-computed cases.
#include "engine/session.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"
#include "recipe/quantizer.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace ocs {
namespace {
using namespace ocs::testing;

// x [1, 1, 8, 8] feeds two convolutions A and B (4 x 1 x 3 x 3 each, 36 weights); C (8 x 4 x 3 x 3,
// 288 weights) reads Relu(A + B). C's input channel 0 holds an outlier (8; every other |w| <= 1).
Graph parallel_convs() {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 1, 8, 8});
  *g->add_output() = value_info("y", {1, 8, 4, 4});
  Tensor a = random_tensor({4, 1, 3, 3}, 1), b = random_tensor({4, 1, 3, 3}, 2), c = random_tensor({8, 4, 3, 3}, 3);
  c.data<float>()[0] = 8.0f;
  tensor_to_proto(a, "wa", g->add_initializer());
  tensor_to_proto(b, "wb", g->add_initializer());
  tensor_to_proto(c, "wc", g->add_initializer());
  *g->add_node() = node("Conv", {"x", "wa"}, {"a"}, "A");
  *g->add_node() = node("Conv", {"x", "wb"}, {"b"}, "B");
  *g->add_node() = node("Add", {"a", "b"}, {"s"}, "add");
  *g->add_node() = node("Relu", {"s"}, {"r"}, "relu");
  *g->add_node() = node("Conv", {"r", "wc"}, {"y"}, "C");
  return import_onnx_bytes(serialize(m), ".", "parallel.onnx");
}

const LayerPlan& layer(const QuantizePlan& plan, const std::string& name) {
  for (const LayerPlan& l : plan.layers)
    if (l.node == name) return l;
  throw std::runtime_error("no layer " + name);
}

TEST(QuantizerPolicy, ParallelFirstConvolutionsBothStayFloat) {
  QuantizeOptions options;
  options.format = "split-float";
  const QuantizeResult result = quantize_model(parallel_convs(), options, nullptr);
  EXPECT_EQ(layer(result.plan, "A").left_float, "first conv (reference policy)");
  EXPECT_EQ(layer(result.plan, "B").left_float, "first conv (reference policy)");
  EXPECT_TRUE(layer(result.plan, "C").quantized());
}

QuantizeResult split_parallel(double max_overhead) {
  QuantizeOptions options;
  options.format = "split-float";
  options.keep_first_last_float = false;
  options.ocs_ratio = 0.5;  // A and B: k = 1 (+36 each); C: k = 2 (+144)
  options.max_overhead = max_overhead;
  return quantize_model(parallel_convs(), options, nullptr);
}

TEST(QuantizerPolicy, MaxOverheadSpendsTheCapWhereItGainsMost) {
  // Without a cap: 36 + 36 + 144 weights added to 360.
  const QuantizeResult free = split_parallel(-1);
  EXPECT_NEAR(free.plan.size_overhead_percent(), 60.0, 1e-9);
  // A cap of 10% (36 weights): one split of A or B halves its range (6.02 dB for 36 weights)
  // and beats C's first split (8 -> 4: 6.02 dB for 72 weights), which no longer fits after it.
  const QuantizeResult capped = split_parallel(10);
  EXPECT_NEAR(capped.plan.size_overhead_percent(), 10.0, 1e-9);
  EXPECT_EQ(capped.plan.overhead_budget, 36);
  EXPECT_EQ(layer(capped.plan, "A").channels_split.size() + layer(capped.plan, "B").channels_split.size(), 1u);
  EXPECT_TRUE(layer(capped.plan, "C").channels_split.empty());
  EXPECT_EQ(layer(capped.plan, "C").ocs_skipped, "no split within the model's overhead cap");
  EXPECT_EQ(capped.report["model"]["max_overhead_percent"].get<double>(), 10.0);
  // A cap is no licence to change the function: the split model equals the original.
  const Graph original = parallel_convs();
  const Tensor x = random_tensor({1, 1, 8, 8}, 9);
  const Tensor want = Session(std::make_shared<const Graph>(original)).run({{"x", x}})[0];
  const Tensor got = Session(std::make_shared<const Graph>(capped.graph)).run({{"x", x}})[0];
  EXPECT_TRUE(tensors_close(got, want, 1e-5, 1e-5));
}

TEST(QuantizerPolicy, MaxOverheadNeedsARatio) {
  QuantizeOptions options;
  options.max_overhead = 5;
  EXPECT_THROW(options.validate(), UserError);
}

}  // namespace
}  // namespace ocs
