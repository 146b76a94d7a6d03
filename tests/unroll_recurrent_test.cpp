// unroll_recurrent: the unrolled graph computes what the LSTM node computes.
//  - ONNX's own LSTM node tests (defaults, with initial bias, batchwise = layout 1): the unrolled
//    graph's outputs equal the expected outputs to 1e-5 (absolute; the values are O(0.1)). The
//    tests pass W, R, B as graph inputs; they become constants first (the pass needs constant
//    weights, as every exported model has them).
//  - Random LSTMs (forward and reverse, layout 0 and 1, with and without initial states and
//    bias, opset 11 and 14): the unrolled graph equals the LSTM reference kernel on Y, Y_h and
//    Y_c to 1e-5 of each output's scale. The kernel sums in double, the unrolled graph in float32
//    over T = 7 steps: differences are float ulps.
//  - What is not unrolled (bidirectional, peepholes, clip, a runtime sequence_lens) is left in
//    place with the reason.
#include "passes/graph_edit.h"
#include "passes/unroll_recurrent.h"

#include "model_builder.h"
#include "passes_test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <set>

namespace ocs {
namespace {

namespace fs = std::filesystem;
using namespace ocs::testing;

const fs::path kNodeTests = "/usr/share/libonnx-testdata/data/node";

// Loads an ONNX node test; inputs named in `as_constants` become constants of the graph.
struct NodeTest {
  Graph graph;
  std::map<std::string, Tensor> inputs;
  std::vector<Tensor> expected;
};

NodeTest load_node_test(const std::string& name, const std::set<std::string>& as_constants) {
  const fs::path dir = kNodeTests / name;
  NodeTest test{import_onnx_file(dir / "model.onnx"), {}, {}};
  Graph& g = test.graph;
  std::vector<ValueId> runtime;
  for (size_t k = 0; k < g.inputs.size(); ++k) {
    const ValueId id = g.inputs[k];
    Tensor t = read_tensor_proto_file(dir / "test_data_set_0" / fmt::format("input_{}.pb", k));
    if (as_constants.count(g.values[id].name)) {
      g.values[id].constant = t;
      g.values[id].shape = t.shape();
    } else {
      test.inputs[g.values[id].name] = t;
      runtime.push_back(id);
    }
  }
  g.inputs = runtime;
  for (size_t k = 0; k < g.outputs.size(); ++k)
    test.expected.push_back(read_tensor_proto_file(dir / "test_data_set_0" / fmt::format("output_{}.pb", k)));
  return test;
}

class OnnxLstmNodeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(OnnxLstmNodeTest, UnrolledMatchesExpectedOutput) {
  if (!fs::exists(kNodeTests / GetParam())) OCS_SKIP_OR_FAIL("libonnx-testdata is not installed (scripts/install_deps.sh)");
  NodeTest test = load_node_test(GetParam(), {"W", "R", "B"});
  std::vector<std::string> skipped;
  ASSERT_EQ(unroll_recurrent(test.graph, &skipped), 1) << (skipped.empty() ? "" : skipped[0]);
  EXPECT_EQ(count_ops(test.graph, "LSTM") + count_ops(test.graph, "GRU"), 0);
  const std::vector<Tensor> got = run_graph(test.graph, test.inputs);
  ASSERT_EQ(got.size(), test.expected.size());
  for (size_t k = 0; k < got.size(); ++k) EXPECT_LT(max_abs_difference(got[k], test.expected[k]), 1e-5) << "output " << k;
}

INSTANTIATE_TEST_SUITE_P(UnrollLstm, OnnxLstmNodeTest,
                         ::testing::Values("test_lstm_defaults", "test_lstm_with_initial_bias", "test_lstm_batchwise",
                                           "test_gru_defaults", "test_gru_with_initial_bias", "test_gru_batchwise",
                                           "test_gru_seq_length"));

TEST(UnrollLstm, PeepholesAreLeftInPlaceWithTheReason) {
  if (!fs::exists(kNodeTests / "test_lstm_with_peepholes")) OCS_SKIP_OR_FAIL("libonnx-testdata is not installed (scripts/install_deps.sh)");
  NodeTest test = load_node_test("test_lstm_with_peepholes", {"W", "R", "B", "sequence_lens", "P"});
  std::vector<std::string> skipped;
  EXPECT_EQ(unroll_recurrent(test.graph, &skipped), 0);
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_NE(skipped[0].find("peephole"), std::string::npos) << skipped[0];
  EXPECT_EQ(count_ops(test.graph, "LSTM"), 1);
}

// ---- random LSTMs against the reference kernel ----

struct LstmCase {
  int64_t layout = 0;
  std::string direction = "forward";
  bool bias = true;
  bool initial_state = true;
  int64_t opset = 14;
};

constexpr int64_t kT = 7, kN = 2, kI = 5, kH = 4;

void add_attr(onnx::NodeProto& n, const std::string& key, int64_t v) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}

void add_attr(onnx::NodeProto& n, const std::string& key, const std::string& v) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::STRING);
  a->set_s(v);
}

