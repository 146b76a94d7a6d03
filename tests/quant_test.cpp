// QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear reference kernels and the rounding
// helper in core/round.h. Quantized outputs are compared exactly (they are integers);
// dequantized outputs too (each is one float multiply of small integers by the scale).
#include "kernel_test_util.h"
#include "kernels/kernel.h"
#include "core/round.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace ocs {
namespace {

Attribute int_attr(int64_t value) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = value;
  return a;
}

using ocs::testing::run_kernel;

uint32_t float_bits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  return bits;
}

TEST(QuantRound, TiesGoToEven) {
  EXPECT_EQ(round_half_to_even(2.5f), 2.0f);
  EXPECT_EQ(round_half_to_even(-2.5f), -2.0f);
  EXPECT_EQ(round_half_to_even(3.5f), 4.0f);
  EXPECT_EQ(round_half_to_even(-3.5f), -4.0f);
  EXPECT_EQ(round_half_to_even(0.5f), 0.0f);
  EXPECT_EQ(round_half_to_even(1.5f), 2.0f);
  EXPECT_EQ(round_half_to_even(-0.5f), 0.0f);
  EXPECT_EQ(round_half_to_even(127.5f), 128.0f);
  EXPECT_EQ(round_half_to_even(-128.5f), -128.0f);
}

// The integer variant must agree with the remainder-based one on every float of [-2^16, 2^16]
// (each float in [-2^10, 2^10], and every 64th float beyond, both signs).
TEST(QuantRound, SmallIntegerVariantAgreesEverywhereInRange) {
  int64_t checked = 0;
  for (float v = 0.0f; v <= 65536.0f; v = std::nextafter(v, 1e9f)) {
    const int stride = v < 1024.0f ? 1 : 64;
    for (float x : {v, -v}) {
      ASSERT_EQ(static_cast<float>(round_half_to_even_small(x)), round_half_to_even(x)) << "x = " << x;
      ++checked;
    }
    for (int k = 1; k < stride; ++k) v = std::nextafter(v, 1e9f);
  }
  EXPECT_GT(checked, 2'000'000'000 / 1000);
}

TEST(QuantRound, NonTiesGoToNearest) {
  EXPECT_EQ(round_half_to_even(2.4999998f), 2.0f);  // the float just below 2.5
  EXPECT_EQ(round_half_to_even(2.5000002f), 3.0f);  // the float just above 2.5
  EXPECT_EQ(round_half_to_even(-0.49999997f), 0.0f);
  EXPECT_EQ(round_half_to_even(-1.7f), -2.0f);
  // From 2^23 on every float is an integer and is returned unchanged.
  EXPECT_EQ(round_half_to_even(8388609.0f), 8388609.0f);
  EXPECT_EQ(round_half_to_even(1e30f), 1e30f);
  EXPECT_EQ(round_half_to_even(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(round_half_to_even(std::numeric_limits<float>::quiet_NaN())));
}

TEST(QuantRound, IgnoresTheFloatingPointRoundingMode) {
  const int saved = std::fegetround();
  std::fesetround(FE_UPWARD);
  const float up = round_half_to_even(2.5f);
  std::fesetround(FE_DOWNWARD);
  const float down = round_half_to_even(3.5f);
  std::fesetround(saved);
  EXPECT_EQ(up, 2.0f);
  EXPECT_EQ(down, 4.0f);
}

// An independent formulation (nearbyint under the default rounding mode, clamping in double
// after rounding) checked against quantize_value on many values, half of them exact ties.
TEST(QuantRound, QuantizeValueMatchesIndependentFormula) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  std::mt19937 rng(1234);
  std::uniform_real_distribution<float> uniform(-400.0f, 400.0f);
  std::uniform_int_distribution<int> integer(-300, 300);
  const float scales[] = {1.0f, 0.5f, 0.25f, 2.0f, 0.0123f, 3.7f};
  for (float scale : scales) {
    for (int32_t zero_point : {0, 7, -3, 128}) {
      for (int n = 0; n < 20000; ++n) {
        // Exact ties: (k + 0.5) * scale divides back to k + 0.5 when scale is a power of two.
        const float x = n % 2 ? uniform(rng) * scale : (static_cast<float>(integer(rng)) + 0.5f) * scale;
        const double rounded = std::nearbyint(static_cast<double>(x / scale));
        const double expected_u8 = std::clamp(rounded + zero_point, 0.0, 255.0);
        const double expected_i8 = std::clamp(rounded + zero_point, -128.0, 127.0);
        if (zero_point >= 0) {
          ASSERT_EQ(quantize_value<uint8_t>(x, scale, zero_point), static_cast<uint8_t>(expected_u8)) << x << " " << scale;
        }
        if (zero_point <= 127) {
          ASSERT_EQ(quantize_value<int8_t>(x, scale, zero_point), static_cast<int8_t>(expected_i8)) << x << " " << scale;
        }
      }
    }
  }
}

TEST(QuantRound, SaturatesInfinitiesAndNan) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(quantize_value<uint8_t>(inf, 1.0f, 10), 255);
  EXPECT_EQ(quantize_value<uint8_t>(-inf, 1.0f, 10), 0);
  EXPECT_EQ(quantize_value<int8_t>(1e30f, 1e-30f, 0), 127);
  EXPECT_EQ(quantize_value<int8_t>(std::numeric_limits<float>::quiet_NaN(), 1.0f, 0), -128);
}

