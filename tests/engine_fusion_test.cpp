// The fast engine's fusion (Conv + element-wise chains, Conv + Add as a sum post-op) and its
// oneDNN layouts between steps, against the reference kernels (SessionOptions::
// reference_kernels_only, the oracle) on small graphs with fixed seeds.
//
// Metric: max |fast - reference| <= 1e-4 * (1 + max |reference|) per output. Inputs and weights
// are in [-1, 1] and each conv sums at most 8 * 9 = 72 products, so float32 rounding stays far
// below that; the bound is the one nn_fast_test uses for single ops.
//
// Each case also checks the plan (Session::step_labels), so that a fusion or a layout step that
// silently stopped happening fails the test rather than only getting slower.
#include "engine/session.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>
#include <tuple>

namespace ocs {
namespace {

using testing::random_tensor;

// Builds graphs value by value.
class Builder {
 public:
  explicit Builder(int64_t opset = 13) { graph_.opsets[""] = opset; }

  ValueId input(const std::string& name, Shape shape) {
    Value v;
    v.name = name;
    v.dtype = DType::Float32;
    v.shape = std::move(shape);
    const ValueId id = graph_.add_value(std::move(v));
    graph_.inputs.push_back(id);
    return id;
  }
  ValueId constant(Tensor t) {
    Value v;
    v.name = "c" + std::to_string(graph_.values.size());
    v.dtype = t.dtype();
    v.shape = t.shape();
    v.constant = std::move(t);
    return graph_.add_value(std::move(v));
  }
  ValueId scalar(float value) { return constant(Tensor::scalar<float>(value)); }
  ValueId add(const std::string& op, std::vector<ValueId> inputs, std::map<std::string, Attribute> attrs = {}) {
    Value out;
    out.name = op + "_" + std::to_string(graph_.nodes.size());
    const ValueId id = graph_.add_value(std::move(out));
    Node node;
    node.name = op + std::to_string(graph_.nodes.size());
    node.op_type = op;
    node.inputs = std::move(inputs);
    node.outputs = {id};
    node.attributes = std::move(attrs);
    graph_.add_node(std::move(node));
    return id;
  }
  // Conv with constant weights [out, in/group, k, k] and bias, "same" padding.
  ValueId conv(ValueId x, int64_t in, int64_t out, int64_t k, uint32_t seed, int64_t group = 1, int64_t stride = 1) {
    const ValueId w = constant(random_tensor({out, in / group, k, k}, seed, -0.5f, 0.5f));
    const ValueId b = constant(random_tensor({out}, seed + 1000));
    std::map<std::string, Attribute> attrs;
    attrs["pads"] = ints({k / 2, k / 2, k / 2, k / 2});
    attrs["group"] = integer(group);
    attrs["strides"] = ints({stride, stride});
    return add("Conv", {x, w, b}, attrs);
  }
  void output(ValueId id) { graph_.outputs.push_back(id); }
  std::shared_ptr<const Graph> done() { return std::make_shared<const Graph>(graph_); }

  static Attribute ints(std::vector<int64_t> v) {
    Attribute a;
    a.kind = Attribute::Kind::Ints;
    a.ints = std::move(v);
    return a;
  }
  static Attribute integer(int64_t v) {
    Attribute a;
    a.kind = Attribute::Kind::Int;
    a.i = v;
    return a;
  }
  static Attribute text(std::string v) {
    Attribute a;
    a.kind = Attribute::Kind::String;
    a.s = std::move(v);
    return a;
  }
  static Attribute real(float v) {
    Attribute a;
    a.kind = Attribute::Kind::Float;
    a.f = v;
    return a;
  }