// X -> LSTM -> Y, Y_h, Y_c with random constant W, R, B; initial_h / initial_c as runtime inputs.
Graph lstm_graph(const LstmCase& c, uint32_t seed, const std::function<void(onnx::NodeProto&)>& extra = {}) {
  onnx::ModelProto m = model(c.opset);
  auto* g = m.mutable_graph();
  const bool batch_major = c.layout == 1;
  *g->add_input() = value_info("X", batch_major ? std::vector<int64_t>{kN, kT, kI} : std::vector<int64_t>{kT, kN, kI});
  const std::vector<int64_t> state = batch_major ? std::vector<int64_t>{kN, 1, kH} : std::vector<int64_t>{1, kN, kH};
  if (c.initial_state) {
    *g->add_input() = value_info("h0", state);
    *g->add_input() = value_info("c0", state);
  }
  tensor_to_proto(random_tensor({1, 4 * kH, kI}, seed, -0.8f, 0.8f), "W", g->add_initializer());
  tensor_to_proto(random_tensor({1, 4 * kH, kH}, seed + 1, -0.8f, 0.8f), "R", g->add_initializer());
  if (c.bias) tensor_to_proto(random_tensor({1, 8 * kH}, seed + 2, -0.5f, 0.5f), "B", g->add_initializer());
  auto n = node("LSTM", {"X", "W", "R", c.bias ? "B" : "", "", c.initial_state ? "h0" : "", c.initial_state ? "c0" : ""},
                {"Y", "Y_h", "Y_c"}, "lstm");
  add_attr(n, "hidden_size", kH);
  add_attr(n, "direction", c.direction);
  if (c.opset >= 14) add_attr(n, "layout", c.layout);
  if (extra) extra(n);
  *g->add_node() = n;
  *g->add_output() = value_info("Y", batch_major ? std::vector<int64_t>{kN, kT, 1, kH} : std::vector<int64_t>{kT, 1, kN, kH});
  *g->add_output() = value_info("Y_h", state);
  *g->add_output() = value_info("Y_c", state);
  return import_onnx_bytes(serialize(m), ".", "lstm_graph");
}

std::map<std::string, Tensor> lstm_inputs(const LstmCase& c, uint32_t seed) {
  const bool batch_major = c.layout == 1;
  std::map<std::string, Tensor> in;
  in["X"] = random_tensor(batch_major ? Shape{kN, kT, kI} : Shape{kT, kN, kI}, seed, -2.0f, 2.0f);
  if (c.initial_state) {
    const Shape state = batch_major ? Shape{kN, 1, kH} : Shape{1, kN, kH};
    in["h0"] = random_tensor(state, seed + 1);
    in["c0"] = random_tensor(state, seed + 2);
  }
  return in;
}

class RandomLstmTest : public ::testing::TestWithParam<LstmCase> {};

