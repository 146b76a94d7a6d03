// The int8 path of the fast engine (engine/int8_layers.h, kernels/fast/dnnl_int8_conv.cpp) on
// small graphs of both QDQ layouts (docs/INT8.md), against the reference kernels (the oracle:
// dequantize, float conv, quantize) and ONNX Runtime.
//
// The rule (docs/INT8.md): the integer sum is exact, so a layer's float output differs from the
// reference only by float rounding (here <= 1e-4 relative), and a value quantized again after it
// may land one step away only where it lies within that rounding of a rounding boundary. So:
// every output element is within 1e-4 (1 + max|ref|) of the reference or exactly one output
// quantization step away, and such steps are rare (< 1% of the elements).
// Each case also checks the plan (step labels), so that the int8 path cannot silently stop.
#include "engine/session.h"
#include "passes/graph_edit.h"
#include "ort_runner.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include <unistd.h>

namespace ocs {
namespace {

using testing::random_tensor;

class QdqBuilder {
 public:
  QdqBuilder() { graph_.opsets[""] = 13; }
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
  ValueId add(const std::string& op, std::vector<ValueId> inputs, std::map<std::string, Attribute> attrs = {}) {
    Value out;
    out.name = op + "_" + std::to_string(graph_.nodes.size());
    // Typed intermediates, so that the exported file loads in ONNX Runtime.
    out.dtype = op == "QuantizeLinear" ? graph_.values[inputs[2]].dtype
                : op == "Gather"       ? graph_.values[inputs[0]].dtype
                                       : DType::Float32;
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
  // Q -> DQ with a per-tensor scale; zero point of type `type` (Int8 or UInt8).
  ValueId quantize(ValueId x, float scale, DType type, int zero_point) {
    q_ = add("QuantizeLinear", {x, constant(Tensor::scalar<float>(scale)), zero_point_of(type, zero_point)});
    return dequantize(q_, scale, type, zero_point);
  }
  ValueId dequantize(ValueId q, float scale, DType type, int zero_point) {
    return add("DequantizeLinear", {q, constant(Tensor::scalar<float>(scale)), zero_point_of(type, zero_point)});
  }
  ValueId gather(ValueId x, std::vector<int64_t> channels) {
    return add("Gather", {x, constant(Tensor::from_vector<int64_t>({static_cast<int64_t>(channels.size())}, channels))},
               {{"axis", int_attribute(1)}});
  }
  ValueId clip(ValueId x, float low, float high) {
    return add("Clip", {x, constant(Tensor::scalar<float>(low)), constant(Tensor::scalar<float>(high))});
  }
  // A Conv whose weight is DequantizeLinear(int8, zero point 0), per output channel or per tensor,
  // with a float bias or (when `x_scale` > 0) an int32 bias at scale x_scale * w_scale[m].
  ValueId conv(ValueId x, int64_t in, int64_t out, int64_t k, uint32_t seed, bool per_channel, float x_scale = 0,
               int64_t group = 1, int64_t stride = 1) {
    std::mt19937 rng(seed);
    Tensor w(DType::Int8, {out, in / group, k, k});
    for (int8_t& v : w.span<int8_t>()) v = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
    std::vector<float> scales;
    for (int64_t m = 0; m < (per_channel ? out : 1); ++m) scales.push_back(0.002f * static_cast<float>(1 + rng() % 7));
    const ValueId w_scale = constant(per_channel ? Tensor::from_vector<float>({out}, scales) : Tensor::scalar<float>(scales[0]));
    const ValueId w_zero = constant(per_channel ? Tensor(DType::Int8, {out}) : Tensor::scalar<int8_t>(0));
    if (per_channel) std::fill_n(graph_.values[w_zero].constant->data<int8_t>(), out, int8_t{0});
    std::map<std::string, Attribute> dq_attrs;
    if (per_channel) dq_attrs["axis"] = int_attribute(0);
    const ValueId weights = add("DequantizeLinear", {constant(w), w_scale, w_zero}, dq_attrs);
    ValueId bias;
    if (x_scale > 0) {
      Tensor b(DType::Int32, {out});
      std::vector<float> bias_scales;
      for (int64_t m = 0; m < out; ++m) {
        b.data<int32_t>()[m] = static_cast<int32_t>(rng() % 2001) - 1000;
        bias_scales.push_back(x_scale * scales[per_channel ? m : 0]);
      }
      std::map<std::string, Attribute> attrs;
      attrs["axis"] = int_attribute(0);
      bias = add("DequantizeLinear", {constant(b), constant(Tensor::from_vector<float>({out}, bias_scales)),
                                      constant(Tensor(DType::Int32, {out}))}, attrs);
      std::fill_n(graph_.values[graph_.nodes.back().inputs[2]].constant->data<int32_t>(), out, 0);
    } else {
      bias = constant(random_tensor({out}, seed + 1, -0.3f, 0.3f));
    }
    std::map<std::string, Attribute> attrs;
    attrs["pads"] = ints_attribute({k / 2, k / 2, k / 2, k / 2});
    attrs["group"] = int_attribute(group);
    attrs["strides"] = ints_attribute({stride, stride});
    return add("Conv", {x, weights, bias}, attrs);
  }
  void output(ValueId id) { graph_.outputs.push_back(id); }
  std::shared_ptr<const Graph> done() { return std::make_shared<const Graph>(graph_); }

 private:
  ValueId zero_point_of(DType type, int zero_point) {
    return constant(type == DType::Int8 ? Tensor::scalar<int8_t>(static_cast<int8_t>(zero_point))
                                        : Tensor::scalar<uint8_t>(static_cast<uint8_t>(zero_point)));
  }
  Graph graph_;
  ValueId q_ = kNoValue;
};

int count_labels(const Session& session, const std::string& prefix) {
  int n = 0;
  for (const auto& l : session.step_labels()) n += l.rfind(prefix, 0) == 0;
  return n;
}

std::string all_labels(const Session& session) {
  std::string s;
  for (const auto& l : session.step_labels()) s += "[" + l + "] ";
  return s;
}

// The rule of the file comment; `step` is the last quantization step before the output (0: none).
void expect_within_rule(const Tensor& actual, const Tensor& expected, float step, const std::string& what) {
  ASSERT_EQ(actual.shape(), expected.shape()) << what;
  const float* a = actual.data<float>();
  const float* e = expected.data<float>();
  float max_abs = 0;
  for (int64_t i = 0; i < expected.numel(); ++i) max_abs = std::max(max_abs, std::fabs(e[i]));
  const float tolerance = 1e-4f * (1 + max_abs);
  int64_t steps = 0;
  for (int64_t i = 0; i < expected.numel(); ++i) {
    const float d = std::fabs(a[i] - e[i]);
    if (d <= tolerance) continue;
    ASSERT_GT(step, 0.0f) << what << ": element " << i << " is " << a[i] << ", expected " << e[i];
    ASSERT_LE(std::fabs(d - step), tolerance + 1e-3f * step) << what << ": element " << i << " is " << a[i]
                                                              << ", expected " << e[i] << " (step " << step << ")";
    ++steps;
  }
  EXPECT_LE(steps * 100, expected.numel()) << what << ": " << steps << " elements one step away";
}

// `rejected`: the graph reads a channel out of range, which the fast session (falling back) and
// the reference both report; else the fast output follows the rule, over two runs (the second
// reuses the plans).
void expect_rejected_alike_or_within_rule(Session& fast, Session& reference, const std::map<std::string, Tensor>& inputs,
                                          bool rejected, float step, const std::string& what) {
  if (rejected) {
    EXPECT_THROW(fast.run(inputs), UserError);
    EXPECT_THROW(reference.run(inputs), UserError);
    return;
  }
  const Tensor expected = reference.run(inputs)[0];
  for (int repeat = 0; repeat < 2; ++repeat) expect_within_rule(fast.run(inputs)[0], expected, step, what);
}

void check(const std::shared_ptr<const Graph>& graph, const Tensor& x, float step, int int8_steps,
           const std::string& name) {
  Session reference(graph, {true, 2});
  Session fast(graph, SessionOptions{false, 2});
  EXPECT_EQ(count_labels(fast, "int8 Conv"), int8_steps) << all_labels(fast);
  const std::map<std::string, Tensor> inputs{{"x", x}};
  const Tensor expected = reference.run(inputs)[0];
  for (int repeat = 0; repeat < 2; ++repeat) expect_within_rule(fast.run(inputs)[0], expected, step, name + " (ours)");
  if (!testing::ort_available()) OCS_SKIP_OR_FAIL("onnxruntime-node not found in " << testing::ocs_cache() / "ort");
  const auto scratch = std::filesystem::temp_directory_path() / fmt::format("ocs_int8_{}_{}", getpid(), name);
  const Tensor ort = testing::run_ort(*graph, inputs, scratch);
  std::filesystem::remove_all(scratch);
  expect_within_rule(ort, expected, step, name + " (ONNX Runtime)");
}

// Today's export (insert_qdq): x -> Gather -> [Clip] -> Q(int8 or uint8, zp 0) -> DQ -> Conv(DQ(w)).
TEST(EngineInt8, InputOnlyLayoutWithGatherClipAndPostOps) {
  for (bool per_channel : {true, false}) {
    for (DType type : {DType::Int8, DType::UInt8}) {
      QdqBuilder b;
      ValueId x = b.input("x", {2, 8, 12, 12});
      // layer 1: OCS gather of 10 channels, 6-bit clip, Conv + Relu
      const float s1 = 0.02f;
      ValueId g = b.gather(x, {0, 1, 2, 3, 4, 5, 6, 7, 2, 5});
      ValueId c = type == DType::Int8 ? b.clip(g, -32 * s1, 31 * s1) : b.clip(g, 0.0f, 63 * s1);
      ValueId y = b.add("Relu", {b.conv(b.quantize(c, s1, type, 0), 10, 16, 3, 1, per_channel)});
      // layer 2: Conv + BatchNormalization-like affine, then Add of y (sum post-op), Relu
      ValueId y2 = b.conv(b.quantize(y, 0.05f, type, 0), 16, 16, 3, 2, per_channel);
      ValueId bn = b.add("Mul", {y2, b.constant(random_tensor({1, 16, 1, 1}, 5, 0.5f, 1.5f))});
      ValueId out = b.add("Relu", {b.add("Add", {bn, y})});
      // layer 3: depthwise, stride 2
      ValueId z = b.conv(b.quantize(out, 0.05f, type, 0), 16, 16, 3, 3, per_channel, 0, 16, 2);
      b.output(z);
      const Tensor input = random_tensor({2, 8, 12, 12}, 9, type == DType::Int8 ? -1.0f : 0.0f, 1.5f);
      check(b.done(), input, 0.0f, 3,
            std::string("input_only_") + (per_channel ? "pc_" : "pt_") + (type == DType::Int8 ? "s8" : "u8"));
    }
  }
}

// The deployable layout: uint8 activations, zero point 128, int32 bias, Q after the activation,
// MaxPool between DQ and Q, the OCS Gather on uint8 between Q and DQ.
TEST(EngineInt8, DeployableLayoutUint8ZeroPoint128) {
  QdqBuilder b;
  ValueId x = b.input("x", {1, 4, 16, 16});
  const float s0 = 0.01f, s1 = 0.03f, s2 = 0.04f;
  ValueId a = b.add("Relu", {b.conv(b.quantize(x, s0, DType::UInt8, 128), 4, 12, 3, 11, true, s0)});
  ValueId q1 = b.add("QuantizeLinear", {a, b.constant(Tensor::scalar<float>(s1)), b.constant(Tensor::scalar<uint8_t>(128))});
  ValueId pooled = b.add("MaxPool", {b.dequantize(q1, s1, DType::UInt8, 128)},
                         {{"kernel_shape", ints_attribute({2, 2})}, {"strides", ints_attribute({2, 2})}});
  ValueId q2 = b.add("QuantizeLinear", {pooled, b.constant(Tensor::scalar<float>(s1)), b.constant(Tensor::scalar<uint8_t>(128))});
  ValueId split = b.gather(q2, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 3, 7});
  ValueId c = b.add("Relu", {b.conv(b.dequantize(split, s1, DType::UInt8, 128), 14, 8, 3, 12, false, s1)});
  ValueId q3 = b.add("QuantizeLinear", {c, b.constant(Tensor::scalar<float>(s2)), b.constant(Tensor::scalar<uint8_t>(128))});
  b.output(b.dequantize(q3, s2, DType::UInt8, 128));
  check(b.done(), random_tensor({1, 4, 16, 16}, 13, -1.0f, 1.0f), s2, 2, "deployable_u8_zp128");
}

// The deployable layout's quantized tensors between layers: Q -> DQ pairs that only round-trip a
// float tensor run as one step in the oneDNN layout of their input (engine/int8_layers.h), with the
// element-wise functions after them, bit for bit the nodes one by one: the same graph with the
// pairs turned off (OCS_NO_LAYOUT=qdq) gives the same bytes, and it follows the rule against the
// reference kernels. (Pairs right after an int8 Conv run inside it, see the next tests; that is
// turned off here, OCS_NO_LAYOUT=codes, to test the steps themselves.)
TEST(EngineInt8, QuantizedTensorsBetweenLayersRunAsFakeQuantSteps) {
  QdqBuilder b;
  ValueId x = b.input("x", {1, 8, 16, 16});
  const float s0 = 0.01f, s1 = 0.02f, s2 = 0.03f, s3 = 0.05f;
  ValueId a = b.add("Relu", {b.conv(b.quantize(x, s0, DType::UInt8, 128), 8, 16, 3, 21, true, s0)});
  ValueId d1 = b.quantize(a, s1, DType::UInt8, 0);  // pair 1, with Paddle's expanded HardSwish after it
  ValueId gate = b.clip(b.add("Add", {d1, b.constant(Tensor::scalar<float>(3.0f))}), 0.0f, 6.0f);
  ValueId hardswish = b.add("Div", {b.add("Mul", {d1, gate}), b.constant(Tensor::scalar<float>(6.0f))});
  ValueId d2 = b.quantize(hardswish, s2, DType::UInt8, 128);  // pair 2: MaxPool reads it
  ValueId pooled = b.add("MaxPool", {d2}, {{"kernel_shape", ints_attribute({2, 2})}, {"strides", ints_attribute({2, 2})}});
  ValueId y = b.conv(b.quantize(pooled, s2, DType::UInt8, 128), 16, 8, 3, 22, false, s2);  // hidden in the int8 step
  b.output(b.quantize(y, s3, DType::UInt8, 128));  // pair 3: a graph output
  const std::shared_ptr<const Graph> graph = b.done();
  const std::map<std::string, Tensor> inputs{{"x", random_tensor({1, 8, 16, 16}, 23, -1.0f, 1.0f)}};

  setenv("OCS_NO_LAYOUT", "codes", 1);
  Session fast(graph, SessionOptions{false, 2});
  unsetenv("OCS_NO_LAYOUT");
  EXPECT_EQ(count_labels(fast, "dnnl QuantizeLinear+DequantizeLinear"), 3) << all_labels(fast);
  EXPECT_EQ(count_labels(fast, "dnnl QuantizeLinear+DequantizeLinear+Add+Clip+Mul+Div"), 1) << all_labels(fast);
  EXPECT_EQ(count_labels(fast, "int8 Conv"), 2) << all_labels(fast);
  const Tensor paired = fast.run(inputs)[0];
  setenv("OCS_NO_LAYOUT", "qdq,codes", 1);
  Session unpaired(graph, SessionOptions{false, 2});
  unsetenv("OCS_NO_LAYOUT");
  EXPECT_EQ(count_labels(unpaired, "dnnl QuantizeLinear+DequantizeLinear"), 0) << all_labels(unpaired);
  const Tensor plain = unpaired.run(inputs)[0];
  ASSERT_EQ(paired.shape(), plain.shape());
  EXPECT_EQ(std::memcmp(paired.raw(), plain.raw(), static_cast<size_t>(plain.numel()) * sizeof(float)), 0);
  // ONNX Runtime requantizes in its own order and lands one step away on 2% of these outputs
  // (three requantizations in a row), so the comparison here is with the reference kernels only.
  Session reference(graph, {true, 2});
  expect_within_rule(paired, reference.run(inputs)[0], s3, "fake_quant_pairs");
}

// Codes read by a DequantizeLinear and by the OCS copies of an int8 step: the pair skips the codes,
// so the int8 step, when it falls back to its nodes, must quantize again first. Here it falls
// back because a channel index is out of range, which the reference Gather then reports.
TEST(EngineInt8, FallbackRecomputesCodesOfAFakeQuantPair) {
  QdqBuilder b;
  ValueId x = b.input("x", {1, 4, 8, 8});
  const float s = 0.02f;
  ValueId codes = b.add("QuantizeLinear", {x, b.constant(Tensor::scalar<float>(s)), b.constant(Tensor::scalar<uint8_t>(128))});
  ValueId side = b.add("Relu", {b.dequantize(codes, s, DType::UInt8, 128)});
  ValueId copies = b.gather(codes, {0, 1, 2, 3, 9});
  ValueId y = b.conv(b.dequantize(copies, s, DType::UInt8, 128), 5, 4, 3, 24, false, s);
  b.output(y);
  b.output(side);
  const std::shared_ptr<const Graph> graph = b.done();
  Session fast(graph, SessionOptions{false, 2});
  EXPECT_EQ(count_labels(fast, "dnnl QuantizeLinear+DequantizeLinear"), 1) << all_labels(fast);
  EXPECT_EQ(count_labels(fast, "int8 Conv"), 1) << all_labels(fast);
  const std::map<std::string, Tensor> inputs{{"x", random_tensor({1, 4, 8, 8}, 25, -1.0f, 1.0f)}};
  EXPECT_THROW(fast.run(inputs), UserError);
  Session reference(graph, {true, 2});
  EXPECT_THROW(reference.run(inputs), UserError);
}

// Codes read only inside int8 steps (one Conv through its DequantizeLinear, another through the
// OCS copies): both steps quantize x themselves, so the QuantizeLinear runs in no step at all;
// with a channel index out of range the second step falls back, quantizes again and the Gather
// reports the index.
TEST(EngineInt8, CodesReadOnlyByInt8StepsNeedNoStep) {
  for (int64_t copied : {int64_t{2}, int64_t{9}}) {
    QdqBuilder b;
    ValueId x = b.input("x", {1, 4, 8, 8});
    const float s = 0.02f;
    ValueId codes = b.add("QuantizeLinear", {x, b.constant(Tensor::scalar<float>(s)), b.constant(Tensor::scalar<uint8_t>(128))});
    ValueId first = b.conv(b.dequantize(codes, s, DType::UInt8, 128), 4, 4, 3, 26, false, s);
    ValueId copies = b.gather(codes, {0, 1, 2, 3, copied});
    ValueId second = b.conv(b.dequantize(copies, s, DType::UInt8, 128), 5, 4, 3, 27, false, s);
    b.output(first);
    b.output(second);
    const std::shared_ptr<const Graph> graph = b.done();
    Session fast(graph, SessionOptions{false, 2});
    EXPECT_EQ(count_labels(fast, "int8 Conv"), 2) << all_labels(fast);
    EXPECT_EQ(count_labels(fast, "QuantizeLinear"), 0) << all_labels(fast);
    Session reference(graph, {true, 2});
    const std::map<std::string, Tensor> inputs{{"x", random_tensor({1, 4, 8, 8}, 28, -1.0f, 1.0f)}};
    if (copied == 9) {
      EXPECT_THROW(fast.run(inputs), UserError);
      EXPECT_THROW(reference.run(inputs), UserError);
      continue;
    }
    const std::vector<Tensor> got = fast.run(inputs), want = reference.run(inputs);
    expect_within_rule(got[0], want[0], 0.0f, "first");
    expect_within_rule(got[1], want[1], 0.0f, "second");
  }
}

// An int8 Conv whose output only the next int8 Conv's quantization reads writes that layer's
// codes (dnnl_int8.h, Int8Requantize): through a round trip with Paddle's HardSwish and a scalar
// affine after it (deployable layout, zero point 128, OCS copies on the codes), and through a
// Relu and the input-only layout's Clip (int8, a Gather after the DequantizeLinear); the last
// Conv runs the output's round trip itself (float destination). The codes may differ from the
// nodes' only at rounding boundaries, so the outputs follow the rule; the same graph without
// (OCS_NO_LAYOUT=codes) runs the steps they replace. A channel index out of range makes the
// reading step fall back on the codes, and the Gather reports it.
TEST(EngineInt8, Int8ConvWritesTheCodesTheNextInt8ConvReads) {
  for (int64_t copied : {int64_t{3}, int64_t{99}}) {
    QdqBuilder b;
    ValueId x = b.input("x", {1, 8, 16, 16});
    // Scales as calibration gives them: with round decimal ones (0.02, 0.03), HardSwish maps a few
    // of the 256 grid values exactly onto a rounding tie of the next grid, where any change of
    // float order flips a code.
    const float s0 = 0.0107f, s1 = 0.0213f, s2 = 0.0311f, s3 = 0.0487f, s4 = 0.0419f;
    ValueId a = b.conv(b.quantize(x, s0, DType::UInt8, 128), 8, 16, 3, 31, true, s0);
    ValueId d1 = b.quantize(a, s1, DType::UInt8, 128);  // round trip, then HardSwish and an affine
    ValueId gate = b.clip(b.add("Add", {d1, b.constant(Tensor::scalar<float>(3.0f))}), 0.0f, 6.0f);
    ValueId hardswish = b.add("Div", {b.add("Mul", {d1, gate}), b.constant(Tensor::scalar<float>(6.0f))});
    ValueId affine = b.add("Add", {b.add("Mul", {hardswish, b.constant(Tensor::scalar<float>(1.25f))}),
                                   b.constant(Tensor::scalar<float>(-0.125f))});
    ValueId codes = b.add("QuantizeLinear", {affine, b.constant(Tensor::scalar<float>(s2)),
                                             b.constant(Tensor::scalar<uint8_t>(128))});
    ValueId copies = b.gather(codes, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 5, copied});
    ValueId c = b.add("Relu", {b.conv(b.dequantize(copies, s2, DType::UInt8, 128), 18, 16, 1, 32, false, s2)});
    ValueId clipped = b.clip(c, -64 * s3, 63 * s3);  // the input-only layout's int8 grid
    ValueId d = b.gather(b.quantize(clipped, s3, DType::Int8, 0), {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 2});
    ValueId y = b.conv(d, 17, 8, 3, 33, true);
    b.output(b.quantize(y, s4, DType::UInt8, 128));
    const std::shared_ptr<const Graph> graph = b.done();
    const std::map<std::string, Tensor> inputs{{"x", random_tensor({1, 8, 16, 16}, 34, -1.0f, 1.0f)}};

    Session fast(graph, SessionOptions{false, 2});
    EXPECT_EQ(count_labels(fast, "int8 Conv+QuantizeLinear+DequantizeLinear+Add+Clip+Mul+Div+Mul+Add+QuantizeLinear"), 1)
        << all_labels(fast);
    EXPECT_EQ(count_labels(fast, "int8 Conv+Relu+Clip+QuantizeLinear"), 1) << all_labels(fast);
    EXPECT_EQ(count_labels(fast, "int8 Conv+QuantizeLinear+DequantizeLinear"), 2) << all_labels(fast);  // + the output's
    EXPECT_EQ(count_labels(fast, "int8 Conv"), 3) << all_labels(fast);
    EXPECT_EQ(count_labels(fast, "dnnl QuantizeLinear"), 0) << all_labels(fast);
    setenv("OCS_NO_LAYOUT", "codes", 1);
    Session floats(graph, SessionOptions{false, 2});
    unsetenv("OCS_NO_LAYOUT");
    EXPECT_EQ(count_labels(floats, "dnnl QuantizeLinear+DequantizeLinear+Add+Clip+Mul+Div+Mul+Add"), 1)
        << all_labels(floats);
    Session reference(graph, {true, 2});
    expect_rejected_alike_or_within_rule(fast, reference, inputs, copied == 99, s4, "codes");
    if (copied != 99) expect_within_rule(floats.run(inputs)[0], reference.run(inputs)[0], s4, "no codes");
  }
}

// uint8 codes with zero point 128 that an int8 Conv writes for the next one are held as their
// int8 view (q - 128, read in place); where the codes themselves are needed (here a graph
// output) they are the QuantizeLinear's uint8 codes again, within one code of the reference's at
// rounding boundaries.
TEST(EngineInt8, CodesHeldAsTheirInt8ViewAreUint8WhereRead) {
  QdqBuilder b;
  ValueId x = b.input("x", {1, 8, 12, 12});
  const float s0 = 0.0107f, s1 = 0.0213f;
  ValueId a = b.conv(b.quantize(x, s0, DType::UInt8, 128), 8, 16, 3, 41, true, s0);
  ValueId codes = b.add("QuantizeLinear", {a, b.constant(Tensor::scalar<float>(s1)),
                                           b.constant(Tensor::scalar<uint8_t>(128))});
  ValueId y = b.conv(b.dequantize(codes, s1, DType::UInt8, 128), 16, 8, 1, 42, false, s1);
  b.output(y);
  b.output(codes);
  const std::shared_ptr<const Graph> graph = b.done();
  Session fast(graph, SessionOptions{false, 2});
  EXPECT_EQ(count_labels(fast, "int8 Conv+QuantizeLinear"), 1) << all_labels(fast);
  Session reference(graph, {true, 2});
  const std::map<std::string, Tensor> inputs{{"x", random_tensor({1, 8, 12, 12}, 43, -1.0f, 1.0f)}};
  const std::vector<Tensor> got = fast.run(inputs), want = reference.run(inputs);
  expect_within_rule(got[0], want[0], 0.0f, "output");
  ASSERT_EQ(got[1].dtype(), DType::UInt8);
  ASSERT_EQ(got[1].shape(), want[1].shape());
  int64_t off_by_one = 0, low = 255, high = 0;
  for (int64_t i = 0; i < want[1].numel(); ++i) {
    const int g = got[1].data<uint8_t>()[i], w = want[1].data<uint8_t>()[i];
    ASSERT_LE(std::abs(g - w), 1) << "code " << i;
    off_by_one += g != w;
    low = std::min<int64_t>(low, w);
    high = std::max<int64_t>(high, w);
  }
  EXPECT_LE(off_by_one * 100, want[1].numel());
  EXPECT_LT(low, 128);  // codes on both sides of the zero point
  EXPECT_GT(high, 128);
}

// Convs with M mod 32 in (16, 32) output channels run with zero channels appended up to the next
// multiple of 32 (faster in oneDNN, dnnl_int8_conv.cpp) and keep the first M: a 24- and a
// 56-channel Conv, with a float bias and an int32 one, per channel and per tensor, the first
// writing the codes the second reads; both follow the rule against the reference kernels and
// ONNX Runtime.
TEST(EngineInt8, PaddedOutputChannelsKeepTheFirstOnes) {
  for (int64_t out : {int64_t{24}, int64_t{56}}) {
    for (bool per_channel : {true, false}) {
      QdqBuilder b;
      ValueId x = b.input("x", {1, 8, 10, 10});
      const float s0 = 0.0107f, s1 = 0.0213f, s2 = 0.0311f;
      ValueId a = b.conv(b.quantize(x, s0, DType::UInt8, 128), 8, out, 3, 61, per_channel, s0);
      ValueId y = b.conv(b.quantize(a, s1, DType::UInt8, 128), out, 24, 1, 62, !per_channel);
      b.output(b.quantize(b.add("Relu", {y}), s2, DType::UInt8, 128));
      const std::string name = fmt::format("padded_{}_{}", out, per_channel ? "pc" : "pt");
      Session fast(b.done(), SessionOptions{false, 2});
      EXPECT_EQ(count_labels(fast, "int8 Conv+QuantizeLinear"), 1) << all_labels(fast);  // writes codes
      check(b.done(), random_tensor({1, 8, 10, 10}, 63, -1.0f, 1.0f), s2, 2, name);
    }
  }
}

// The deployable layout's residual: Add of two dequantized layers, Relu, then Q -> DQ for the next
// residual and OCS copies on the codes for the next int8 Conv. The Add, the Relu and the round
// trip run as one oneDNN binary step (dnnl_make_layout_binary with RoundTripOps); the int8 Conv
// quantizes the round trip's output, which gives the same codes; with a channel index out of
// range it falls back, quantizes that output again and the Gather reports the index.
TEST(EngineInt8, BinaryOpAndItsRoundTripRunAsOneStep) {
  for (int64_t copied : {int64_t{5}, int64_t{99}}) {
    QdqBuilder b;
    ValueId x = b.input("x", {1, 8, 12, 12});
    const float s0 = 0.0107f, s1 = 0.0213f, s2 = 0.0311f, s3 = 0.0419f;
    ValueId left = b.conv(b.quantize(x, s0, DType::UInt8, 128), 8, 8, 3, 41, true, s0);
    ValueId right = b.conv(b.quantize(x, s0, DType::UInt8, 128), 8, 8, 1, 42, false, s0);
    ValueId sum = b.add("Add", {b.quantize(left, s1, DType::UInt8, 128), b.quantize(right, s1, DType::UInt8, 128)});
    ValueId codes = b.add("QuantizeLinear", {b.add("Relu", {sum}), b.constant(Tensor::scalar<float>(s2)),
                                             b.constant(Tensor::scalar<uint8_t>(0))});
    ValueId residual = b.dequantize(codes, s2, DType::UInt8, 0);
    ValueId copies = b.gather(codes, {0, 1, 2, 3, 4, 5, 6, 7, 1, copied});
    ValueId y = b.conv(b.dequantize(copies, s2, DType::UInt8, 0), 10, 8, 3, 43, true, s2);
    b.output(b.quantize(b.add("Add", {y, residual}), s3, DType::UInt8, 128));
    const std::shared_ptr<const Graph> graph = b.done();
    const std::map<std::string, Tensor> inputs{{"x", random_tensor({1, 8, 12, 12}, 44, -1.0f, 1.0f)}};
    Session fast(graph, SessionOptions{false, 2});
    EXPECT_EQ(count_labels(fast, "dnnl Add+Relu+QuantizeLinear+DequantizeLinear"), 1) << all_labels(fast);
    // the last Conv takes the residual Add as a sum and the output's round trip as post-ops
    EXPECT_EQ(count_labels(fast, "int8 Conv+Add+QuantizeLinear+DequantizeLinear"), 1) << all_labels(fast);
    EXPECT_EQ(count_labels(fast, "int8 Conv"), 3) << all_labels(fast);
    Session reference(graph, {true, 2});
    expect_rejected_alike_or_within_rule(fast, reference, inputs, copied == 99, s3, "binary");
  }
}

// A float first layer (3 input channels, the plain image) reads the input as it is and writes one
// block of its 16 or 32 output channels (oneDNN's first-layer kernel); the int8 Conv after it
// reads 16 channels in place as channels-last (the same bytes) and reorders 32. Both follow the
// rule against the reference kernels and ONNX Runtime.
TEST(EngineInt8, FirstLayerOutputInItsBlockedLayoutFeedsTheInt8Conv) {
  for (int64_t out : {int64_t{16}, int64_t{32}}) {
    QdqBuilder b;
    ValueId x = b.input("x", {1, 3, 20, 20});
    const float s1 = 0.0213f, s2 = 0.0311f;
    std::map<std::string, Attribute> attrs{{"pads", ints_attribute({1, 1, 1, 1})}, {"strides", ints_attribute({2, 2})}};
    ValueId stem = b.add("Conv", {x, b.constant(random_tensor({out, 3, 3, 3}, 81, -0.5f, 0.5f)),
                                  b.constant(random_tensor({out}, 82, -0.2f, 0.2f))}, attrs);
    ValueId y = b.conv(b.quantize(stem, s1, DType::UInt8, 128), out, 8, 3, 83, true, s1);
    b.output(b.quantize(y, s2, DType::UInt8, 128));
    const std::shared_ptr<const Graph> graph = b.done();
    Session fast(graph, SessionOptions{false, 2});
    EXPECT_EQ(count_labels(fast, "dnnl Conv"), 1) << all_labels(fast);
    check(graph, random_tensor({1, 3, 20, 20}, 84, -1.0f, 1.0f), s2, 1, fmt::format("first_layer_{}", out));
  }
}

// A binary op, a nearest Resize or a Concat whose result only the QuantizeLinear of int8 Convs
// reads writes those codes itself (RoundTripOps::codes; not a MaxPool, which oneDNN pools float
// into float only): int8 with zero point 0, uint8 with zero
// point 0 (after a Relu), uint8 with zero point 128 (as its int8 view); the Convs read them, and
// with OCS copies on the codes (a channel index out of range: the int8 step falls back and the
// Gather reports it, as the reference does). Against the reference kernels, ONNX Runtime, and the
// same graph with the step turned off (OCS_NO_LAYOUT=layercodes).
TEST(EngineInt8, LayerWritesTheCodesTheInt8ConvsRead) {
  struct Case {
    std::string op;
    DType type;
    int zero_point;
    int64_t copied;
  };
  for (const Case& k : {Case{"Add", DType::UInt8, 128, 5}, Case{"Add", DType::UInt8, 128, 99},
                        Case{"Resize", DType::UInt8, 0, 5}, Case{"MaxPool", DType::Int8, 0, 5},
                        Case{"Concat", DType::UInt8, 128, 5}}) {
    QdqBuilder b;
    ValueId x = b.input("x", {1, 8, 12, 12});
    const float s0 = 0.0107f, s1 = 0.0213f, s2 = 0.0311f, s3 = 0.0419f;
    ValueId left = b.conv(b.quantize(x, s0, DType::UInt8, 128), 8, 8, 3, 71, true, s0);
    ValueId right = b.conv(b.quantize(x, s0, DType::UInt8, 128), 8, 8, 1, 72, false, s0);
    ValueId a = b.quantize(left, s1, DType::UInt8, 128);
    ValueId layer;
    std::string label;
    if (k.op == "Add") {
      layer = b.add("Add", {a, b.quantize(right, s1, DType::UInt8, 128)});
      label = "dnnl Add+QuantizeLinear";
    } else if (k.op == "Resize") {
      Tensor scales = Tensor::from_vector<float>({4}, {1, 1, 2, 2});
      layer = b.add("Relu", {b.add("Resize", {a, b.constant(Tensor(DType::Float32, {0})), b.constant(scales)},
                                   {{"mode", string_attribute("nearest")}, {"nearest_mode", string_attribute("floor")},
                                    {"coordinate_transformation_mode", string_attribute("asymmetric")}})});
      label = "dnnl Resize+Relu+QuantizeLinear";
    } else if (k.op == "MaxPool") {
      layer = b.add("MaxPool", {a}, {{"kernel_shape", ints_attribute({3, 3})}, {"pads", ints_attribute({1, 1, 1, 1})}});
      label = "dnnl MaxPool+QuantizeLinear";
    } else {  // channels 0-4 of one layer, then 3 of the other: the next Convs read 8 channels
      ValueId first = b.add("Slice", {a, b.constant(Tensor::from_vector<int64_t>({1}, {0})),
                                      b.constant(Tensor::from_vector<int64_t>({1}, {5})),
                                      b.constant(Tensor::from_vector<int64_t>({1}, {1}))});
      ValueId second = b.add("Slice", {b.quantize(right, s1, DType::UInt8, 128),
                                       b.constant(Tensor::from_vector<int64_t>({1}, {2})),
                                       b.constant(Tensor::from_vector<int64_t>({1}, {5})),
                                       b.constant(Tensor::from_vector<int64_t>({1}, {1}))});
      layer = b.add("Concat", {first, second}, {{"axis", int_attribute(1)}});
      label = "dnnl Concat+QuantizeLinear";
    }
    ValueId codes = b.add("QuantizeLinear", {layer, b.constant(Tensor::scalar<float>(s2)),
                                             k.type == DType::Int8 ? b.constant(Tensor::scalar<int8_t>(0))
                                                                   : b.constant(Tensor::scalar<uint8_t>(k.zero_point))});
    ValueId copies = b.gather(codes, {0, 1, 2, 3, 4, 5, 6, 7, 1, k.copied});
    ValueId y = b.conv(b.dequantize(copies, s2, k.type, k.zero_point), 10, 8, 3, 73, true, s2);
    ValueId z = b.conv(b.dequantize(codes, s2, k.type, k.zero_point), 8, 8, 1, 74, false, s2);
    b.output(b.quantize(b.add("Add", {y, z}), s3, DType::UInt8, 128));
    const std::shared_ptr<const Graph> graph = b.done();
    const std::string name = fmt::format("layer_codes_{}_{}", k.op, k.copied);
    const Shape shape{1, 8, 12, 12};
    const std::map<std::string, Tensor> inputs{{"x", random_tensor(shape, 75, -1.0f, 1.0f)}};
    Session fast(graph, SessionOptions{false, 2});
    EXPECT_EQ(count_labels(fast, label), k.op == "MaxPool" ? 0 : 1) << name << ": " << all_labels(fast);
    EXPECT_EQ(count_labels(fast, "int8 Conv"), 4) << name << ": " << all_labels(fast);
    setenv("OCS_NO_LAYOUT", "layercodes", 1);
    Session floats(graph, SessionOptions{false, 2});
    unsetenv("OCS_NO_LAYOUT");
    EXPECT_EQ(count_labels(floats, label), 0) << name << ": " << all_labels(floats);
    Session reference(graph, {true, 2});
    expect_rejected_alike_or_within_rule(fast, reference, inputs, k.copied == 99, s3, name);
    if (k.copied == 99) continue;
    expect_within_rule(floats.run(inputs)[0], reference.run(inputs)[0], s3, name + " (off)");
    check(graph, inputs.at("x"), s3, 4, name);
  }
}

}  // namespace
// PP-OCR det's neck: a nearest Resize and a GlobalAveragePool of a dequantized layer, each followed
// by a round trip (and a Relu after the first), run as one oneDNN resampling or pooling step with
// the round trip as post-ops; each output follows the rule against the reference kernels.
TEST(EngineInt8, PoolingAndResizeRunTheirRoundTripAsPostOps) {
  QdqBuilder b;
  ValueId x = b.input("x", {1, 8, 6, 6});
  const float s0 = 0.0107f, s1 = 0.0213f, s2 = 0.0311f, s3 = 0.0419f;
  ValueId a = b.conv(b.quantize(x, s0, DType::UInt8, 128), 8, 8, 3, 51, true, s0);
  ValueId coarse = b.quantize(a, s1, DType::UInt8, 128);
  Tensor scales(DType::Float32, {4});
  std::vector<float> factors{1, 1, 2, 2};
  std::copy(factors.begin(), factors.end(), scales.data<float>());
  ValueId up = b.add("Resize", {coarse, b.constant(Tensor(DType::Float32, {0})), b.constant(scales)},
                     {{"mode", string_attribute("nearest")}, {"coordinate_transformation_mode", string_attribute("asymmetric")},
                      {"nearest_mode", string_attribute("floor")}});
  b.output(b.add("Relu", {b.quantize(up, s2, DType::UInt8, 128)}));
  b.output(b.quantize(b.add("GlobalAveragePool", {coarse}), s3, DType::UInt8, 128));
  const std::shared_ptr<const Graph> graph = b.done();
  Session fast(graph, SessionOptions{false, 2});
  EXPECT_EQ(count_labels(fast, "dnnl Resize+QuantizeLinear+DequantizeLinear+Relu"), 1) << all_labels(fast);
  EXPECT_EQ(count_labels(fast, "dnnl GlobalAveragePool+QuantizeLinear+DequantizeLinear"), 1) << all_labels(fast);
  Session reference(graph, {true, 2});
  const std::map<std::string, Tensor> inputs{{"x", random_tensor({1, 8, 6, 6}, 52, -1.0f, 1.0f)}};
  const std::vector<Tensor> expected = reference.run(inputs);
  for (int repeat = 0; repeat < 2; ++repeat) {
    const std::vector<Tensor> got = fast.run(inputs);
    expect_within_rule(got[0], expected[0], s2, "resize");
    expect_within_rule(got[1], expected[1], s3, "pooling");
  }
}

}  // namespace ocs