 private:
  Graph graph_;
};

void expect_close(const std::vector<Tensor>& actual, const std::vector<Tensor>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t o = 0; o < expected.size(); ++o) {
    EXPECT_TRUE(testing::tensors_close(actual[o], expected[o], 1e-4, 1e-4)) << "output " << o;
  }
}

bool has_label(const Session& session, const std::string& label) {
  const auto labels = session.step_labels();
  return std::find(labels.begin(), labels.end(), label) != labels.end();
}

std::string all_labels(const Session& session) {
  std::string s;
  for (const auto& l : session.step_labels()) s += "[" + l + "] ";
  return s;
}

// Runs fast (fused) and reference sessions twice each (the second run reuses cached plans) and
// compares. Returns the fast session for plan checks.
std::unique_ptr<Session> check(const std::shared_ptr<const Graph>& graph, const std::map<std::string, Tensor>& inputs) {
  Session reference(graph, {true, 2});
  auto fast = std::make_unique<Session>(graph, SessionOptions{false, 2});
  const auto expected = reference.run(inputs);
  for (int repeat = 0; repeat < 2; ++repeat) expect_close(fast->run(inputs), expected);
  return fast;
}

// x -> Conv -> <activation nodes> -> Conv -> y, for each activation the fusion maps.
struct ActivationCase {
  std::string name;
  std::string label;  // expected label of the first fused step
  std::function<ValueId(Builder&, ValueId)> apply;
};

std::vector<ActivationCase> activation_cases() {
  using B = Builder;
  return {
      {"Relu", "dnnl Conv+Relu", [](B& b, ValueId v) { return b.add("Relu", {v}); }},
      {"LeakyRelu", "dnnl Conv+LeakyRelu",
       [](B& b, ValueId v) { return b.add("LeakyRelu", {v}, {{"alpha", B::real(0.1f)}}); }},
      {"Sigmoid", "dnnl Conv+Sigmoid", [](B& b, ValueId v) { return b.add("Sigmoid", {v}); }},
      {"Tanh", "dnnl Conv+Tanh", [](B& b, ValueId v) { return b.add("Tanh", {v}); }},
      {"Clip", "dnnl Conv+Clip",
       [](B& b, ValueId v) { return b.add("Clip", {v, b.scalar(-0.25f), b.scalar(0.5f)}); }},
      {"HardSigmoid", "dnnl Conv+HardSigmoid",
       [](B& b, ValueId v) { return b.add("HardSigmoid", {v}, {{"alpha", B::real(0.1666667f)}}); }},
      {"HardSwish", "dnnl Conv+HardSwish", [](B& b, ValueId v) { return b.add("HardSwish", {v}); }},
      {"ScalarAffine", "dnnl Conv+Mul+Add+Sub+Div",
       [](B& b, ValueId v) {
         v = b.add("Mul", {b.scalar(1.5f), v});
         v = b.add("Add", {v, b.scalar(0.25f)});
         v = b.add("Sub", {b.scalar(0.5f), v});
         return b.add("Div", {v, b.scalar(4.0f)});
       }},
      {"PaddleHardSwish", "dnnl Conv+Mul+Add+Clip+Mul+Div",
       [](B& b, ValueId v) {
         // x * Clip(x + 3, 0, 6) / 6 as Paddle exports it; pre-activations reach +-4 here
         // through the 3x scale so that every piece of the function is exercised.
         v = b.add("Mul", {v, b.scalar(3.0f)});
         const ValueId shifted = b.add("Add", {v, b.scalar(3.0f)});
         const ValueId clipped = b.add("Clip", {shifted, b.scalar(0.0f), b.scalar(6.0f)});
         const ValueId product = b.add("Mul", {v, clipped});
         return b.add("Div", {product, b.scalar(6.0f)});
       }},
  };
}

TEST(EngineFusion, ConvWithEachActivationMatchesReference) {
  for (const auto& c : activation_cases()) {
    SCOPED_TRACE(c.name);
    Builder b;
    const ValueId x = b.input("x", {1, 8, 9, 11});
    ValueId v = b.conv(x, 8, 16, 3, 1);
    v = c.apply(b, v);
    b.output(b.conv(v, 16, 8, 3, 2));
    auto fast = check(b.done(), {{"x", random_tensor({1, 8, 9, 11}, 7)}});
    EXPECT_TRUE(has_label(*fast, c.label)) << all_labels(*fast);
  }
}

// ResNet's residual block: y = Relu(Conv(Conv(x)) + x'), with the Add as a sum post-op; the
// other operand is itself a fused Conv output in oneDNN's layout.
TEST(EngineFusion, ConvAddSumPostOpMatchesReference) {
  Builder b;
  const ValueId x = b.input("x", {1, 16, 10, 10});
  const ValueId shortcut = b.conv(x, 16, 16, 1, 11);  // a projection, as in ResNet
  const ValueId main = b.add("Relu", {b.conv(x, 16, 16, 3, 12)});
  const ValueId sum = b.add("Add", {b.conv(main, 16, 16, 3, 13), shortcut});
  b.output(b.add("Relu", {sum}));
  auto fast = check(b.done(), {{"x", random_tensor({1, 16, 10, 10}, 8)}});
  // Whichever Conv comes first takes the Add; the projection does here.
  EXPECT_TRUE(has_label(*fast, "dnnl Conv+Add+Relu")) << all_labels(*fast);
}

// Layout transitions: blocked Conv output into pools, a broadcasting Mul (squeeze-excitation),
// a depthwise Conv, a full-shape Add of two values with several consumers, a plain consumer
// (Reshape, Gemm) and a blocked value that is also a graph output.
TEST(EngineFusion, LayoutTransitionsMatchReference) {
  Builder b;
  const ValueId x = b.input("x", {1, 3, 32, 30});
  const ValueId stem = b.add("Relu", {b.conv(x, 3, 16, 3, 21, 1, 2)});  // 16 x 16 x 15
  const ValueId pooled = b.add("MaxPool", {stem}, {{"kernel_shape", Builder::ints({3, 3})},
                                                   {"strides", Builder::ints({2, 2})},
                                                   {"pads", Builder::ints({1, 1, 1, 1})}});  // 8 x 8
  const ValueId dw = b.conv(pooled, 16, 16, 3, 22, 16);  // depthwise, output read twice below
  // Squeeze-excitation: x * HardSigmoid(Conv(Relu(Conv(GlobalAveragePool(x)))))
  const ValueId squeezed = b.add("GlobalAveragePool", {dw});
  const ValueId excite = b.add("HardSigmoid", {b.conv(b.add("Relu", {b.conv(squeezed, 16, 4, 1, 23)}), 4, 16, 1, 24)});
  const ValueId scaled = b.add("Mul", {excite, dw});
  const ValueId both = b.add("Add", {scaled, dw});  // two values with other consumers: binary
  const ValueId avg = b.add("AveragePool", {both}, {{"kernel_shape", Builder::ints({2, 2})},
                                                    {"strides", Builder::ints({2, 2})}});
  const ValueId pooled_all = b.add("GlobalAveragePool", {b.conv(avg, 16, 32, 1, 25)});
  const ValueId flat = b.add("Flatten", {pooled_all});
  const ValueId fc_w = b.constant(random_tensor({32, 10}, 26));
  b.output(b.add("Gemm", {flat, fc_w}));
  b.output(both);   // a blocked value that is also a graph output
  b.output(stem);   // read by MaxPool and returned
  auto fast = check(b.done(), {{"x", random_tensor({1, 3, 32, 30}, 9)}});
  for (const char* label : {"dnnl MaxPool", "dnnl GlobalAveragePool", "dnnl Mul", "dnnl Add", "dnnl AveragePool"})
    EXPECT_TRUE(has_label(*fast, label)) << label << ": " << all_labels(*fast);
}

// A standalone eltwise step on a blocked input (the producer is a pool, not a Conv).
TEST(EngineFusion, EltwiseAfterPoolMatchesReference) {
  Builder b;
  const ValueId x = b.input("x", {1, 16, 12, 12});
  const ValueId pooled = b.add("MaxPool", {b.conv(x, 16, 16, 3, 31)}, {{"kernel_shape", Builder::ints({2, 2})},
                                                                         {"strides", Builder::ints({2, 2})}});
  const ValueId act = b.add("Sigmoid", {pooled});
  b.output(b.add("Mul", {act, b.scalar(2.0f)}));
  auto fast = check(b.done(), {{"x", random_tensor({1, 16, 12, 12}, 10)}});
  EXPECT_TRUE(has_label(*fast, "dnnl Sigmoid")) << all_labels(*fast);
  EXPECT_TRUE(has_label(*fast, "dnnl Mul")) << all_labels(*fast);
}

// Layout kernels come from the kernel registry, one factory per kind and op, tried in order:
// an Add of a scalar constant is an eltwise step, an Add of two tensors a binary step.
TEST(EngineFusion, LayoutKernelsAreRegisteredPerOp) {
  auto kinds = [](const std::string& op) {
    std::vector<std::string> names;
    for (const LayoutFactory& factory : KernelRegistry::global().find("", op)->layout) names.push_back(factory.kind);
    return names;
  };
  EXPECT_EQ(kinds("Add"), (std::vector<std::string>{"eltwise", "binary"}));
  EXPECT_EQ(kinds("MaxPool"), (std::vector<std::string>{"pool"}));
  EXPECT_EQ(kinds("Resize"), (std::vector<std::string>{"resize"}));
  EXPECT_EQ(kinds("Concat"), (std::vector<std::string>{"concat"}));
  EXPECT_EQ(kinds("Relu"), (std::vector<std::string>{"eltwise"}));
  EXPECT_TRUE(kinds("Gather").empty());
}

// OCS_NO_LAYOUT turns off one kind of layout step and no other: with eltwise off, the Sigmoid
// after a pool runs plainly while the Add of two blocked tensors is still a binary step.
TEST(EngineFusion, NoLayoutSwitchTurnsOffOneKind) {
  Builder b;
  const ValueId x = b.input("x", {1, 16, 12, 12});
  const ValueId conv = b.conv(x, 16, 16, 3, 51);
  const ValueId pooled = b.add("MaxPool", {conv}, {{"kernel_shape", Builder::ints({2, 2})},
                                                  {"strides", Builder::ints({2, 2})}});
  const ValueId other = b.add("MaxPool", {conv}, {{"kernel_shape", Builder::ints({2, 2})},
                                                 {"strides", Builder::ints({2, 2})}});
  b.output(b.add("Add", {b.add("Sigmoid", {pooled}), other}));
  const auto graph = b.done();
  const std::map<std::string, Tensor> inputs{{"x", random_tensor({1, 16, 12, 12}, 13)}};
  {
    auto fast = check(graph, inputs);
    for (const char* label : {"dnnl MaxPool", "dnnl Sigmoid", "dnnl Add"})
      EXPECT_TRUE(has_label(*fast, label)) << label << ": " << all_labels(*fast);
  }
  ASSERT_EQ(setenv("OCS_NO_LAYOUT", "eltwise", 1), 0);
  auto fast = check(graph, inputs);
  unsetenv("OCS_NO_LAYOUT");
  EXPECT_TRUE(has_label(*fast, "Sigmoid")) << all_labels(*fast);
  EXPECT_FALSE(has_label(*fast, "dnnl Sigmoid")) << all_labels(*fast);
  EXPECT_TRUE(has_label(*fast, "dnnl Add")) << all_labels(*fast);
  EXPECT_TRUE(has_label(*fast, "dnnl MaxPool")) << all_labels(*fast);
}

// A fused Add whose other operand turns out to broadcast at run time: the fused step declines
// and its nodes run one by one on plain tensors, with the same result.
TEST(EngineFusion, SumOperandThatBroadcastsFallsBackToTheNodes) {
  Builder b;
  const ValueId x = b.input("x", {1, 8, 6, 6});
  const ValueId bias = b.input("bias", {1, 8, 1, 1});
  b.output(b.add("Relu", {b.add("Add", {b.conv(x, 8, 8, 3, 41), bias})}));
  auto fast = check(b.done(), {{"x", random_tensor({1, 8, 6, 6}, 11)}, {"bias", random_tensor({1, 8, 1, 1}, 12)}});
  EXPECT_TRUE(has_label(*fast, "dnnl Conv+Add+Relu")) << all_labels(*fast);
}

// With an observer, every value of the graph is seen as a plain tensor, including the
// pre-activation Conv outputs that fusion hides, with the reference's values.
TEST(EngineFusion, ObserverSeesHiddenIntermediates) {
  Builder b;
  const ValueId x = b.input("x", {1, 8, 7, 7});
  const ValueId pre = b.conv(x, 8, 8, 3, 51);
  b.output(b.conv(b.add("Relu", {pre}), 8, 8, 3, 52));
  auto graph = b.done();
  const std::map<std::string, Tensor> inputs{{"x", random_tensor({1, 8, 7, 7}, 13)}};
  std::map<std::string, Tensor> fast_seen, reference_seen;
  auto recorder = [](std::map<std::string, Tensor>& into) {
    return [&into](const Graph& g, ValueId id, const Tensor& t) { into[g.values[id].name] = t.clone(); };
  };
  Session fast(graph, {false, 2});
  Session reference(graph, {true, 2});
  fast.run(inputs);  // a plain run first: the observed run must not depend on it
  fast.run(inputs, recorder(fast_seen));
  reference.run(inputs, recorder(reference_seen));
  ASSERT_EQ(fast_seen.size(), graph->values.size() - 4);  // every non-constant value
  ASSERT_TRUE(fast_seen.count(graph->values[pre].name));
  for (const auto& [name, t] : reference_seen) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(fast_seen.count(name));
    expect_close({fast_seen[name]}, {t});
  }
}