TEST(QuantQuantizeLinear, OnnxExampleUint8) {
  // ONNX's test_quantizelinear: 3 / 2 = 1.5 rounds to 2; 1000 and -1000 saturate.
  Tensor x = Tensor::from_vector<float>({6}, {0, 2, 3, 1000, -254, -1000});
  Tensor y = run_kernel("QuantizeLinear", {x, Tensor::scalar<float>(2), Tensor::scalar<uint8_t>(128)}, {}, 10)[0];
  EXPECT_EQ(y.dtype(), DType::UInt8);
  EXPECT_EQ(y.to_vector<uint8_t>(), (std::vector<uint8_t>{128, 129, 130, 255, 1, 0}));
}

TEST(QuantQuantizeLinear, Int8TiesAndSaturation) {
  Tensor x = Tensor::from_vector<float>({7}, {2.5f, -2.5f, 3.5f, -3.5f, 0.5f, 1000, -1000});
  Tensor y = run_kernel("QuantizeLinear", {x, Tensor::scalar<float>(1), Tensor::scalar<int8_t>(-1)}, {}, 13)[0];
  EXPECT_EQ(y.dtype(), DType::Int8);
  // round: 2, -2, 4, -4, 0; then + (-1); then saturate.
  EXPECT_EQ(y.to_vector<int8_t>(), (std::vector<int8_t>{1, -3, 3, -5, -1, 127, -128}));
}

TEST(QuantQuantizeLinear, MissingZeroPointMeansUint8Zero) {
  Tensor x = Tensor::from_vector<float>({4}, {-1, 5, 7, 600});
  Tensor y = run_kernel("QuantizeLinear", {x, Tensor::scalar<float>(2), Tensor()}, {}, 10)[0];
  EXPECT_EQ(y.dtype(), DType::UInt8);
  EXPECT_EQ(y.to_vector<uint8_t>(), (std::vector<uint8_t>{0, 2, 4, 255}));  // -0.5 -> 0, 2.5 -> 2, 3.5 -> 4
}

TEST(QuantQuantizeLinear, PerAxisOnnxExample) {
  // ONNX's test_quantizelinear_axis: shape [1, 3, 3, 2], per-channel along axis 1.
  Tensor x = Tensor::from_vector<float>({1, 3, 3, 2}, {-162, 10, -100, 232, -20, -50, -76, 0, 0, 252, 32, -44,
                                                         245, -485, -960, -270, -375, -470});
  Tensor scale = Tensor::from_vector<float>({3}, {2, 4, 5});
  Tensor zero_point = Tensor::from_vector<uint8_t>({3}, {84, 24, 196});
  Tensor y = run_kernel("QuantizeLinear", {x, scale, zero_point}, {}, 13)[0];
  EXPECT_EQ(y.to_vector<uint8_t>(),
            (std::vector<uint8_t>{3, 89, 34, 200, 74, 59, 5, 24, 24, 87, 32, 13, 245, 99, 4, 142, 121, 102}));
}

TEST(QuantQuantizeLinear, PerAxisLastAxisInt8) {
  // Shape [2, 2], axis -1: column 0 has scale 0.5 / zero point 0, column 1 scale 2 / zero point 10.
  Tensor x = Tensor::from_vector<float>({2, 2}, {1.25f, 5, -70, 300});
  Tensor scale = Tensor::from_vector<float>({2}, {0.5f, 2});
  Tensor zero_point = Tensor::from_vector<int8_t>({2}, {0, 10});
  Tensor y = run_kernel("QuantizeLinear", {x, scale, zero_point}, {{"axis", int_attr(-1)}}, 13)[0];
  // 1.25/0.5 = 2.5 -> 2; 5/2 = 2.5 -> 2, +10 = 12; -70/0.5 = -140 -> -128; 300/2 + 10 = 160 -> 127.
  EXPECT_EQ(y.to_vector<int8_t>(), (std::vector<int8_t>{2, 12, -128, 127}));
}

TEST(QuantQuantizeLinear, PerAxisNeedsOpset13) {
  Tensor x(DType::Float32, {1, 2});
  Tensor scale = Tensor::from_vector<float>({2}, {1, 2});
  Tensor zero_point = Tensor::from_vector<uint8_t>({2}, {0, 0});
  EXPECT_THROW(run_kernel("QuantizeLinear", {x, scale, zero_point}, {}, 10), UserError);
  Tensor wrong = Tensor::from_vector<float>({3}, {1, 2, 3});
  EXPECT_THROW(run_kernel("QuantizeLinear", {x, wrong, Tensor()}, {}, 13), UserError);
}

