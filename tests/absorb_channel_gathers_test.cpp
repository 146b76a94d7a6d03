// absorb_channel_gathers and int8_tensors, the two halves of the deployable layout's structure.
//  - Absorbing weight OCS's Gather into the producer keeps the function (run before and after,
//    relative difference < 1e-5: only the order oneDNN sums a widened row in changes), removes
//    the Gather, and widens exactly the producer and the per-channel constants in between; where
//    the conditions fail the Gather stays with the reason.
//  - int8_tensors on hand-built graphs gives the tensors derived by hand from its rules.
#include "analysis/int8_tensors.h"
#include "passes/absorb_channel_gathers.h"
#include "passes/fold_batchnorm.h"
#include "passes/ocs_split_weights.h"

#include "model_builder.h"
#include "passes_test_util.h"
#include "test_util.h"

#include <gtest/gtest.h>

namespace ocs {
namespace {

using namespace ocs::testing;

Graph load(const onnx::ModelProto& m) { return import_onnx_bytes(serialize(m), ".", "test model"); }

void int_attr(onnx::NodeProto& n, const std::string& key, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

// x -> Conv A (+bias) -> Relu -> Mul(per-channel) -> [second reader of the Mul's output] -> Conv B
onnx::ModelProto chain_model(bool second_reader) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 3, 8, 8});
  *g->add_output() = value_info("y", {1, 5, 8, 8});
  tensor_to_proto(random_tensor({4, 3, 3, 3}, 1), "A", g->add_initializer());
  tensor_to_proto(random_tensor({4}, 2), "a_bias", g->add_initializer());
  tensor_to_proto(random_tensor({1, 4, 1, 1}, 3), "scale", g->add_initializer());
  tensor_to_proto(random_tensor({5, 4, 1, 1}, 4), "B", g->add_initializer());
  auto conv_a = node("Conv", {"x", "A", "a_bias"}, {"a"}, "conv_a");
  int_attr(conv_a, "group", 1);
  auto* pads = conv_a.add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i) pads->add_ints(1);
  *g->add_node() = conv_a;
  *g->add_node() = node("Relu", {"a"}, {"r"}, "relu");
  *g->add_node() = node("Mul", {"r", "scale"}, {"s"}, "mul");
  *g->add_node() = node("Conv", {"s", "B"}, {"y"}, "conv_b");
  if (second_reader) {
    *g->add_output() = value_info("side", {1, 4, 8, 8});
    *g->add_node() = node("Neg", {"s"}, {"side"}, "side");
  }
  return m;
}

std::string split_and_find_gather(Graph& g) {
  OcsSplitWeightsOptions options;
  options.ratio = 0.5;  // 2 of conv_b's 4 input channels
  options.exclude = {"conv_a"};
  ocs_split_weights(g, options);
  for (const Node& n : g.nodes)
    if (n.op_type == "Gather") return n.name;
  return "";
}

TEST(AbsorbChannelGathers, ProducerComputesTheDuplicatedChannels) {
  const Graph original = load(chain_model(false));
  Graph g = original;
  const std::string gather = split_and_find_gather(g);
  ASSERT_FALSE(gather.empty());
  const auto reports = absorb_channel_gathers(g, {gather});
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].producer, "conv_a");
  EXPECT_EQ(reports[0].consumer, "conv_b");
  EXPECT_TRUE(reports[0].kept_because.empty()) << reports[0].kept_because;
  for (const Node& n : g.nodes) {
    EXPECT_NE(n.op_type, "Gather");
    if (n.name == "conv_a") {
      EXPECT_EQ(g.values[n.inputs[1]].constant->dim(0), 6);  // 4 channels + 2 copies
      EXPECT_EQ(g.values[n.inputs[2]].constant->dim(0), 6);
    }
    if (n.name == "mul") {
      EXPECT_EQ(g.values[n.inputs[1]].constant->dim(1), 6);
    }
  }
  const std::map<std::string, Tensor> in{{"x", random_tensor({1, 3, 8, 8}, 9)}};
  for (bool reference : {true, false}) {
    const auto want = run_graph(original, in, reference);
    const auto got = run_graph(g, in, reference);
    EXPECT_LT(max_relative_difference(got[0], want[0]), 1e-5) << (reference ? "reference" : "fast");
  }
}

TEST(AbsorbChannelGathers, GatherStaysWhenTheTensorHasOtherReaders) {
  Graph g = load(chain_model(true));
  const std::string gather = split_and_find_gather(g);
  const auto reports = absorb_channel_gathers(g, {gather});
  EXPECT_TRUE(reports[0].producer.empty());
  EXPECT_NE(reports[0].kept_because.find("other readers"), std::string::npos) << reports[0].kept_because;
  int gathers = 0;
  for (const Node& n : g.nodes) gathers += n.op_type == "Gather";
  EXPECT_EQ(gathers, 1);
}