TEST(EngineFusion, FuseOffRunsOneKernelPerNode) {
  Builder b;
  const ValueId x = b.input("x", {1, 8, 7, 7});
  b.output(b.add("Relu", {b.conv(x, 8, 8, 3, 61)}));
  SessionOptions options;
  options.fuse = false;
  Session session(b.done(), options);
  EXPECT_EQ(session.step_labels(), (std::vector<std::string>{"Conv", "Relu"}));
}

// The sum operand's buffer becomes the output only when the operand dies at that step: a sum
// operand read again later, and a graph input (the caller's tensor), keep their values.
TEST(EngineFusion, SumInPlaceOnlyWhenTheOperandDies) {
  Builder b;
  const ValueId x = b.input("x", {1, 8, 6, 6});
  const ValueId v = b.conv(x, 8, 8, 3, 121);
  const ValueId kept = b.add("Add", {b.conv(v, 8, 8, 3, 122), v});          // v is read again below
  const ValueId dies = b.add("Add", {b.conv(kept, 8, 8, 3, 123), kept});    // kept dies here
  const ValueId on_input = b.add("Add", {b.conv(dies, 8, 8, 3, 124), x});   // x: the caller's tensor
  b.output(b.add("Add", {on_input, v}));
  const Tensor input = random_tensor({1, 8, 6, 6}, 19);
  const Tensor copy = input.clone();
  auto fast = check(b.done(), {{"x", input}});
  const std::vector<std::string> labels = fast->step_labels();
  EXPECT_EQ(std::count(labels.begin(), labels.end(), "dnnl Conv+Add"), 3) << all_labels(*fast);
  const auto a = input.span<float>();
  const auto c = copy.span<float>();
  EXPECT_TRUE(std::equal(a.begin(), a.end(), c.begin()));
}

