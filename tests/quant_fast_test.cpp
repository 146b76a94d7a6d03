// The fast QuantizeLinear/DequantizeLinear kernels (kernels/fast/quant_fast.cpp) against the
// reference kernels (kernels/reference/quant.cpp, bit-exact with ONNX Runtime): byte for byte
// on random data with ties (k + 0.5 times the scale), NaN, +-inf, huge values and zero points
// at the edges, per tensor and per axis, int8 and uint8, in sizes on both sides of the parallel
// threshold.
#include "kernels/kernel.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace ocs {
namespace {

struct QdqRun {
  Node node;
  std::vector<Tensor> inputs;
};

QdqRun make_run(const std::string& op, std::vector<Tensor> inputs, int64_t axis) {
  QdqRun run;
  run.node.name = "q";
  run.node.op_type = op;
  Attribute axis_attr;
  axis_attr.kind = Attribute::Kind::Int;
  axis_attr.i = axis;
  run.node.attributes["axis"] = axis_attr;
  for (size_t i = 0; i < inputs.size(); ++i)
    run.node.inputs.push_back(inputs[i].defined() ? static_cast<ValueId>(i) : kNoValue);
  run.node.outputs = {100};
  run.inputs = std::move(inputs);
  return run;
}

// Output of the reference kernel and of the fast kernel for the same node.
std::pair<Tensor, Tensor> both(QdqRun& run, int64_t opset = 13) {
  const KernelEntry* entry = KernelRegistry::global().find("", run.node.op_type);
  EXPECT_TRUE(entry && entry->fast);
  std::vector<Tensor> reference(1), fast(1);
  KernelContext ref_ctx{run.node, run.inputs, reference, opset};
  entry->reference(ref_ctx);
  Graph graph;
  std::unique_ptr<FastKernel> kernel = entry->fast(run.node, graph);
  EXPECT_TRUE(kernel);
  KernelContext fast_ctx{run.node, run.inputs, fast, opset};
  kernel->run(fast_ctx);
  return {reference[0], fast[0]};
}

void expect_same_bytes(const Tensor& a, const Tensor& b) {
  ASSERT_EQ(a.dtype(), b.dtype());
  ASSERT_EQ(a.shape(), b.shape());
  if (std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0) return;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const size_t k = dtype_size(a.dtype());
    ASSERT_EQ(std::memcmp(static_cast<const char*>(a.raw()) + i * k, static_cast<const char*>(b.raw()) + i * k, k), 0)
        << "first difference at element " << i;
  }
}

// Values x / scale lands on: uniform, exact ties k + 0.5, near the saturation bounds, and the
// specials.
Tensor hard_floats(const Shape& shape, float scale, uint32_t seed) {
  Tensor x(DType::Float32, shape);
  float* d = x.data<float>();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-300.0f, 300.0f);
  std::uniform_int_distribution<int> tie(-300, 300), pick(0, 9);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 3e38f, -3e38f, 1e-40f, -0.0f, 0.0f,
                            127.5f, -128.5f, 255.5f, -0.5f, 0.5f, 1.5f, 2.5f};
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int kind = pick(rng);
    if (kind < 4) d[i] = uniform(rng) * scale;
    else if (kind < 8) d[i] = (static_cast<float>(tie(rng)) + 0.5f) * scale;
    else d[i] = specials[rng() % (sizeof(specials) / sizeof(float))] * (kind == 8 ? scale : 1.0f);
  }
  return x;
}

Tensor scales_of(std::vector<float> s) {
  Tensor t(DType::Float32, {static_cast<int64_t>(s.size())});
  std::copy(s.begin(), s.end(), t.data<float>());
  return t;
}

template <typename Q>
Tensor zero_points_of(std::vector<int> z) {
  Tensor t(std::is_same_v<Q, int8_t> ? DType::Int8 : DType::UInt8, {static_cast<int64_t>(z.size())});
  for (size_t i = 0; i < z.size(); ++i) t.data<Q>()[i] = static_cast<Q>(z[i]);
  return t;
}

