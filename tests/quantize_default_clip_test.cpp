// The default activation clip method of `ocs quantize` (issue #13 point 5): mse, not the paper's
// max. On long-tailed activations (Laplace-distributed here) at 4 bits, max spends the grid on a
// few large values; the default clips them and keeps the output closer to the float model's.
#include "data/sample_source.h"
#include "engine/session.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"
#include "recipe/quantizer.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace ocs {
namespace {
using namespace ocs::testing;

constexpr int64_t kIn = 64, kOut = 16, kSamples = 512;

// y = x W with x [1, 64], W [64, 16] uniform in [-1, 1].
Graph matmul_graph() {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, kIn});
  *g->add_output() = value_info("y", {1, kOut});
  tensor_to_proto(random_tensor({kIn, kOut}, 5), "w", g->add_initializer());
  *g->add_node() = node("MatMul", {"x", "w"}, {"y"}, "mm");
  return import_onnx_bytes(serialize(m), ".", "matmul.onnx");
}

// kSamples rows of Laplace(0, 1) values: a tail without a natural end, as activations have.
Tensor laplace_rows(uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-0.5, 0.5);
  Tensor t(DType::Float32, {kSamples, kIn});
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = u(rng);
    t.data<float>()[i] = static_cast<float>(-std::copysign(1.0, v) * std::log(1.0 - 2.0 * std::fabs(v)));
  }
  return t;
}

QuantizeResult quantize_with(const Graph& g, const QuantizeOptions& options) {
  ArraySampleSource calib(g, {{"x", laplace_rows(1)}}, kSamples);
  return quantize_model(g, options, &calib);
}

// Output SQNR (dB) of `q` against `f` over kSamples held-out rows.
double output_sqnr_db(const Graph& f, const Graph& q) {
  const Tensor x = laplace_rows(2);
  Session fs(std::make_shared<const Graph>(f)), qs(std::make_shared<const Graph>(q));
  double signal = 0, noise = 0;
  for (int64_t n = 0; n < kSamples; ++n) {
    Tensor row(DType::Float32, {1, kIn});
    std::copy_n(x.data<float>() + n * kIn, kIn, row.data<float>());
    const Tensor a = fs.run({{"x", row}})[0], b = qs.run({{"x", row}})[0];
    for (int64_t k = 0; k < kOut; ++k) {
      const double d = static_cast<double>(a.data<float>()[k]) - b.data<float>()[k];
      signal += static_cast<double>(a.data<float>()[k]) * a.data<float>()[k];
      noise += d * d;
    }
  }
  return 10.0 * std::log10(signal / noise);
}

TEST(QuantizeDefaultClip, DefaultActivationClipIsMseAndBeatsMaxOnALongTail) {
  const Graph g = matmul_graph();
  QuantizeOptions defaults;
  defaults.activation_bits = 4;
  defaults.keep_first_last_float = false;  // the one MatMul is the layer under test
  QuantizeOptions mse = defaults, max = defaults;
  mse.activation_clip = "mse";
  max.activation_clip = "max";
  const QuantizeResult d = quantize_with(g, defaults), m = quantize_with(g, mse), x = quantize_with(g, max);
  ASSERT_EQ(d.plan.layers.size(), 1u);
  ASSERT_TRUE(d.plan.layers[0].act_threshold && x.plan.layers[0].act_threshold);
  EXPECT_EQ(*d.plan.layers[0].act_threshold, *m.plan.layers[0].act_threshold);
  // max keeps the largest calibration value; the default clips well below it.
  const Tensor calib = laplace_rows(1);
  double largest = 0;
  for (int64_t i = 0; i < calib.numel(); ++i) largest = std::max(largest, std::fabs(double{calib.data<float>()[i]}));
  EXPECT_NEAR(*x.plan.layers[0].act_threshold, largest, 1e-5 * largest);
  EXPECT_LT(*d.plan.layers[0].act_threshold, 0.6 * largest);
  // And that is worth it: at 4 bits a Laplace input loses less with the clipped grid.
  const double sqnr_default = output_sqnr_db(g, d.graph), sqnr_max = output_sqnr_db(g, x.graph);
  EXPECT_GT(sqnr_default, sqnr_max + 2.0) << "default " << sqnr_default << " dB, max " << sqnr_max << " dB";
}

}  // namespace
}  // namespace ocs