// BatchNormalization (inference) with constant parameters: its per-channel scale and shift.
ValueId batch_norm(Builder& b, ValueId x, int64_t channels, uint32_t seed) {
  const ValueId gamma = b.constant(random_tensor({channels}, seed, 0.5f, 1.5f));
  const ValueId beta = b.constant(random_tensor({channels}, seed + 1));
  const ValueId mean = b.constant(random_tensor({channels}, seed + 2));
  const ValueId var = b.constant(random_tensor({channels}, seed + 3, 0.25f, 2.0f));
  return b.add("BatchNormalization", {x, gamma, beta, mean, var}, {{"epsilon", Builder::real(1e-5f)}});
}

// ConvTranspose with constant weights [in, out/group, k, k] (and a bias when `bias`).
ValueId conv_transpose(Builder& b, ValueId x, int64_t in, int64_t out, int64_t k, int64_t stride, uint32_t seed,
                       int64_t group = 1, bool bias = false) {
  std::vector<ValueId> inputs{x, b.constant(random_tensor({in, out / group, k, k}, seed, -0.5f, 0.5f))};
  if (bias) inputs.push_back(b.constant(random_tensor({out}, seed + 1000)));
  return b.add("ConvTranspose", inputs, {{"kernel_shape", Builder::ints({k, k})},
                                         {"strides", Builder::ints({stride, stride})},
                                         {"group", Builder::integer(group)}});
}

