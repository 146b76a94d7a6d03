// Tests for the LSTM, GRU and RNN reference kernels.
//  - Hand-checked cases with one hidden unit: the expected values come from the ONNX equations
//    written out again here as scalar code (not the kernel's loops).
//  - Structural identities: a bidirectional node equals a forward and a reverse node; layout 1
//    equals layout 0 transposed; float64 agrees with float32.
//  - ONNX's own node-test data (tests/recurrent_onnx_data.inc, generated from
//    /usr/share/libonnx-testdata by tests/recurrent_onnx_data.py).
#include "core/tensor.h"
#include "ir/graph.h"
#include "kernels/kernel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace ocs {
namespace {

using Attributes = std::map<std::string, Attribute>;

std::pair<std::string, Attribute> int_attribute(const std::string& name, int64_t value) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = value;
  return {name, a};
}
std::pair<std::string, Attribute> float_attribute(const std::string& name, float value) {
  Attribute a;
  a.kind = Attribute::Kind::Float;
  a.f = value;
  return {name, a};
}
std::pair<std::string, Attribute> string_attribute(const std::string& name, const std::string& value) {
  Attribute a;
  a.kind = Attribute::Kind::String;
  a.s = value;
  return {name, a};
}
std::pair<std::string, Attribute> floats_attribute(const std::string& name, std::vector<float> values) {
  Attribute a;
  a.kind = Attribute::Kind::Floats;
  a.floats = std::move(values);
  return {name, a};
}
std::pair<std::string, Attribute> strings_attribute(const std::string& name,
                                                    std::vector<std::string> values) {
  Attribute a;
  a.kind = Attribute::Kind::Strings;
  a.strings = std::move(values);
  return {name, a};
}

// Runs the registered reference kernel of `op_type` on `inputs` (undefined = absent).
std::vector<Tensor> run_kernel(const std::string& op_type, std::vector<Tensor> inputs,
                               Attributes attributes, size_t num_outputs, int64_t opset = 14) {
  Node node;
  node.name = "test";
  node.op_type = op_type;
  for (size_t i = 0; i < inputs.size(); ++i)
    node.inputs.push_back(inputs[i].defined() ? static_cast<ValueId>(i) : kNoValue);
  for (size_t o = 0; o < num_outputs; ++o)
    node.outputs.push_back(static_cast<ValueId>(inputs.size() + o));
  node.attributes = std::move(attributes);
  std::vector<Tensor> outputs(num_outputs);
  KernelContext ctx{node, inputs, outputs, opset};
  const KernelEntry* entry = KernelRegistry::global().find("", op_type);
  EXPECT_NE(entry, nullptr) << op_type << " is not registered";
  if (entry) entry->reference(ctx);
  return outputs;
}

Tensor f32(Shape shape, std::vector<float> values) {
  return Tensor::from_vector<float>(std::move(shape), values);
}

std::vector<float> random_values(std::mt19937& rng, int64_t count, float scale = 1.0f) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> values(static_cast<size_t>(count));
  for (float& v : values) v = normal(rng);
  return values;
}