// The small CNN (BN folded): its rules derived by hand. stem (first conv, float here: not in
// `layers`) -> Relu -> MaxPool -> conv1 -> Relu -> conv2 -> Add(MaxPool out, .) -> Relu -> down
// -> Relu -> GlobalAveragePool -> Flatten -> fc.
TEST(Int8Tensors, SmallCnnByHand) {
  Graph g = import_onnx_file(small_cnn_path());
  fold_batchnorm(g);
  std::set<NodeId> layers;
  auto id_of = [&](const std::string& name) {
    for (NodeId n = 0; n < static_cast<NodeId>(g.nodes.size()); ++n)
      if (g.nodes[n].name == name) return n;
    ADD_FAILURE() << name;
    return NodeId{-1};
  };
  auto input_of = [&](const std::string& node) { return g.values[g.nodes[id_of(node)].inputs[0]].name; };
  std::vector<std::string> convs;
  for (const Node& n : g.nodes)
    if (n.op_type == "Conv" && g.values[n.inputs[0]].name != "input") convs.push_back(n.name);
  ASSERT_EQ(convs.size(), 3u);  // conv1, conv2, down
  for (const std::string& c : convs) layers.insert(id_of(c));
  std::map<std::string, Int8Tensor> got;
  for (const Int8Tensor& t : int8_tensors(g, layers)) got[g.values[t.value].name] = t;

  // Layer inputs: the pooled stem output (conv1), conv1's ReLU (conv2), the block's ReLU (down).
  for (const std::string& c : convs) {
    ASSERT_TRUE(got.count(input_of(c))) << c;
    EXPECT_EQ(got[input_of(c)].role, Int8Role::LayerInput);
    EXPECT_TRUE(got[input_of(c)].non_negative) << c;
  }
  // conv1's input comes from MaxPool: it copies the grid of the stem's ReLU output, which is
  // chosen because MaxPool (8-bit capable, all inputs chosen) needs it... only if it is chosen:
  // the stem is float, so its ReLU output is no layer output; MaxPool's input is not chosen.
  EXPECT_EQ(got[input_of(convs[0])].same_grid_as, kNoValue);
  // conv2's output goes to Add with the pooled tensor (chosen): the Add's output after its ReLU
  // is down's input, already chosen; conv2's output itself is a layer output.
  const Node& conv2 = g.nodes[id_of(convs[1])];
  EXPECT_TRUE(got.count(g.values[conv2.outputs[0]].name));
  EXPECT_EQ(got[g.values[conv2.outputs[0]].name].role, Int8Role::LayerOutput);
  EXPECT_FALSE(got[g.values[conv2.outputs[0]].name].non_negative);
  // down's output after its ReLU: a layer output; GlobalAveragePool/Flatten feed the float fc,
  // so they stay float.
  const Node& down = g.nodes[id_of(convs[2])];
  const std::string down_relu = g.values[g.nodes[g.consumers(down.outputs[0])[0]].outputs[0]].name;
  ASSERT_TRUE(got.count(down_relu));
  EXPECT_EQ(got[down_relu].role, Int8Role::LayerOutput);
  for (const Node& n : g.nodes)
    if (n.op_type == "GlobalAveragePool" || n.op_type == "Flatten") {
      EXPECT_FALSE(got.count(g.values[n.outputs[0]].name)) << n.op_type;
    }
  EXPECT_EQ(got.size(), 5u);  // 3 inputs + conv2's output + down's ReLU (conv1's ReLU is conv2's input)
}

// With the fc quantized too, GlobalAveragePool and Flatten run in 8 bits between the layers:
// Flatten copies the pooled tensor's grid; the pool has its own.
TEST(Int8Tensors, OpsBetweenQuantizedLayersAreChosen) {
  Graph g = import_onnx_file(small_cnn_path());
  fold_batchnorm(g);
  std::set<NodeId> layers;
  NodeId gap = -1, flatten = -1;
  for (NodeId n = 0; n < static_cast<NodeId>(g.nodes.size()); ++n) {
    const Node& node = g.nodes[n];
    if ((node.op_type == "Conv" && g.values[node.inputs[0]].name != "input") || node.op_type == "Gemm") layers.insert(n);
    if (node.op_type == "GlobalAveragePool") gap = n;
    if (node.op_type == "Flatten") flatten = n;
  }
  std::map<ValueId, Int8Tensor> got;
  for (const Int8Tensor& t : int8_tensors(g, layers)) got[t.value] = t;
  const ValueId pooled = g.nodes[gap].outputs[0], flat = g.nodes[flatten].outputs[0];
  ASSERT_TRUE(got.count(pooled));
  EXPECT_EQ(got[pooled].role, Int8Role::BetweenLayers);
  EXPECT_EQ(got[pooled].same_grid_as, kNoValue);
  ASSERT_TRUE(got.count(flat));
  EXPECT_EQ(got[flat].role, Int8Role::LayerInput);  // the fc's input
  EXPECT_EQ(got[flat].same_grid_as, pooled);
  EXPECT_FALSE(got.count(g.outputs[0]));  // graph outputs stay float
}

}  // namespace
}  // namespace ocs