// Conv + BatchNormalization + Relu: the normalization folds into the weights and bias.
TEST(EngineFusion, ConvBatchNormFoldsIntoTheWeights) {
  Builder b;
  const ValueId x = b.input("x", {1, 8, 9, 10});
  const ValueId v = b.add("Relu", {batch_norm(b, b.conv(x, 8, 16, 3, 71), 16, 72)});
  b.output(b.conv(v, 16, 8, 3, 73));
  auto fast = check(b.done(), {{"x", random_tensor({1, 8, 9, 10}, 14)}});
  EXPECT_TRUE(has_label(*fast, "dnnl Conv+BatchNormalization+Relu")) << all_labels(*fast);
}

// Per-channel constants ([C,1,1] and [1,C,1,1]) on either side of Add/Sub/Mul/Div fold too;
// a per-channel op after an activation does not (it is not affine in the Conv's output).
TEST(EngineFusion, ConvPerChannelAffineFoldsIntoTheWeights) {
  Builder b;
  const ValueId x = b.input("x", {1, 8, 7, 7});
  ValueId v = b.conv(x, 8, 16, 3, 81);
  v = b.add("Mul", {b.constant(random_tensor({1, 16, 1, 1}, 82, 0.5f, 2.0f)), v});
  v = b.add("Sub", {b.constant(random_tensor({16, 1, 1}, 83)), v});
  v = b.add("Div", {v, b.constant(random_tensor({16, 1, 1}, 84, 1.0f, 2.0f))});
  v = b.add("Add", {v, b.constant(random_tensor({1, 16, 1, 1}, 85))});
  v = b.add("Relu", {v});
  v = b.add("Mul", {v, b.constant(random_tensor({1, 16, 1, 1}, 86))});
  b.output(b.conv(v, 16, 8, 1, 87));
  auto fast = check(b.done(), {{"x", random_tensor({1, 8, 7, 7}, 15)}});
  EXPECT_TRUE(has_label(*fast, "dnnl Conv+Mul+Sub+Div+Add+Relu")) << all_labels(*fast);
  EXPECT_TRUE(has_label(*fast, "dnnl Mul")) << all_labels(*fast);  // the one after Relu
}