// Absolute plus relative tolerance: |got - want| <= atol + rtol * |want|.
void expect_close(const Tensor& got, const Shape& want_shape, const std::vector<double>& want,
                  double atol, double rtol, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what << " was not produced";
  ASSERT_EQ(got.shape(), want_shape) << what;
  const std::vector<double> values = got.to_double_vector();
  ASSERT_EQ(values.size(), want.size()) << what;
  for (size_t k = 0; k < want.size(); ++k)
    EXPECT_NEAR(values[k], want[k], atol + rtol * std::fabs(want[k])) << what << " element " << k;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// ---- RNN, one unit ----

TEST(RecurrentRnn, OneUnitForwardMatchesScalarRecurrence) {
  const std::vector<float> xs = {0.5f, -1.0f, 2.0f};
  const float w = 0.7f, r = -0.4f, wb = 0.1f, rb = 0.2f, h0 = 0.3f;
  auto out = run_kernel("RNN",
                        {f32({3, 1, 1}, xs), f32({1, 1, 1}, {w}), f32({1, 1, 1}, {r}),
                         f32({1, 2}, {wb, rb}), Tensor(), f32({1, 1, 1}, {h0})},
                        {int_attribute("hidden_size", 1)}, 2);
  std::vector<double> want_y;
  double h = h0;
  for (float x : xs) {
    h = std::tanh(w * x + r * h + wb + rb);
    want_y.push_back(h);
  }
  expect_close(out[0], {3, 1, 1, 1}, want_y, 1e-6, 1e-6, "Y");
  expect_close(out[1], {1, 1, 1}, {h}, 1e-6, 1e-6, "Y_h");
}

TEST(RecurrentRnn, ReverseWithSequenceLensPadsYAndKeepsLastValidState) {
  // seq_length 3, batch 2 (lengths 3 and 2), input 1, hidden 1. X[t, b].
  const std::vector<float> x = {0.5f, -0.25f, 1.0f, 0.75f, -2.0f, 9.0f};
  const float w = 0.8f, r = 0.5f;
  auto out = run_kernel("RNN",
                        {f32({3, 2, 1}, x), f32({1, 1, 1}, {w}), f32({1, 1, 1}, {r}), Tensor(),
                         Tensor::from_vector<int32_t>({2}, {3, 2})},
                        {int_attribute("hidden_size", 1), string_attribute("direction", "reverse")},
                        2);
  // Batch 0 visits t = 2, 1, 0; batch 1 visits t = 1, 0 (t = 2 is padding: 9.0 never read).
  const double b0_t2 = std::tanh(w * x[4]);
  const double b0_t1 = std::tanh(w * x[2] + r * b0_t2);
  const double b0_t0 = std::tanh(w * x[0] + r * b0_t1);
  const double b1_t1 = std::tanh(w * x[3]);
  const double b1_t0 = std::tanh(w * x[1] + r * b1_t1);
  // Y is [seq, dir, batch, hidden].
  expect_close(out[0], {3, 1, 2, 1}, {b0_t0, b1_t0, b0_t1, b1_t1, b0_t2, 0.0}, 1e-6, 1e-6, "Y");
  expect_close(out[1], {1, 2, 1}, {b0_t0, b1_t0}, 1e-6, 1e-6, "Y_h");
}

TEST(RecurrentRnn, ZeroLengthSequenceGivesZeros) {
  // ONNX Runtime's behaviour: Y and Y_h are zero for a batch entry of length 0, even with an
  // initial state.
  auto out = run_kernel("RNN",
                        {f32({2, 2, 1}, {1, 2, 3, 4}), f32({1, 1, 1}, {1}), f32({1, 1, 1}, {1}),
                         Tensor(), Tensor::from_vector<int32_t>({2}, {0, 2}),
                         f32({1, 2, 1}, {0.5f, 0.5f})},
                        {int_attribute("hidden_size", 1)}, 2);
  const double b1_t0 = std::tanh(2.0 + 0.5);
  const double b1_t1 = std::tanh(4.0 + b1_t0);
  expect_close(out[0], {2, 1, 2, 1}, {0.0, b1_t0, 0.0, b1_t1}, 1e-6, 1e-6, "Y");
  expect_close(out[1], {1, 2, 1}, {0.0, b1_t1}, 1e-6, 1e-6, "Y_h");
}

// Each activation by name through a one-step, one-unit RNN with W = 1, R = 0, B = 0, so that
// Y = activation(x); the batch carries the sample points.
TEST(RecurrentRnn, ActivationsByNameWithAlphaBeta) {
  const std::vector<float> xs = {-3.0f, -0.5f, 0.0f, 0.25f, 1.5f, 4.0f};
  const int64_t n = static_cast<int64_t>(xs.size());
  struct Case {
    std::string name;
    std::vector<float> alpha, beta;
    double (*expected)(double x);
  };
  const std::vector<Case> cases = {
      {"Relu", {}, {}, [](double x) { return x > 0 ? x : 0.0; }},
      {"Tanh", {}, {}, [](double x) { return std::tanh(x); }},
      {"Sigmoid", {}, {}, [](double x) { return 1.0 / (1.0 + std::exp(-x)); }},
      {"Affine", {2.0f}, {0.5f}, [](double x) { return 2.0 * x + 0.5; }},
      {"Affine", {}, {}, [](double x) { return x; }},  // ONNX Affine defaults: alpha 1, beta 0
      {"LeakyRelu", {0.2f}, {}, [](double x) { return x >= 0 ? x : 0.2 * x; }},
      {"LeakyRelu", {}, {}, [](double x) { return x >= 0 ? x : 0.01 * x; }},
      {"ThresholdedRelu", {0.3f}, {}, [](double x) { return x >= 0.3 ? x : 0.0; }},
      {"ThresholdedRelu", {}, {}, [](double x) { return x >= 1.0 ? x : 0.0; }},
      {"ScaledTanh", {2.0f}, {0.5f}, [](double x) { return 2.0 * std::tanh(0.5 * x); }},
      {"HardSigmoid", {0.3f}, {0.4f}, [](double x) { return std::fmin(std::fmax(0.3 * x + 0.4, 0.0), 1.0); }},
      {"HardSigmoid", {}, {}, [](double x) { return std::fmin(std::fmax(0.2 * x + 0.5, 0.0), 1.0); }},
      {"Elu", {0.5f}, {}, [](double x) { return x >= 0 ? x : 0.5 * (std::exp(x) - 1.0); }},
      {"Elu", {}, {}, [](double x) { return x >= 0 ? x : std::exp(x) - 1.0; }},
      {"Softsign", {}, {}, [](double x) { return x / (1.0 + std::fabs(x)); }},
      {"Softplus", {}, {}, [](double x) { return std::log(1.0 + std::exp(x)); }},
      {"relu", {}, {}, [](double x) { return x > 0 ? x : 0.0; }},  // names are case-insensitive
  };
  for (const Case& c : cases) {
    Attributes attributes = {int_attribute("hidden_size", 1),
                             strings_attribute("activations", {c.name})};
    if (!c.alpha.empty()) attributes.insert(floats_attribute("activation_alpha", c.alpha));
    if (!c.beta.empty()) attributes.insert(floats_attribute("activation_beta", c.beta));
    auto out = run_kernel("RNN", {f32({1, n, 1}, xs), f32({1, 1, 1}, {1}), f32({1, 1, 1}, {0})},
                          attributes, 2);
    std::vector<double> want;
    for (float x : xs) want.push_back(c.expected(x));
    expect_close(out[0], {1, 1, n, 1}, want, 1e-6, 1e-6, "Y of " + c.name);
  }
}

TEST(RecurrentRnn, AlphaBetaAreConsumedOnlyByFunctionsThatTakeThem) {
  // Bidirectional, activations forward = LeakyRelu (alpha), reverse = Affine (alpha, beta):
  // alpha = {0.1, 2}, beta = {0.5}, so LeakyRelu gets 0.1 and Affine gets 2 and 0.5.
  const std::vector<float> xs = {-1.0f, 3.0f};
  auto out = run_kernel("RNN",
                        {f32({1, 2, 1}, xs), f32({2, 1, 1}, {1, 1}), f32({2, 1, 1}, {0, 0})},
                        {int_attribute("hidden_size", 1), string_attribute("direction", "bidirectional"),
                         strings_attribute("activations", {"LeakyRelu", "Affine"}),
                         floats_attribute("activation_alpha", {0.1f, 2.0f}),
                         floats_attribute("activation_beta", {0.5f})},
                        2);
  // Y is [seq 1, dir 2, batch 2, hidden 1].
  expect_close(out[0], {1, 2, 2, 1}, {-0.1, 3.0, 2.0 * -1.0 + 0.5, 2.0 * 3.0 + 0.5}, 1e-6, 1e-6, "Y");
}

// ---- LSTM, one unit ----

struct ScalarLstm {
  // W, R, Wb, Rb in gate order i, o, f, c; P in order i, o, f.
  double W[4], R[4], Wb[4], Rb[4], P[3];
  double clip = 0.0;  // 0: none
  bool input_forget = false;

  double clipped(double x) const { return clip > 0 ? std::fmin(std::fmax(x, -clip), clip) : x; }
  void step(double x, double& h, double& c) const {
    const double i = sigmoid(clipped(W[0] * x + R[0] * h + P[0] * c + Wb[0] + Rb[0]));
    const double f = input_forget ? 1.0 - i : sigmoid(clipped(W[2] * x + R[2] * h + P[2] * c + Wb[2] + Rb[2]));
    const double g = std::tanh(clipped(W[3] * x + R[3] * h + Wb[3] + Rb[3]));
    const double c_new = f * c + i * g;
    const double o = sigmoid(clipped(W[1] * x + R[1] * h + P[1] * c_new + Wb[1] + Rb[1]));
    h = o * std::tanh(clipped(c_new));
    c = c_new;
  }
};

std::vector<Tensor> run_scalar_lstm(const ScalarLstm& m, const std::vector<float>& xs, float h0,
                                    float c0) {
  std::vector<float> W(m.W, m.W + 4), R(m.R, m.R + 4), B(m.Wb, m.Wb + 4), P(m.P, m.P + 3);
  B.insert(B.end(), m.Rb, m.Rb + 4);
  Attributes attributes = {int_attribute("hidden_size", 1),
                           int_attribute("input_forget", m.input_forget ? 1 : 0)};
  if (m.clip > 0) attributes.insert(float_attribute("clip", static_cast<float>(m.clip)));
  const int64_t steps = static_cast<int64_t>(xs.size());
  return run_kernel("LSTM",
                    {f32({steps, 1, 1}, xs), f32({1, 4, 1}, W), f32({1, 4, 1}, R), f32({1, 8}, B),
                     Tensor(), f32({1, 1, 1}, {h0}), f32({1, 1, 1}, {c0}), f32({1, 3}, P)},
                    attributes, 3);
}

TEST(RecurrentLstm, OneUnitWithPeepholesMatchesScalarEquations) {
  // Values are exactly representable in float32 so the scalar model sees the same weights.
  ScalarLstm m{{0.5, -0.25, 0.75, 1.0}, {0.125, 0.5, -0.5, 0.25}, {0.0625, 0.125, 0.25, -0.125},
               {0.5, -0.5, 0.25, 0.0}, {0.25, -0.75, 0.5}};
  const std::vector<float> xs = {1.0f, -2.0f, 0.5f, 3.0f};
  auto out = run_scalar_lstm(m, xs, 0.25f, -0.5f);
  double h = 0.25, c = -0.5;
  std::vector<double> want_y;
  for (float x : xs) {
    m.step(x, h, c);
    want_y.push_back(h);
  }
  expect_close(out[0], {4, 1, 1, 1}, want_y, 1e-6, 1e-6, "Y");
  expect_close(out[1], {1, 1, 1}, {h}, 1e-6, 1e-6, "Y_h");
  expect_close(out[2], {1, 1, 1}, {c}, 1e-6, 1e-6, "Y_c");
}

// Runs the scalar model and the kernel on the same steps; returns the final cell state.
double expect_lstm_matches_scalar(const ScalarLstm& m, const std::vector<float>& xs) {
  auto out = run_scalar_lstm(m, xs, 0.0f, 0.0f);
  double h = 0.0, c = 0.0;
  std::vector<double> want_y;
  for (float x : xs) {
    m.step(x, h, c);
    want_y.push_back(h);
  }
  const int64_t steps = static_cast<int64_t>(xs.size());
  expect_close(out[0], {steps, 1, 1, 1}, want_y, 1e-6, 1e-6, "Y");
  expect_close(out[1], {1, 1, 1}, {h}, 1e-6, 1e-6, "Y_h");
  expect_close(out[2], {1, 1, 1}, {c}, 1e-6, 1e-6, "Y_c");
  return c;
}

// Large weights so that clip = 0.5 bounds every gate input.
const ScalarLstm kLargeLstm{{3.0, 2.0, 4.0, 5.0}, {1.0, 1.5, 2.0, 2.5}, {0.5, 0.5, 0.5, 0.5},
                            {0.0, 0.0, 0.0, 0.0}, {1.0, 1.0, 1.0}};
const std::vector<float> kLargeLstmSteps = {1.0f, 2.0f, -1.0f, 1.5f, 2.5f, 3.0f, 2.0f};

TEST(RecurrentLstm, ClipMatchesScalarEquations) {
  ScalarLstm m = kLargeLstm;
  m.clip = 0.5;
  const double c = expect_lstm_matches_scalar(m, kLargeLstmSteps);
  // The cell state outgrows the bound: h(Ct) sees the clipped value, Ct carries on unclipped.
  EXPECT_GT(c, 0.5);
}

TEST(RecurrentLstm, InputForgetMatchesScalarEquations) {
  ScalarLstm m = kLargeLstm;
  m.input_forget = true;
  expect_lstm_matches_scalar(m, kLargeLstmSteps);
  m.clip = 0.5;
  expect_lstm_matches_scalar(m, kLargeLstmSteps);
}

// ---- GRU, one unit ----

TEST(RecurrentGru, OneUnitBothResetModesMatchScalarEquations) {
  // Gate order z, r, h. Rbh != 0 is what separates the two modes for one unit.
  const double W[3] = {0.5, -0.75, 1.25}, R[3] = {0.25, 0.5, -1.5};
  const double Wb[3] = {0.125, -0.25, 0.5}, Rb[3] = {0.25, 0.375, -0.625};
  const std::vector<float> xs = {1.0f, -0.5f, 2.0f};
  const float h0 = -0.25f;
  for (int linear_before_reset = 0; linear_before_reset <= 1; ++linear_before_reset) {
    std::vector<float> B(Wb, Wb + 3);
    B.insert(B.end(), Rb, Rb + 3);
    auto out = run_kernel("GRU",
                          {f32({3, 1, 1}, xs), f32({1, 3, 1}, std::vector<float>(W, W + 3)),
                           f32({1, 3, 1}, std::vector<float>(R, R + 3)), f32({1, 6}, B), Tensor(),
                           f32({1, 1, 1}, {h0})},
                          {int_attribute("hidden_size", 1),
                           int_attribute("linear_before_reset", linear_before_reset)},
                          2);
    double h = h0;
    std::vector<double> want_y;
    for (float x : xs) {
      const double z = sigmoid(W[0] * x + R[0] * h + Wb[0] + Rb[0]);
      const double r = sigmoid(W[1] * x + R[1] * h + Wb[1] + Rb[1]);
      const double candidate = linear_before_reset
                                   ? std::tanh(W[2] * x + r * (R[2] * h + Rb[2]) + Wb[2])
                                   : std::tanh(W[2] * x + R[2] * (r * h) + Rb[2] + Wb[2]);
      h = (1 - z) * candidate + z * h;
      want_y.push_back(h);
    }
    const std::string mode = "linear_before_reset=" + std::to_string(linear_before_reset);
    expect_close(out[0], {3, 1, 1, 1}, want_y, 1e-6, 1e-6, "Y " + mode);
    expect_close(out[1], {1, 1, 1}, {h}, 1e-6, 1e-6, "Y_h " + mode);
  }
}

// ---- Structure: directions, layout, dtype ----

struct RandomProblem {
  int64_t seq_length = 4, batch = 3, input_size = 3, hidden = 2;
  std::vector<float> X, W, R, B, initial_h, initial_c, P;
};

RandomProblem make_random_problem(int64_t gates, int64_t num_directions, uint32_t seed) {
  std::mt19937 rng(seed);
  RandomProblem p;
  const int64_t D = num_directions, H = p.hidden;
  p.X = random_values(rng, p.seq_length * p.batch * p.input_size);
  p.W = random_values(rng, D * gates * H * p.input_size, 0.5f);
  p.R = random_values(rng, D * gates * H * H, 0.5f);
  p.B = random_values(rng, D * 2 * gates * H, 0.5f);
  p.initial_h = random_values(rng, D * p.batch * H, 0.5f);
  p.initial_c = random_values(rng, D * p.batch * H, 0.5f);
  p.P = random_values(rng, D * 3 * H, 0.5f);
  return p;
}

// Slot `dir` of a [D, ...] block laid out contiguously.
std::vector<float> slot(const std::vector<float>& v, int64_t num_directions, int64_t dir) {
  const size_t n = v.size() / static_cast<size_t>(num_directions);
  return {v.begin() + dir * n, v.begin() + (dir + 1) * n};
}

// Runs `op` (layout 0) on the problem's X and sequence lengths {4, 1, 3} with the given
// per-direction weights and states.
std::vector<Tensor> run_problem(const std::string& op, int64_t gates, const RandomProblem& p,
                                int64_t num_directions, const std::string& direction,
                                std::vector<float> W, std::vector<float> R, std::vector<float> B,
                                std::vector<float> h0, std::vector<float> c0, std::vector<float> P,
                                Attributes extra = {}) {
  const int64_t D = num_directions, H = p.hidden;
  std::vector<Tensor> inputs = {f32({p.seq_length, p.batch, p.input_size}, p.X),
                                f32({D, gates * H, p.input_size}, W), f32({D, gates * H, H}, R),
                                f32({D, 2 * gates * H}, B),
                                Tensor::from_vector<int32_t>({p.batch}, {4, 1, 3}),
                                f32({D, p.batch, H}, h0)};
  if (op == "LSTM") {
    inputs.push_back(f32({D, p.batch, H}, c0));
    inputs.push_back(f32({D, 3 * H}, P));
  }
  extra.insert(int_attribute("hidden_size", H));
  extra.insert(string_attribute("direction", direction));
  return run_kernel(op, inputs, extra, op == "LSTM" ? 3 : 2);
}

TEST(RecurrentStructure, BidirectionalEqualsForwardAndReverseNodes) {
  struct OpSpec { std::string op; int64_t gates; std::vector<std::string> activations; };
  const std::vector<OpSpec> ops = {{"RNN", 1, {"Relu", "Softsign"}},
                                   {"GRU", 3, {"Sigmoid", "Tanh", "HardSigmoid", "Softsign"}},
                                   {"LSTM", 4, {"Sigmoid", "Tanh", "Tanh", "HardSigmoid", "Elu", "Softsign"}}};
  for (const OpSpec& spec : ops) {
    const RandomProblem p = make_random_problem(spec.gates, 2, 11);
    const size_t per_dir = spec.activations.size() / 2;
    const std::vector<std::string> fw_act(spec.activations.begin(), spec.activations.begin() + per_dir);
    const std::vector<std::string> bw_act(spec.activations.begin() + per_dir, spec.activations.end());
    auto both = run_problem(spec.op, spec.gates, p, 2, "bidirectional", p.W, p.R, p.B, p.initial_h,
                            p.initial_c, p.P, {strings_attribute("activations", spec.activations)});
    std::vector<Tensor> single[2];
    single[0] = run_problem(spec.op, spec.gates, p, 1, "forward", slot(p.W, 2, 0), slot(p.R, 2, 0),
                            slot(p.B, 2, 0), slot(p.initial_h, 2, 0), slot(p.initial_c, 2, 0),
                            slot(p.P, 2, 0), {strings_attribute("activations", fw_act)});
    single[1] = run_problem(spec.op, spec.gates, p, 1, "reverse", slot(p.W, 2, 1), slot(p.R, 2, 1),
                            slot(p.B, 2, 1), slot(p.initial_h, 2, 1), slot(p.initial_c, 2, 1),
                            slot(p.P, 2, 1), {strings_attribute("activations", bw_act)});
    // Y is [seq, D, batch, H]; pick out each direction's [seq, 1, batch, H].
    const std::vector<float> y = both[0].to_vector<float>();
    const int64_t block = p.batch * p.hidden;
    for (int64_t dir = 0; dir < 2; ++dir) {
      std::vector<double> want_y;
      for (int64_t t = 0; t < p.seq_length; ++t)
        for (int64_t k = 0; k < block; ++k) want_y.push_back(y[(t * 2 + dir) * block + k]);
      // Same arithmetic in the same order: the results must agree to the last bit.
      expect_close(single[dir][0], {p.seq_length, 1, p.batch, p.hidden}, want_y, 0, 0,
                   spec.op + " Y direction " + std::to_string(dir));
      for (size_t o = 1; o < both.size(); ++o) {
        const std::vector<double> state = both[o].to_double_vector();
        std::vector<double> want(state.begin() + dir * block, state.begin() + (dir + 1) * block);
        expect_close(single[dir][o], {1, p.batch, p.hidden}, want, 0, 0,
                     spec.op + " output " + std::to_string(o) + " direction " + std::to_string(dir));
      }
    }
  }
}

// Transposes a row-major tensor with dims (a, b, rest) to (b, a, rest).
std::vector<float> swap_first_axes(const std::vector<float>& v, int64_t a, int64_t b, int64_t rest) {
  std::vector<float> out(v.size());
  for (int64_t i = 0; i < a; ++i)
    for (int64_t j = 0; j < b; ++j)
      for (int64_t k = 0; k < rest; ++k) out[(j * a + i) * rest + k] = v[(i * b + j) * rest + k];
  return out;
}

TEST(RecurrentStructure, LayoutOneIsLayoutZeroTransposed) {
  const RandomProblem p = make_random_problem(4, 2, 5);
  const int64_t D = 2, H = p.hidden, S = p.seq_length, N = p.batch, I = p.input_size;
  auto layout0 = run_problem("LSTM", 4, p, D, "bidirectional", p.W, p.R, p.B, p.initial_h,
                             p.initial_c, p.P);
  // Layout 1: X [batch, seq, input], states [batch, D, H], Y [batch, seq, D, H].
  const std::vector<Tensor> inputs = {
      f32({N, S, I}, swap_first_axes(p.X, S, N, I)), f32({D, 4 * H, I}, p.W),
      f32({D, 4 * H, H}, p.R), f32({D, 8 * H}, p.B),
      Tensor::from_vector<int32_t>({N}, {4, 1, 3}),
      f32({N, D, H}, swap_first_axes(p.initial_h, D, N, H)),
      f32({N, D, H}, swap_first_axes(p.initial_c, D, N, H)), f32({D, 3 * H}, p.P)};
  auto layout1 = run_kernel("LSTM", inputs,
                            {int_attribute("hidden_size", H), int_attribute("layout", 1),
                             string_attribute("direction", "bidirectional")},
                            3);
  // Y: layout 0 is [S, D, N, H], layout 1 is [N, S, D, H].
  const std::vector<float> y0 = layout0[0].to_vector<float>();
  std::vector<double> want_y;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < S; ++s)
      for (int64_t d = 0; d < D; ++d)
        for (int64_t h = 0; h < H; ++h) want_y.push_back(y0[((s * D + d) * N + n) * H + h]);
  expect_close(layout1[0], {N, S, D, H}, want_y, 0, 0, "Y");
  for (size_t o = 1; o < 3; ++o) {
    const std::vector<float> state0 = layout0[o].to_vector<float>();
    const std::vector<float> swapped = swap_first_axes(state0, D, N, H);
    expect_close(layout1[o], {N, D, H}, std::vector<double>(swapped.begin(), swapped.end()), 0, 0,
                 "state output " + std::to_string(o));
  }
}

