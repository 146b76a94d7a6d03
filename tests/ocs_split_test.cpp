// The quantizer (quant/fake_quant.h) and weight OCS on one tensor (quant/ocs_split.h), against
// hand-computed values and the algebraic identities of docs/METHOD.md.
#include "quant/fake_quant.h"
#include "quant/ocs_split.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace ocs {
namespace {

// Round half to even in double (independent of the rounding mode, like core/round.h).
double round_even(double v) { return v - std::remainder(v, 1.0); }

TEST(FakeQuant, ScaleAndCodeRange) {
  EXPECT_DOUBLE_EQ(quant_scale(2.0, 8), 127.0 / 2.0);
  EXPECT_DOUBLE_EQ(quant_scale(1.0, 4), 7.0);
  EXPECT_FLOAT_EQ(quant_step(1.75, 4), 0.25f);
  EXPECT_EQ(quant_max_code(6), 31);
  EXPECT_EQ(quant_min_code(6), -32);
  EXPECT_EQ(quant_step(0.0, 8), 1.0f);
  EXPECT_THROW(quant_scale(1.0, 1), UserError);
  EXPECT_THROW(quant_scale(1.0, 17), UserError);
}

TEST(FakeQuant, PerTensorHandComputed) {
  // t = 1.75 at 4 bits: s = 7 / 1.75 = 4, step 0.25 (exact in float).
  // y = x * 4 = 0.5 -> 0 (tie, even), 1.5 -> 2 (tie, even), -2.5 -> -2 (tie, even),
  // 8 -> 7 (clamped), -12 -> -8 (clamped), 1.2 -> 1.
  const Tensor x = Tensor::from_vector<float>({6}, {0.125f, 0.375f, -0.625f, 2.0f, -3.0f, 0.3f});
  const Tensor q = quantize_symmetric(x, {1.75}, -1, 4);
  EXPECT_EQ(q.to_vector<int8_t>(), (std::vector<int8_t>{0, 2, -2, 7, -8, 1}));
  const Tensor x_hat = dequantize_symmetric(q, {1.75}, -1, 4);
  EXPECT_EQ(x_hat.to_vector<float>(), (std::vector<float>{0.0f, 0.5f, -0.5f, 1.75f, -2.0f, 0.25f}));
  EXPECT_EQ(fake_quantize(x, {1.75}, -1, 4).to_vector<float>(), x_hat.to_vector<float>());
  // 12 bits: int16 codes, t = 2047 * 0.25 keeps the step at 0.25 (no clamping now).
  const Tensor q12 = quantize_symmetric(x, {2047 * 0.25}, -1, 12);
  ASSERT_EQ(q12.dtype(), DType::Int16);
  EXPECT_EQ(q12.to_vector<int16_t>(), (std::vector<int16_t>{0, 2, -2, 8, -12, 1}));
  EXPECT_EQ(dequantize_symmetric(q12, {2047 * 0.25}, -1, 12).to_vector<float>(),
            (std::vector<float>{0.0f, 0.5f, -0.5f, 2.0f, -3.0f, 0.25f}));
}

TEST(FakeQuant, PerChannelUsesOneGridPerSlice) {
  // Rows are channels (axis 0): row 0 has t = 1.75 (step 0.25), row 1 has t = 3.5 (step 0.5).
  const Tensor x = Tensor::from_vector<float>({2, 3}, {0.3f, -1.75f, 0.0f, 0.3f, -3.5f, 1.3f});
  const Tensor x_hat = fake_quantize(x, max_abs_per_channel(x, 0), 0, 4);
  EXPECT_EQ(max_abs_per_channel(x, 0), (std::vector<double>{1.75, 3.5}));
  EXPECT_EQ(x_hat.to_vector<float>(), (std::vector<float>{0.25f, -1.75f, 0.0f, 0.5f, -3.5f, 1.5f}));
  // Per channel along axis 1 of the same data: columns (0.3, 0.3), (-1.75, -3.5), (0, 1.3).
  EXPECT_EQ(max_abs_per_channel(x, 1), (std::vector<double>{0.30000001192092896, 3.5, 1.2999999523162842}));
  // An all-zero slice quantizes to zeros.
  const Tensor zeros(DType::Float32, {2, 2});
  EXPECT_EQ(fake_quantize(zeros, {0.0, 0.0}, 0, 8).to_vector<float>(), std::vector<float>(4, 0.0f));
}

TEST(FakeQuant, Sqnr) {
  const Tensor x = Tensor::from_vector<float>({2}, {3.0f, 4.0f});
  const Tensor x_hat = Tensor::from_vector<float>({2}, {3.0f, 3.0f});
  EXPECT_NEAR(sqnr_db(x, x_hat), 10.0 * std::log10(25.0), 1e-12);
  EXPECT_TRUE(std::isinf(sqnr_db(x, x)));
  // Uniform data: the error is uniform on +-step/2, so SQNR = 20 log10(levels) + const and 8 bits
  // beat 4 bits by 20 log10(127 / 7) = 25.2 dB (tolerance: sampling noise of 4096 values).
  const Tensor r = testing::random_tensor({4096}, 7);
  const double gain = sqnr_db(r, fake_quantize_max(r, 8)) - sqnr_db(r, fake_quantize_max(r, 4));
  EXPECT_NEAR(gain, 20.0 * std::log10(127.0 / 7.0), 0.5);
}

// docs/METHOD.md: round(y/2 - 1/4) + round(y/2 + 1/4) == round(y) except at exact ties y = j + 1/2.
TEST(OcsSplit, QuantAwareIdentityForRandomValuesAndScales) {
  std::mt19937 rng(1234);
  std::normal_distribution<double> weight(0.0, 0.05);
  int checked = 0;
  for (double scale : {1.0, 3.7, 12.5, 63.5, 127.0, 254.0, 1000.0, 31.0 / 0.2}) {
    for (int i = 0; i < 20000; ++i) {
      const double y = weight(rng) * scale;
      if (std::fabs(std::remainder(y, 1.0)) == 0.5) continue;  // exact tie: see the next test
      ASSERT_EQ(round_even(y / 2 - 0.25) + round_even(y / 2 + 0.25), round_even(y))
          << "y = " << y << " at scale " << scale;
      ++checked;
    }
  }
  EXPECT_GT(checked, 150000);
  // Zero stays zero.
  EXPECT_EQ(round_even(-0.25), 0.0);
  EXPECT_EQ(round_even(0.25), 0.0);
}

// How exact ties are handled (not special-cased, ocs_split.cpp): for y = j + 1/2 the halves are
// j/2 and j/2 + 1/2 and sum to j or j + 1, both at distance 1/2 from y, like round(y) itself.
// The sum equals half-to-even round(y) for j = 0, 3 (mod 4) and is the odd neighbour for
// j = 1, 2 (mod 4).
TEST(OcsSplit, QuantAwareTiesKeepTheErrorAtHalfAStep) {
  for (int j = -41; j <= 41; ++j) {
    const double y = j + 0.5;
    const double sum = round_even(y / 2 - 0.25) + round_even(y / 2 + 0.25);
    EXPECT_EQ(std::fabs(sum - y), 0.5) << "y = " << y;
    const int residue = ((j % 4) + 4) % 4;
    const double odd_neighbour = round_even(y) == j ? j + 1 : j;
    const double expected = residue == 0 || residue == 3 ? round_even(y) : odd_neighbour;
    EXPECT_EQ(sum, expected) << "y = " << y;
  }
}

TEST(OcsSplit, SplitCount) {
  EXPECT_EQ(ocs_split_count(0.0, 64), 0);
  EXPECT_EQ(ocs_split_count(1e-12, 64), 1);   // any r > 0 splits at least one channel
  EXPECT_EQ(ocs_split_count(0.01, 3), 1);
  EXPECT_EQ(ocs_split_count(0.05, 64), 4);    // ceil(3.2)
  EXPECT_EQ(ocs_split_count(0.07, 100), 7);   // 7.000000000000001 in double means 7
  EXPECT_EQ(ocs_split_count(0.1, 30), 3);
  EXPECT_EQ(ocs_split_count(0.5, 4), 2);
  EXPECT_EQ(ocs_split_count(2.0, 4), 8);      // more splits than channels: re-splitting
  EXPECT_THROW(ocs_split_count(-0.1, 4), UserError);
  EXPECT_THROW(ocs_split_count(NAN, 4), UserError);
  // r = 0 leaves the tensor unchanged.
  const Tensor w = Tensor::from_vector<float>({1, 3}, {1, -2, 3});
  OcsSplitOptions options;
  options.ratio = 0.0;
  const OcsSplitResult r = ocs_split_weight(w, 1, options);
  EXPECT_TRUE(r.duplicated.empty());
  EXPECT_EQ(r.weight.to_vector<float>(), w.to_vector<float>());
}

// One channel holds 16: k = 3 splits it, then its halves, greedily (ties: lowest index).
//   step 0: channel 2 (16) -> 8 | 8, appended channel 4
//   step 1: channels 2 and 4 both peak at 8; the lower index, 2 -> 4 | 4, appended channel 5
//   step 2: channel 4 (8, itself an appended half) -> 4 | 4, appended channel 6
TEST(OcsSplit, GreedyReSplitsTheLargestChannel) {
  const Tensor w = Tensor::from_vector<float>({2, 4}, {1, -3, 16, 2,
                                                       0.5f, 2, -4, 1});
  OcsSplitOptions options;
  options.ratio = 0.75;  // k = ceil(0.75 * 4) = 3
  options.mode = OcsSplitMode::Naive;
  const OcsSplitResult r = ocs_split_weight(w, 1, options);
  EXPECT_EQ(r.split_order, (std::vector<int64_t>{2, 2, 4}));
  EXPECT_EQ(r.duplicated, (std::vector<int64_t>{2, 2, 2}));
  ASSERT_EQ(r.weight.shape(), (Shape{2, 7}));
  EXPECT_EQ(r.weight.to_vector<float>(), (std::vector<float>{1, -3, 4, 2, 4, 4, 4,
                                                             0.5f, 2, -1, 1, -1, -1, -1}));
  EXPECT_DOUBLE_EQ(r.threshold, 4.0);
  EXPECT_EQ(ocs_fold_split(r.weight, 1, r.duplicated).to_vector<float>(), w.to_vector<float>());
}

// Two outlier channels; a re-split of an appended channel maps back to its original.
//   16 (ch 0) -> 8 | 8 (ch 4); 12 (ch 3) -> 6 | 6 (ch 5); 8 (ch 0) -> 4 | 4 (ch 6);
//   8 (ch 4, from ch 0) -> 4 | 4 (ch 7).
TEST(OcsSplit, DuplicatedListMapsResplitsToOriginals) {
  const Tensor w = Tensor::from_vector<float>({1, 4}, {16, 1, -2, -12});
  OcsSplitOptions options;
  options.splits = 4;
  options.mode = OcsSplitMode::Naive;
  const OcsSplitResult r = ocs_split_weight(w, 1, options);
  EXPECT_EQ(r.split_order, (std::vector<int64_t>{0, 3, 0, 4}));
  EXPECT_EQ(r.duplicated, (std::vector<int64_t>{0, 3, 0, 0}));
  EXPECT_EQ(r.weight.to_vector<float>(), (std::vector<float>{4, 1, -2, -6, 4, -6, 4, 4}));
}

TEST(OcsSplit, ConvLayoutSplitsAxisOne) {
  // W [C_out = 2, C_in = 3, 1, 2]; channel 1 holds the outlier.
  const Tensor w = Tensor::from_vector<float>({2, 3, 1, 2}, {1, 2, 9, -3, 0, 1,
                                                             2, 1, -4, 8, 1, 0});
  OcsSplitOptions options;
  options.splits = 1;
  options.mode = OcsSplitMode::Naive;
  const OcsSplitResult r = ocs_split_weight(w, 1, options);
  EXPECT_EQ(r.duplicated, (std::vector<int64_t>{1}));
  ASSERT_EQ(r.weight.shape(), (Shape{2, 4, 1, 2}));
  EXPECT_EQ(r.weight.to_vector<float>(), (std::vector<float>{1, 2, 4.5f, -1.5f, 0, 1, 4.5f, -1.5f,
                                                             2, 1, -2, 4, 1, 0, -2, 4}));
}

// QA halves are (w - D/2)/2 and (w + D/2)/2 with D the step of the grid the naive split gives.
TEST(OcsSplit, QuantAwareHalvesHandComputed) {
  // Naive split of 3.5 gives max 1.75: at 4 bits the step is 0.25 = D.
  const Tensor w = Tensor::from_vector<float>({3, 2}, {3.5f, 0.1f,
                                                       0.375f, 0.0f,
                                                       -1.0f, 1.0f});
  OcsSplitOptions options;
  options.splits = 1;
  options.bits = 4;
  const OcsSplitResult r = ocs_split_weight(w, 1, options);
  EXPECT_DOUBLE_EQ(r.threshold, 1.75);
  EXPECT_EQ(r.step, 0.25f);
  EXPECT_EQ(r.duplicated, (std::vector<int64_t>{0}));
  // h1 = w/2 - 1/16, h2 = w/2 + 1/16.
  EXPECT_EQ(r.weight.to_vector<float>(), (std::vector<float>{1.6875f, 0.1f, 1.8125f,
                                                             0.125f, 0.0f, 0.25f,
                                                             -0.5625f, 1.0f, -0.4375f}));
  const Tensor q = quantize_symmetric(r.weight, {r.threshold}, -1, 4);
  // 1.8125 / 0.25 = 7.25 rounds to 7: max |QA piece| < t + D/2 never clamps.
  // Row 1: w = 0.375 is an exact tie (y = 1.5). Halves 0.5 -> 0 and 1 -> 1 sum to 1, while
  // round(1.5) = 2: the documented tie case (j = 1), error 1/2 either way.
  // Row 2: y = -4 -> halves -2.25 -> -2 and -1.75 -> -2, sum -4. Row 0: y = 14 -> 7 + 7.
  EXPECT_EQ(q.to_vector<int8_t>(), (std::vector<int8_t>{7, 0, 7, 0, 0, 1, -2, 4, -2}));
}

// On a real-sized tensor: the quantized pieces of every original weight add up to that weight
// quantized on the new (finer) grid, round(w / D), even where |w| / D is beyond the code range.
// Exceptions are only allowed within 1e-3 of a tie (float32 rounding of the halves can move a
// near-tie; exact ties follow the rule above). Naive halves do not have this property.
TEST(OcsSplit, QuantizedHalvesSumToTheFinerGridValue) {
  Tensor w = testing::random_normal_tensor({16, 32, 3, 3}, 42, 0.02f);
  float* data = w.data<float>();
  data[5] = 0.4f;                     // outliers, in input channels 0, 7 and 7 again
  data[(3 * 32 + 7) * 9 + 4] = -0.3f;
  data[(9 * 32 + 7) * 9 + 1] = 0.25f;
  for (int bits : {4, 6, 8}) {
    for (OcsSplitMode mode : {OcsSplitMode::QuantAware, OcsSplitMode::Naive}) {
      OcsSplitOptions options;
      options.ratio = 0.1;  // k = 4
      options.bits = bits;
      options.mode = mode;
      const OcsSplitResult r = ocs_split_weight(w, 1, options);
      ASSERT_EQ(r.duplicated.size(), 4u);
      const Tensor q = quantize_symmetric(r.weight, {r.threshold}, -1, bits);
      const Tensor codes = ocs_fold_split(tensor_cast(q, DType::Float32), 1, r.duplicated);
      const float* summed = codes.data<float>();
      int mismatches = 0, near_ties = 0;
      for (int64_t i = 0; i < w.numel(); ++i) {
        const double y = static_cast<double>(data[i]) / static_cast<double>(r.step);
        if (std::fabs(std::fabs(std::remainder(y, 1.0)) - 0.5) < 1e-3) {
          ++near_ties;
          continue;
        }
        if (summed[i] != round_even(y)) ++mismatches;
      }
      if (mode == OcsSplitMode::QuantAware)
        EXPECT_EQ(mismatches, 0) << bits << " bits, " << near_ties << " near ties skipped";
      else
        EXPECT_GT(mismatches, 0) << bits << " bits: naive halves should lose steps";
      // Either way the float pieces add back to W (QA: up to one rounding of each half).
      const Tensor folded = ocs_fold_split(r.weight, 1, r.duplicated);
      EXPECT_TRUE(testing::tensors_close(folded, w, 1e-7)) << "fold(split) differs from W";
    }
  }
}

TEST(OcsSplit, ThresholdFunctionForOcsPlusClip) {
  const Tensor w = Tensor::from_vector<float>({1, 4}, {8, 1, -2, 0.5f});
  OcsSplitOptions options;
  options.splits = 1;
  options.threshold = [](const Tensor& split) { return 0.5 * max_abs(split); };  // clip at half
  const OcsSplitResult r = ocs_split_weight(w, 1, options);
  EXPECT_DOUBLE_EQ(r.threshold, 2.0);  // the naive split has max 4
  EXPECT_FLOAT_EQ(r.step, 2.0f / 127.0f);
}

TEST(OcsSplit, AllZeroTensorStaysZero) {
  const Tensor w(DType::Float32, {2, 3});
  OcsSplitOptions options;
  options.splits = 2;
  const OcsSplitResult r = ocs_split_weight(w, 1, options);
  EXPECT_EQ(r.weight.shape(), (Shape{2, 5}));
  EXPECT_EQ(r.weight.to_vector<float>(), std::vector<float>(10, 0.0f));
  EXPECT_EQ(r.duplicated, (std::vector<int64_t>{0, 0}));
}

}  // namespace
}  // namespace ocs
