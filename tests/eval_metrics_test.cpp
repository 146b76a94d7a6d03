// Metrics against hand-computed values, and the Fashion-MNIST reader against the raw files.
#include "eval/fashion_mnist.h"
#include "eval/topk_fidelity.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

namespace ocs {
namespace {

TEST(TopKAccuracy, HandComputed) {
  // 3 samples, 6 classes. Sample 0: label 2 is the max (top-1). Sample 1: label 0 ranks 6th
  // (wrong for top-1 and top-5). Sample 2: label 5 ties with class 1 for the max; the lower
  // index wins the tie, so it ranks 2nd (top-5 only).
  Tensor logits = Tensor::from_vector<float>({3, 6}, {0, 1, 9, 2, 3, 4,
                                                      0, 5, 4, 3, 2, 1,
                                                      0, 7, 1, 2, 3, 7});
  TopKAccuracy acc;
  acc.add(logits, {2, 0, 5});
  EXPECT_DOUBLE_EQ(acc.top1(), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(acc.top5(), 2.0 / 3.0);
  EXPECT_EQ(acc.predictions(), (std::vector<int64_t>{2, 1, 1}));
  EXPECT_THROW(acc.add(logits, {0, 1}), UserError);
}

TEST(Fidelity, HandComputed) {
  Fidelity f;
  // ref = [3, 4], out = [3, 3]: signal 25, noise 1 -> 10 log10(25) dB; cosine 21 / (5 * sqrt 18).
  f.add(Tensor::from_vector<float>({1, 2}, {3, 4}), Tensor::from_vector<float>({1, 2}, {3, 3}));
  EXPECT_NEAR(f.sqnr_db(), 10 * std::log10(25.0), 1e-12);
  EXPECT_NEAR(f.cosine(), 21.0 / (5.0 * std::sqrt(18.0)), 1e-12);
  // argmax ref = 1, argmax out = 0 (tie goes to the lower index).
  EXPECT_DOUBLE_EQ(f.top1_agreement(), 0.0);
}

TEST(FashionMnist, ReadsTheTestSplit) {
  if (!std::filesystem::exists(kFashionMnistDir)) OCS_SKIP_OR_FAIL("dataset-fashion-mnist is not installed (scripts/install_deps.sh)");
  FashionMnistSource source(kFashionMnistDir, "test", "input", 100, 32);
  EXPECT_EQ(source.size(), 100);
  int64_t seen = 0;
  while (auto feed = source.next()) {
    const Tensor& x = feed->at("input");
    EXPECT_EQ(x.dim(1), 1);
    EXPECT_EQ(x.dim(2), 28);
    for (float v : x.span<float>()) ASSERT_TRUE(v >= -1.0f && v <= 1.0f);
    for (int64_t label : *source.batch_labels()) ASSERT_TRUE(label >= 0 && label < 10);
    seen += x.dim(0);
  }
  EXPECT_EQ(seen, 100);
  // The first test label of Fashion-MNIST is 9 (ankle boot), per the dataset's documentation.
  source.rewind();
  source.next();
  EXPECT_EQ((*source.batch_labels())[0], 9);
}

}  // namespace
}  // namespace ocs