TEST(RecurrentStructure, Float64AgreesWithFloat32) {
  const RandomProblem p = make_random_problem(3, 1, 3);
  const int64_t H = p.hidden;
  auto to64 = [](Shape shape, const std::vector<float>& v) {
    return Tensor::from_vector<double>(std::move(shape), std::vector<double>(v.begin(), v.end()));
  };
  auto out32 = run_problem("GRU", 3, p, 1, "forward", p.W, p.R, p.B, p.initial_h, {}, {});
  auto out64 = run_kernel("GRU",
                          {to64({p.seq_length, p.batch, p.input_size}, p.X),
                           to64({1, 3 * H, p.input_size}, p.W), to64({1, 3 * H, H}, p.R),
                           to64({1, 6 * H}, p.B), Tensor::from_vector<int32_t>({p.batch}, {4, 1, 3}),
                           to64({1, p.batch, H}, p.initial_h)},
                          {int_attribute("hidden_size", H)}, 2);
  ASSERT_EQ(out64[0].dtype(), DType::Float64);
  // float32 output is the float64 result rounded once: within float32 half-ulp.
  expect_close(out32[0], out64[0].shape(), out64[0].to_double_vector(), 0, 1e-7, "Y");
  expect_close(out32[1], out64[1].shape(), out64[1].to_double_vector(), 0, 1e-7, "Y_h");
}