TEST_P(RandomLstmTest, UnrolledEqualsTheLstmKernel) {
  const LstmCase c = GetParam();
  const Graph original = lstm_graph(c, 11);
  Graph unrolled = original;
  ASSERT_EQ(unroll_recurrent(unrolled), 1);
  EXPECT_EQ(count_ops(unrolled, "LSTM"), 0);
  // One constant W^T and one R^T, read by every step's MatMul.
  std::set<ValueId> recurrent_weights;
  int64_t matmuls = 0;
  for (const Node& n : unrolled.nodes)
    if (n.op_type == "MatMul") {
      ++matmuls;
      ASSERT_TRUE(unrolled.values[n.inputs[1]].constant.has_value());
      recurrent_weights.insert(n.inputs[1]);
    }
  EXPECT_EQ(recurrent_weights.size(), 2u);
  EXPECT_EQ(matmuls, 1 + (c.initial_state ? kT : kT - 1));  // the first step has no R MatMul on a zero state
  const auto inputs = lstm_inputs(c, 5);
  const std::vector<Tensor> want = run_graph(original, inputs, /*reference=*/true);
  const std::vector<Tensor> got = run_graph(unrolled, inputs, /*reference=*/true);
  ASSERT_EQ(want.size(), 3u);
  ASSERT_EQ(got.size(), 3u);
  for (size_t k = 0; k < 3; ++k) EXPECT_LT(max_relative_difference(want[k], got[k]), 1e-5) << "output " << k;
  // The fast kernels agree too (the engine's default).
  const std::vector<Tensor> fast = run_graph(unrolled, inputs);
  for (size_t k = 0; k < 3; ++k) EXPECT_LT(max_relative_difference(want[k], fast[k]), 1e-5) << "output " << k;
  // Export and re-import keep it.
  const Graph again = import_onnx_bytes(export_onnx_bytes(unrolled), ".", "unrolled");
  const std::vector<Tensor> reloaded = run_graph(again, inputs, true);
  for (size_t k = 0; k < 3; ++k) EXPECT_LT(max_relative_difference(want[k], reloaded[k]), 1e-5) << "output " << k;
}

INSTANTIATE_TEST_SUITE_P(
    UnrollLstm, RandomLstmTest,
    ::testing::Values(LstmCase{0, "forward", true, true, 14}, LstmCase{1, "forward", true, true, 14},
                      LstmCase{0, "reverse", true, true, 14}, LstmCase{1, "reverse", false, false, 14},
                      LstmCase{0, "forward", false, false, 14}, LstmCase{0, "forward", true, true, 11},
                      LstmCase{0, "reverse", true, false, 11}));

// PyTorch passes zeros as initial_h / initial_c when no state is given: treated as absent (no R
// MatMul on the first step), same outputs.
TEST(UnrollLstm, ConstantZeroInitialStateIsDroppedFromTheFirstStep) {
  Graph original = lstm_graph(LstmCase{}, 17);
  const Shape state{1, kN, kH};
  for (const char* name : {"h0", "c0"}) {
    const ValueId id = original.find_value(name);
    original.values[id].constant = Tensor(DType::Float32, state);
    original.inputs.erase(std::find(original.inputs.begin(), original.inputs.end(), id));
  }
  Graph unrolled = original;
  ASSERT_EQ(unroll_recurrent(unrolled), 1);
  EXPECT_EQ(count_ops(unrolled, "MatMul"), 1 + kT - 1);
  EXPECT_EQ(unrolled.find_value("h0"), kNoValue);  // the unused zeros are gone
  const std::map<std::string, Tensor> inputs{{"X", random_tensor({kT, kN, kI}, 3, -2.0f, 2.0f)}};
  const std::vector<Tensor> want = run_graph(original, inputs, true);
  const std::vector<Tensor> got = run_graph(unrolled, inputs, true);
  for (size_t k = 0; k < 3; ++k) EXPECT_LT(max_relative_difference(want[k], got[k]), 1e-5) << "output " << k;
}