TEST(QuantFast, QuantizePerTensorMatchesReferenceByteForByte) {
  for (const Shape& shape : {Shape{7}, Shape{3, 5, 11}, Shape{2, 64, 40, 40}}) {  // the last one runs in parallel
    for (float scale : {1.0f, 0.0371f, 3.3e-5f, 1e30f}) {
      for (int zp : {0, 17, -128, 127}) {
        QdqRun run = make_run("QuantizeLinear", {hard_floats(shape, scale, 7), Tensor::scalar<float>(scale),
                                              Tensor::scalar<int8_t>(static_cast<int8_t>(zp))}, 1);
        auto [ref, fast] = both(run);
        expect_same_bytes(ref, fast);
      }
      for (int zp : {0, 128, 255}) {
        QdqRun run = make_run("QuantizeLinear", {hard_floats(shape, scale, 8), Tensor::scalar<float>(scale),
                                              Tensor::scalar<uint8_t>(static_cast<uint8_t>(zp))}, 1);
        auto [ref, fast] = both(run);
        expect_same_bytes(ref, fast);
      }
      QdqRun no_zero_point = make_run("QuantizeLinear", {hard_floats(shape, scale, 9), Tensor::scalar<float>(scale)}, 1);
      auto [ref, fast] = both(no_zero_point);
      expect_same_bytes(ref, fast);
    }
  }
}

TEST(QuantFast, QuantizePerAxisMatchesReference) {
  for (int64_t axis : {0, 1, -1}) {
    const Shape shape{4, 6, 5, 130};
    const int64_t channels = shape[axis < 0 ? shape.size() - 1 : axis];
    std::vector<float> s;
    std::vector<int> z8, zu8;
    for (int64_t c = 0; c < channels; ++c) {
      s.push_back(0.01f * static_cast<float>(c + 1));
      z8.push_back(static_cast<int>(c % 7) - 3);
      zu8.push_back(static_cast<int>(c * 37 % 256));
    }
    QdqRun signed_run = make_run("QuantizeLinear", {hard_floats(shape, 0.03f, 11), scales_of(s), zero_points_of<int8_t>(z8)}, axis);
    auto [ref, fast] = both(signed_run);
    expect_same_bytes(ref, fast);
    QdqRun unsigned_run =
        make_run("QuantizeLinear", {hard_floats(shape, 0.03f, 12), scales_of(s), zero_points_of<uint8_t>(zu8)}, axis);
    auto [ref_u, fast_u] = both(unsigned_run);
    expect_same_bytes(ref_u, fast_u);
  }
}

template <typename Q>
Tensor random_integers(DType type, const Shape& shape, uint32_t seed) {
  Tensor t(type, shape);
  std::mt19937 rng(seed);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<Q>()[i] = static_cast<Q>(rng());
  return t;
}

TEST(QuantFast, DequantizeMatchesReferenceByteForByte) {
  for (const Shape& shape : {Shape{9}, Shape{2, 64, 40, 40}}) {
    for (float scale : {0.0371f, 1e-30f, 3e35f}) {
      QdqRun s8 = make_run("DequantizeLinear", {random_integers<int8_t>(DType::Int8, shape, 1), Tensor::scalar<float>(scale),
                                             Tensor::scalar<int8_t>(-5)}, 1);
      auto [r1, f1] = both(s8);
      expect_same_bytes(r1, f1);
      QdqRun u8 = make_run("DequantizeLinear", {random_integers<uint8_t>(DType::UInt8, shape, 2),
                                             Tensor::scalar<float>(scale), Tensor::scalar<uint8_t>(128)}, 1);
      auto [r2, f2] = both(u8);
      expect_same_bytes(r2, f2);
      QdqRun s32 = make_run("DequantizeLinear", {random_integers<int32_t>(DType::Int32, shape, 3),
                                              Tensor::scalar<float>(scale)}, 1);
      auto [r3, f3] = both(s32);
      expect_same_bytes(r3, f3);
    }
  }
  // Per axis (axis 0 of a weight, as the exporter writes).
  const Shape w{16, 3, 3, 3};
  std::vector<float> s;
  for (int c = 0; c < 16; ++c) s.push_back(0.001f * static_cast<float>(c + 1));
  QdqRun per_axis = make_run("DequantizeLinear", {random_integers<int8_t>(DType::Int8, w, 4), scales_of(s),
                                               zero_points_of<int8_t>(std::vector<int>(16, 0))}, 0);
  auto [r4, f4] = both(per_axis);
  expect_same_bytes(r4, f4);
}

TEST(QuantFast, InvalidConfigurationsReachTheReferenceMessage) {
  // A non-zero zero point for int32 input: the fast kernel hands over, the reference refuses.
  QdqRun bad = make_run("DequantizeLinear", {random_integers<int32_t>(DType::Int32, {4}, 5), Tensor::scalar<float>(1.0f),
                                          Tensor::scalar<int32_t>(3)}, 1);
  EXPECT_THROW(both(bad), UserError);
  // Per-axis scale whose size does not match the axis.
  QdqRun mismatch = make_run("QuantizeLinear", {hard_floats({2, 3}, 1.0f, 6), scales_of({1.0f, 2.0f}),
                                             zero_points_of<int8_t>({0, 0})}, 1);
  EXPECT_THROW(both(mismatch), UserError);
}

}  // namespace
}  // namespace ocs