// ---- Bad models ----

TEST(RecurrentErrors, BadInputsAreUserErrors) {
  const Tensor X = f32({2, 1, 1}, {1, 2});
  const Tensor W = f32({1, 1, 1}, {1});
  const Tensor R = f32({1, 1, 1}, {1});
  const Attributes hidden1 = {int_attribute("hidden_size", 1)};
  EXPECT_NO_THROW(run_kernel("RNN", {X, W, R}, hidden1, 2));
  EXPECT_THROW(run_kernel("RNN", {X, f32({1, 2, 1}, {1, 1}), R}, hidden1, 2), UserError);
  EXPECT_THROW(run_kernel("LSTM", {X, W, R}, hidden1, 3), UserError);  // W needs 4 gates
  EXPECT_THROW(run_kernel("RNN", {X, W, R, Tensor(), Tensor::from_vector<int32_t>({1}, {3})},
                          hidden1, 2),
               UserError);  // length 3 > seq_length 2
  EXPECT_THROW(run_kernel("RNN", {X, W, R},
                          {int_attribute("hidden_size", 1), strings_attribute("activations", {"Gelu"})},
                          2),
               UserError);
  EXPECT_THROW(run_kernel("RNN", {X, W, R},
                          {int_attribute("hidden_size", 1), string_attribute("direction", "sideways")},
                          2),
               UserError);
  EXPECT_THROW(run_kernel("RNN", {X, W, R},
                          {int_attribute("hidden_size", 1), string_attribute("direction", "bidirectional")},
                          2),
               UserError);  // W has one direction
  EXPECT_THROW(run_kernel("RNN", {Tensor::from_vector<int32_t>({2, 1, 1}, {1, 2}), W, R}, hidden1, 2),
               UserError);
}