// The PyTorch form: initial_h = initial_c = ConstantOfShape(shape) with the default value 0.
TEST(UnrollLstm, ConstantOfShapeZeroInitialStateIsDroppedFromTheFirstStep) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("X", {kT, kN, kI});
  tensor_to_proto(random_tensor({1, 4 * kH, kI}, 31), "W", g->add_initializer());
  tensor_to_proto(random_tensor({1, 4 * kH, kH}, 32), "R", g->add_initializer());
  tensor_to_proto(Tensor::from_vector<int64_t>({3}, {1, kN, kH}), "state_shape", g->add_initializer());
  *g->add_node() = node("ConstantOfShape", {"state_shape"}, {"zeros"}, "zeros");
  auto n = node("LSTM", {"X", "W", "R", "", "", "zeros", "zeros"}, {"Y"}, "lstm");
  add_attr(n, "hidden_size", kH);
  *g->add_node() = n;
  *g->add_output() = value_info("Y", {kT, 1, kN, kH});
  const Graph original = import_onnx_bytes(serialize(m), ".", "zeros");
  Graph unrolled = original;
  ASSERT_EQ(unroll_recurrent(unrolled), 1);
  EXPECT_EQ(count_ops(unrolled, "MatMul"), 1 + kT - 1);
  const std::map<std::string, Tensor> inputs{{"X", random_tensor({kT, kN, kI}, 4, -2.0f, 2.0f)}};
  EXPECT_LT(max_relative_difference(run_graph(original, inputs, true)[0], run_graph(unrolled, inputs, true)[0]), 1e-5);
}

TEST(UnrollLstm, UnsupportedNodesAreLeftInPlaceWithTheReason) {
  struct Case {
    std::string what;
    LstmCase lstm;
    std::function<void(onnx::NodeProto&)> extra;
  };
  auto clip = [](onnx::NodeProto& n) {
    auto* a = n.add_attribute();
    a->set_name("clip");
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(3.0f);
  };
  auto relu = [](onnx::NodeProto& n) {
    auto* a = n.add_attribute();
    a->set_name("activations");
    a->set_type(onnx::AttributeProto::STRINGS);
    for (const char* s : {"Sigmoid", "Relu", "Tanh"}) a->add_strings(s);
  };
  LstmCase bidirectional;
  bidirectional.direction = "bidirectional";
  for (const Case& c : {Case{"clip", LstmCase{}, clip}, Case{"activations", LstmCase{}, relu},
                        Case{"bidirectional", bidirectional, {}}}) {
    Graph g = lstm_graph(c.lstm, 3, c.extra);
    std::vector<std::string> skipped;
    EXPECT_EQ(unroll_recurrent(g, &skipped), 0) << c.what;
    ASSERT_EQ(skipped.size(), 1u) << c.what;
    EXPECT_NE(skipped[0].find(c.what), std::string::npos) << skipped[0];
    EXPECT_NE(skipped[0].find("lstm"), std::string::npos) << skipped[0];  // names the node
    EXPECT_EQ(count_ops(g, "LSTM"), 1);
  }
  // Default activations spelled out are fine.
  Graph spelled = lstm_graph(LstmCase{}, 3, [](onnx::NodeProto& n) {
    auto* a = n.add_attribute();
    a->set_name("activations");
    a->set_type(onnx::AttributeProto::STRINGS);
    for (const char* s : {"sigmoid", "Tanh", "TANH"}) a->add_strings(s);
  });
  EXPECT_EQ(unroll_recurrent(spelled), 1);
}

// ---- GRU (same pattern) ----