// PP-OCR det's head: Conv + BN + Relu, then twice ConvTranspose (2x2, stride 2) + Add of a
// per-channel bias + BN + Relu (the last one: + Sigmoid). Grouped and biased ConvTranspose too.
TEST(EngineFusion, ConvTransposeChainsMatchReference) {
  Builder b;
  const ValueId x = b.input("x", {1, 16, 6, 7});
  ValueId v = b.add("Relu", {batch_norm(b, b.conv(x, 16, 8, 3, 91), 8, 92)});
  v = conv_transpose(b, v, 8, 8, 2, 2, 93);
  v = b.add("Add", {v, b.constant(random_tensor({8, 1, 1}, 94))});
  v = b.add("Relu", {batch_norm(b, v, 8, 95)});
  v = conv_transpose(b, v, 8, 4, 2, 2, 96, 2, true);  // grouped, with a bias
  v = b.add("Add", {v, b.constant(random_tensor({1, 4, 1, 1}, 97))});
  b.output(b.add("Sigmoid", {v}));
  auto fast = check(b.done(), {{"x", random_tensor({1, 16, 6, 7}, 16)}});
  EXPECT_EQ(fast->step_labels(), (std::vector<std::string>{"dnnl Conv+BatchNormalization+Relu",
                                                           "dnnl ConvTranspose+Add+BatchNormalization+Relu",
                                                           "dnnl ConvTranspose+Add+Sigmoid"}));
}

// A ConvTranspose whose strides equal its kernel is a matrix product per kernel row
// (dnnl_deconv_patches.h): many outputs per row written straight into y, few (one channel, PP-OCR
// det's heat map) as one transposed product scattered into y. Square and non-square kernels, with
// and without a bias and post-ops, on a graph input (plain) and after a Conv (blocked).
TEST(EngineFusion, ConvTransposeWithStridesEqualToItsKernelMatchesReference) {
  struct Case {
    int64_t out, kh, kw;
    bool bias, after_conv;
  };
  for (const Case& k : std::vector<Case>{{12, 2, 2, true, true}, {1, 2, 2, true, true}, {5, 3, 2, false, false},
                                         {1, 2, 3, false, false}, {2, 1, 4, true, false}}) {
    SCOPED_TRACE(fmt::format("out {} kernel {}x{}", k.out, k.kh, k.kw));
    Builder b;
    const ValueId x = b.input("x", {2, 6, 5, 7});
    const ValueId in = k.after_conv ? b.conv(x, 6, 6, 3, 111) : x;
    std::vector<ValueId> inputs{in, b.constant(random_tensor({6, k.out, k.kh, k.kw}, 112, -0.5f, 0.5f))};
    if (k.bias) inputs.push_back(b.constant(random_tensor({k.out}, 113)));
    ValueId v = b.add("ConvTranspose", inputs, {{"kernel_shape", Builder::ints({k.kh, k.kw})},
                                                {"strides", Builder::ints({k.kh, k.kw})}});
    if (k.bias) v = b.add("Sigmoid", {v});
    b.output(v);
    check(b.done(), {{"x", random_tensor({2, 6, 5, 7}, 18)}});
  }
}