// ---- ONNX node-test data ----

struct TensorSpec {
  bool present = false;
  DType dtype = DType::Undefined;
  Shape shape;
  std::vector<double> values;

  Tensor tensor() const {
    if (!present) return Tensor();
    return tensor_cast(Tensor::from_vector<double>(shape, values), dtype);
  }
};

struct OnnxRecurrentCase {
  const char* name;
  const char* op_type;
  int64_t opset;
  std::vector<std::pair<std::string, Attribute>> attributes;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> outputs;  // by node output index; absent = not checked
};

#include "recurrent_onnx_data.inc"

TEST(RecurrentOnnxData, NodeTestsMatch) {
  ASSERT_EQ(kOnnxRecurrentCases.size(), 13u);
  for (const OnnxRecurrentCase& c : kOnnxRecurrentCases) {
    SCOPED_TRACE(c.name);
    std::vector<Tensor> inputs;
    for (const TensorSpec& spec : c.inputs) inputs.push_back(spec.tensor());
    Attributes attributes(c.attributes.begin(), c.attributes.end());
    auto out = run_kernel(c.op_type, inputs, attributes, c.outputs.size(), c.opset);
    for (size_t o = 0; o < c.outputs.size(); ++o) {
      if (!c.outputs[o].present) continue;
      ASSERT_EQ(out[o].dtype(), c.outputs[o].dtype);
      // The expected values are float32 results of numpy code: a few float32 ulps.
      expect_close(out[o], c.outputs[o].shape, c.outputs[o].values, 1e-6, 1e-5,
                   std::string(c.name) + " output " + std::to_string(o));
    }
  }
}

}  // namespace
}  // namespace ocs