// X -> GRU -> Y, Y_h with random constant W, R, B and a runtime initial_h (or none).
Graph gru_graph(int64_t linear_before_reset, const std::string& direction, bool initial_state, int64_t layout) {
  onnx::ModelProto m = model(14);
  auto* g = m.mutable_graph();
  const bool batch_major = layout == 1;
  *g->add_input() = value_info("X", batch_major ? std::vector<int64_t>{kN, kT, kI} : std::vector<int64_t>{kT, kN, kI});
  const std::vector<int64_t> state = batch_major ? std::vector<int64_t>{kN, 1, kH} : std::vector<int64_t>{1, kN, kH};
  if (initial_state) *g->add_input() = value_info("h0", state);
  tensor_to_proto(random_tensor({1, 3 * kH, kI}, 41, -0.8f, 0.8f), "W", g->add_initializer());
  tensor_to_proto(random_tensor({1, 3 * kH, kH}, 42, -0.8f, 0.8f), "R", g->add_initializer());
  tensor_to_proto(random_tensor({1, 6 * kH}, 43, -0.5f, 0.5f), "B", g->add_initializer());
  auto n = node("GRU", {"X", "W", "R", "B", "", initial_state ? "h0" : ""}, {"Y", "Y_h"}, "gru");
  add_attr(n, "hidden_size", kH);
  add_attr(n, "direction", direction);
  add_attr(n, "layout", layout);
  add_attr(n, "linear_before_reset", linear_before_reset);
  *g->add_node() = n;
  *g->add_output() = value_info("Y", batch_major ? std::vector<int64_t>{kN, kT, 1, kH} : std::vector<int64_t>{kT, 1, kN, kH});
  *g->add_output() = value_info("Y_h", state);
  return import_onnx_bytes(serialize(m), ".", "gru_graph");
}

TEST(UnrollGru, UnrolledEqualsTheGruKernel) {
  for (int64_t lbr : {0, 1})
    for (const char* direction : {"forward", "reverse"})
      for (bool initial_state : {true, false})
        for (int64_t layout : {0, 1}) {
          const std::string what = fmt::format("linear_before_reset {} {} initial_h {} layout {}", lbr, direction, initial_state, layout);
          const Graph original = gru_graph(lbr, direction, initial_state, layout);
          Graph unrolled = original;
          ASSERT_EQ(unroll_recurrent(unrolled), 1) << what;
          EXPECT_EQ(count_ops(unrolled, "GRU"), 0);
          // One input MatMul; per step with a state: one MatMul (lbr 1) or two (lbr 0).
          const int64_t steps_with_state = initial_state ? kT : kT - 1;
          EXPECT_EQ(count_ops(unrolled, "MatMul"), 1 + steps_with_state * (lbr ? 1 : 2)) << what;
          std::map<std::string, Tensor> inputs;
          inputs["X"] = random_tensor(layout ? Shape{kN, kT, kI} : Shape{kT, kN, kI}, 8, -2.0f, 2.0f);
          if (initial_state) inputs["h0"] = random_tensor(layout ? Shape{kN, 1, kH} : Shape{1, kN, kH}, 9);
          const std::vector<Tensor> want = run_graph(original, inputs, true);
          const std::vector<Tensor> got = run_graph(unrolled, inputs, true);
          ASSERT_EQ(got.size(), 2u);
          for (size_t k = 0; k < 2; ++k) EXPECT_LT(max_relative_difference(want[k], got[k]), 1e-5) << what << " output " << k;
        }
}

// Silero VAD keeps its eight LSTMs inside nested If branches: none is unrolled, each is reported.
TEST(UnrollLstm, LstmsInsideSubgraphsAreReported) {
  const fs::path model = ocs_cache() / "models" / "silero_vad.onnx";
  if (!fs::exists(model)) OCS_SKIP_OR_FAIL(model << " is missing (run scripts/fetch_models.sh)");
  Graph g = import_onnx_file(model);
  const size_t nodes = g.nodes.size();
  std::vector<std::string> skipped;
  EXPECT_EQ(unroll_recurrent(g, &skipped), 0);
  EXPECT_EQ(g.nodes.size(), nodes);
  ASSERT_EQ(skipped.size(), 8u);
  for (const auto& reason : skipped) EXPECT_NE(reason.find("only top-level LSTM/GRU nodes are unrolled"), std::string::npos) << reason;
}

}  // namespace
}  // namespace ocs