TEST(QuantDequantizeLinear, OnnxExampleUint8) {
  Tensor x = Tensor::from_vector<uint8_t>({4}, {0, 3, 128, 255});
  Tensor y = run_kernel("DequantizeLinear", {x, Tensor::scalar<float>(2), Tensor::scalar<uint8_t>(128)}, {}, 10)[0];
  EXPECT_EQ(y.dtype(), DType::Float32);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{-256, -250, 0, 254}));
}

TEST(QuantDequantizeLinear, Int8PerAxisAndInt32) {
  Tensor x = Tensor::from_vector<int8_t>({2, 2}, {-128, 127, 3, -4});
  Tensor scale = Tensor::from_vector<float>({2}, {0.5f, 0.25f});
  Tensor zero_point = Tensor::from_vector<int8_t>({2}, {1, -2});
  Tensor y = run_kernel("DequantizeLinear", {x, scale, zero_point}, {{"axis", int_attr(0)}}, 13)[0];
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{-64.5f, 63, 1.25f, -0.5f}));

  Tensor bias = Tensor::from_vector<int32_t>({3}, {-1000000, 0, 70000});
  Tensor z = run_kernel("DequantizeLinear", {bias, Tensor::scalar<float>(0.125f)}, {}, 10)[0];
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{-125000, 0, 8750}));
  EXPECT_THROW(run_kernel("DequantizeLinear", {bias, Tensor::scalar<float>(1), Tensor::scalar<int32_t>(3)}, {}, 13),
               UserError);
}

TEST(QuantDequantizeLinear, RoundTripRecoversGridValues) {
  // Values on the quantization grid survive Q then DQ exactly.
  const float scale = 0.0375f;
  std::vector<float> grid;
  for (int q = -128; q <= 127; ++q) grid.push_back(dequantize_value(q, scale, -5));
  Tensor x = Tensor::from_vector<float>({static_cast<int64_t>(grid.size())}, grid);
  Tensor q = run_kernel("QuantizeLinear", {x, Tensor::scalar<float>(scale), Tensor::scalar<int8_t>(-5)}, {}, 13)[0];
  Tensor back = run_kernel("DequantizeLinear", {q, Tensor::scalar<float>(scale), Tensor::scalar<int8_t>(-5)}, {}, 13)[0];
  EXPECT_EQ(back.to_vector<float>(), grid);
  std::vector<int8_t> codes = q.to_vector<int8_t>();
  for (size_t k = 0; k < codes.size(); ++k) EXPECT_EQ(codes[k], static_cast<int>(k) - 128);
}

TEST(QuantDynamicQuantizeLinear, OnnxExamples) {
  {
    // range [-3, 2]: scale 5/255, zero point round(3 / scale) = 153.
    Tensor x = Tensor::from_vector<float>({6}, {0, 2, -3, -2.5f, 1.34f, 0.5f});
    auto out = run_kernel("DynamicQuantizeLinear", {x}, {}, 11, 3);
    EXPECT_EQ(out[0].to_vector<uint8_t>(), (std::vector<uint8_t>{153, 255, 0, 26, 221, 179}));
    EXPECT_EQ(out[1].shape(), Shape{});
    EXPECT_EQ(float_bits(out[1].to_vector<float>()[0]), 1017159841u);  // ONNX's expected bits
    EXPECT_EQ(out[2].to_vector<uint8_t>(), (std::vector<uint8_t>{153}));
  }
  {
    // All negative: the range is stretched to include 0, zero point 255.
    Tensor x = Tensor::from_vector<float>({6}, {-1, -2.1f, -1.3f, -2.5f, -3.34f, -4});
    auto out = run_kernel("DynamicQuantizeLinear", {x}, {}, 11, 3);
    EXPECT_EQ(out[0].to_vector<uint8_t>(), (std::vector<uint8_t>{191, 121, 172, 96, 42, 0}));
    EXPECT_EQ(float_bits(out[1].to_vector<float>()[0]), 1015054465u);
    EXPECT_EQ(out[2].to_vector<uint8_t>(), (std::vector<uint8_t>{255}));
  }
  {
    Tensor x(DType::Float32, {3});  // all zero: scale 1 (ONNX Runtime's choice), zero point 0
    auto out = run_kernel("DynamicQuantizeLinear", {x}, {}, 11, 3);
    EXPECT_EQ(out[0].to_vector<uint8_t>(), (std::vector<uint8_t>{0, 0, 0}));
    EXPECT_EQ(out[1].to_vector<float>()[0], 1.0f);
    EXPECT_EQ(out[2].to_vector<uint8_t>()[0], 0);
  }
}

}  // namespace
}  // namespace ocs