// Resize nearest by integer factors on blocked values, in the coordinate modes where oneDNN
// reads the same element as ONNX, then Add and Concat on blocked values (PP-OCR det's neck).
TEST(EngineFusion, ResizeAndConcatMatchReference) {
  struct Mode {
    std::string coordinates, rounding;
    bool use_sizes;
    int64_t factor;
  };
  for (const Mode& m : std::vector<Mode>{{"asymmetric", "floor", false, 2},
                                         {"half_pixel", "round_prefer_floor", true, 3},
                                         {"pytorch_half_pixel", "round_prefer_ceil", false, 2},
                                         {"tf_half_pixel_for_nn", "floor", true, 4}}) {
    SCOPED_TRACE(m.coordinates + " " + m.rounding);
    Builder b;
    const ValueId x = b.input("x", {1, 8, 12, 12});
    const ValueId fine = b.conv(x, 8, 8, 3, 101);
    const ValueId coarse = b.conv(x, 8, 8, 3, 102, 1, m.factor);  // 12 / factor
    const ValueId roi = b.constant(Tensor(DType::Float32, {0}));
    ValueId up;
    std::map<std::string, Attribute> attrs{{"mode", Builder::text("nearest")},
                                           {"coordinate_transformation_mode", Builder::text(m.coordinates)},
                                           {"nearest_mode", Builder::text(m.rounding)}};
    if (m.use_sizes) {
      Tensor sizes(DType::Int64, {4});
      const int64_t side = 12 / m.factor * m.factor;
      std::vector<int64_t> values{1, 8, side, side};
      std::copy(values.begin(), values.end(), sizes.data<int64_t>());
      up = b.add("Resize", {coarse, roi, b.constant(Tensor(DType::Float32, {0})), b.constant(sizes)}, attrs);
    } else {
      Tensor scales(DType::Float32, {4});
      std::vector<float> values{1, 1, static_cast<float>(m.factor), static_cast<float>(m.factor)};
      std::copy(values.begin(), values.end(), scales.data<float>());
      up = b.add("Resize", {coarse, roi, b.constant(scales)}, attrs);
    }
    const ValueId sum = b.add("Add", {fine, up});
    const ValueId cat = b.add("Concat", {up, sum, fine}, {{"axis", Builder::integer(1)}});
    b.output(b.conv(cat, 24, 8, 3, 103));
    auto fast = check(b.done(), {{"x", random_tensor({1, 8, 12, 12}, 17)}});
    for (const char* label : {"dnnl Resize", "dnnl Add", "dnnl Concat"})
      EXPECT_TRUE(has_label(*fast, label)) << label << ": " << all_labels(*fast);
  }
}

// Modes oneDNN does not reproduce stay plain; a fractional factor declines at run time and the
// node runs on plain tensors.
TEST(EngineFusion, ResizeOutsideTheExactModesStaysPlain) {
  for (const auto& [coordinates, rounding, factor] :
       std::vector<std::tuple<std::string, std::string, float>>{{"asymmetric", "round_prefer_floor", 3.0f},
                                                                {"half_pixel", "floor", 2.0f},
                                                                {"asymmetric", "floor", 1.5f}}) {
    SCOPED_TRACE(coordinates + " " + rounding);
    Builder b;
    const ValueId x = b.input("x", {1, 8, 6, 6});
    Tensor scales(DType::Float32, {4});
    std::vector<float> values{1, 1, factor, factor};
    std::copy(values.begin(), values.end(), scales.data<float>());
    const ValueId up = b.add("Resize", {b.conv(x, 8, 8, 3, 111), b.constant(Tensor(DType::Float32, {0})), b.constant(scales)},
                             {{"mode", Builder::text("nearest")},
                              {"coordinate_transformation_mode", Builder::text(coordinates)},
                              {"nearest_mode", Builder::text(rounding)}});
    b.output(b.conv(up, 8, 8, 3, 112));
    auto fast = check(b.done(), {{"x", random_tensor({1, 8, 6, 6}, 18)}});
    const bool layout = factor == 1.5f;  // the mode maps; the factor is refused at run time
    EXPECT_EQ(has_label(*fast, "dnnl Resize"), layout) << all_labels(*fast);
    EXPECT_EQ(has_label(*fast, "Resize"), !layout) << all_labels(*fast);
  }
}

}  // namespace
}  // namespace ocs
