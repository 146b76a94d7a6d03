// The perplexity metric against closed forms, the KJV reader (tokenizer by hand, token ids
// against the training script's), and the trained LSTM language model (models/kjv_lstm.onnx)
// through our engine against the perplexity PyTorch reported for the same windows.
#include "engine/session.h"
#include "eval/kjv_text.h"
#include "eval/metric.h"
#include "eval/perplexity.h"
#include "io/npy.h"
#include "onnx/onnx_io.h"
#include "ort_runner.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace ocs {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = OCS_SOURCE_DIR;

TEST(Perplexity, UniformLogitsGiveTheVocabularySize) {
  // Equal logits: every token has probability 1/V, so NLL = log V and perplexity = V, whatever
  // the constant (1000 would overflow exp without the max subtraction).
  for (float constant : {0.0f, 1000.0f, -1000.0f}) {
    const int64_t vocab = 7;
    Tensor logits = Tensor::from_vector<float>({2, 3, vocab}, std::vector<float>(2 * 3 * vocab, constant));
    Tensor targets = Tensor::from_vector<int64_t>({2, 3}, {0, 6, 3, 1, 2, 5});
    Perplexity p;
    p.add(logits, targets);
    EXPECT_NEAR(p.nll(), std::log(7.0), 1e-12) << constant;
    EXPECT_NEAR(p.perplexity(), 7.0, 1e-10) << constant;
    EXPECT_EQ(p.tokens(), 6);
  }
}

TEST(Perplexity, HandComputed) {
  // Logits (0, log 2, log 3) give probabilities (1/6, 2/6, 3/6). Targets 0 and 2 over two
  // batches: NLL = (log 6 + log 2) / 2, perplexity = sqrt(12). A shift of a row changes nothing.
  const float l2 = std::log(2.0f), l3 = std::log(3.0f);
  Perplexity p;
  p.add(Tensor::from_vector<float>({1, 1, 3}, {0, l2, l3}), Tensor::from_vector<int64_t>({1, 1}, {0}));
  p.add(Tensor::from_vector<float>({1, 3}, {50, 50 + l2, 50 + l3}), Tensor::from_vector<int64_t>({1}, {2}));
  EXPECT_NEAR(p.nll(), (std::log(6.0) + std::log(2.0)) / 2, 1e-6);
  EXPECT_NEAR(p.perplexity(), std::sqrt(12.0), 1e-5);
  EXPECT_EQ(p.tokens(), 2);
}

TEST(Perplexity, RejectsMismatchedInputs) {
  Perplexity p;
  Tensor logits(DType::Float32, {2, 3, 4});
  EXPECT_THROW(p.add(logits, Tensor::from_vector<int64_t>({3, 2}, {0, 0, 0, 0, 0, 0})), UserError);
  EXPECT_THROW(p.add(logits, Tensor::from_vector<int64_t>({2, 3}, {0, 0, 4, 0, 0, 0})), UserError);
  EXPECT_THROW(p.add(logits, Tensor::from_vector<int32_t>({2, 3}, {0, 0, 0, 0, 0, 0})), UserError);
  EXPECT_EQ(p.tokens(), 0);
}

TEST(Perplexity, IsARegisteredMetric) {
  auto metric = make_metric("perplexity", {});
  EXPECT_FALSE(metric->higher_is_better());
}

TEST(KjvText, TokenizesLikeTheTrainingScript) {
  using V = std::vector<std::string>;
  EXPECT_EQ(kjv_tokenize("And God said, Let there be light: and there was light."),
            (V{"and", "god", "said", ",", "let", "there", "be", "light", ":", "and", "there", "was", "light", "."}));
  // Apostrophes inside words stay; a trailing one, digits, parentheses and hyphens separate.
  EXPECT_EQ(kjv_tokenize("The LORD's (brethren') Mahershalal-hash-baz 12 o'er'!?;"),
            (V{"the", "lord's", "brethren", "mahershalal", "hash", "baz", "o'er", "!", "?", ";"}));
  EXPECT_EQ(kjv_tokenize(""), V{});
}

TEST(KjvText, ParsesBooksAndSplitsByBook) {
  const std::string listing = "Ge1:1 In the beginning.\nGe1:2 And.\n1Sm1:1 Now there;\n\nRev22:21 The grace.\n";
  auto verses = parse_kjv_verses(listing);
  ASSERT_EQ(verses.size(), 4u);
  EXPECT_EQ(verses[1].book, 0);
  EXPECT_EQ(verses[2].book, 1);
  EXPECT_EQ(verses[2].text, "Now there;");
  EXPECT_EQ(verses[3].book, 2);
  EXPECT_THROW(parse_kjv_verses("Genesis 1\n"), UserError);
  EXPECT_EQ(kjv_split_of(9), "test");
  EXPECT_EQ(kjv_split_of(64), "valid");
  EXPECT_EQ(kjv_split_of(0), "train");
  // Ids: unknown words -> <unk>, each verse ends with <eos>. Books 0, 1, 2 are all train.
  const std::vector<std::string> vocab = {"<unk>", "<eos>", "the", "."};
  EXPECT_EQ(kjv_token_ids(verses, "train", vocab),
            (std::vector<int64_t>{0, 2, 0, 3, 1, /**/ 0, 3, 1, /**/ 0, 0, 0, 1, /**/ 2, 0, 3, 1}));
  EXPECT_TRUE(kjv_token_ids(verses, "test", vocab).empty());
}

TEST(KjvText, WindowsAndTargets) {
  // 10 tokens, windows of 3: 3 windows (the last target needs token 9).
  std::vector<int64_t> ids = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  KjvTextSource source(ids, 3, "tokens", 100, 2);
  EXPECT_EQ(source.size(), 3);
  auto first = source.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->at("tokens").to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(source.batch_targets()->to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 3, 4, 5, 6}));
  auto second = source.next();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->at("tokens").shape(), (Shape{1, 3}));
  EXPECT_EQ(source.batch_targets()->to_vector<int64_t>(), (std::vector<int64_t>{7, 8, 9}));
  EXPECT_FALSE(source.next());
  KjvTextSource whole(ids, 3, "tokens", 100, 2, /*whole_batches=*/true);
  EXPECT_EQ(whole.size(), 2);
}

bool have_bible() { return fs::exists("/usr/bin/bible") && fs::exists("/usr/lib/bible.data"); }

// The test split's ids equal those the training script computed (its first 2000 ids).
TEST(KjvText, TestSplitIdsMatchTheTrainingScript) {
  if (!have_bible()) OCS_SKIP_OR_FAIL("bible-kjv is not installed (scripts/install_deps.sh)");
  const std::vector<std::string> vocab = read_vocab_file(kSource / "models" / "kjv_vocab.txt");
  EXPECT_EQ(vocab.size(), 5000u);
  const std::vector<int64_t> expected = read_npy(kSource / "tests" / "data" / "kjv_test_ids.npy").to_vector<int64_t>();
  ASSERT_EQ(expected.size(), 2000u);
  const std::vector<KjvVerse> verses = read_kjv_verses();
  std::vector<int64_t> ids = kjv_token_ids(verses, "test", vocab);
  ASSERT_GE(ids.size(), expected.size());
  ids.resize(expected.size());
  EXPECT_EQ(ids, expected);
  // Split sizes as the script prints them (tokens including <eos>).
  EXPECT_EQ(kjv_token_ids(verses, "train", vocab).size(), 799811u);
  EXPECT_EQ(kjv_token_ids(verses, "valid", vocab).size(), 62205u);
  EXPECT_EQ(kjv_token_ids(verses, "test", vocab).size(), 82068u);
}

// Our engine on the trained LSTM over the windows of the committed 2000 test ids (57 windows of
// 35) against the perplexity PyTorch computed for the same windows before export. Tolerance
// 1e-4 relative: float32 LSTM and matrix products in a different summation order move the NLL
// by ~1e-6 nats.
TEST(KjvLstm, PerplexityMatchesPyTorch) {
  const fs::path model = kSource / "models" / "kjv_lstm.onnx";
  std::ifstream reference_file(kSource / "tests" / "data" / "kjv_reference.json");
  ASSERT_TRUE(reference_file) << "tests/data/kjv_reference.json is missing";
  const nlohmann::json reference = nlohmann::json::parse(reference_file)["test_first_ids"];
  std::vector<int64_t> ids = read_npy(kSource / "tests" / "data" / "kjv_test_ids.npy").to_vector<int64_t>();
  for (bool reference_kernels : {false, true}) {
    auto graph = std::make_shared<const Graph>(import_onnx_file(model));
    Session session(graph, {reference_kernels, 0});
    KjvTextSource source(ids, 35, graph->values[graph->inputs[0]].name, 1000000, 16);
    auto metric = make_metric("perplexity", {});
    while (auto feed = source.next()) metric->add({session.run(*feed), {}, source});
    const nlohmann::json result = metric->result();
    EXPECT_EQ(result["tokens"].get<int64_t>(), reference["tokens"].get<int64_t>());
    const double expected = reference["perplexity"].get<double>();
    EXPECT_NEAR(result["perplexity"].get<double>(), expected, 1e-4 * expected)
        << (reference_kernels ? "reference kernels" : "fast kernels");
  }
}

// Our logits for the first 4 test windows against ONNX Runtime's (max |logit| is ~10-20;
// float32 sums over 256 hidden units in another order differ by ~1e-5).
TEST(KjvLstm, LogitsMatchOnnxRuntime) {
  if (!testing::ort_available()) OCS_SKIP_OR_FAIL("onnxruntime-node is not installed (run scripts/fetch_models.sh)");
  auto graph = std::make_shared<const Graph>(import_onnx_file(kSource / "models" / "kjv_lstm.onnx"));
  std::vector<int64_t> ids = read_npy(kSource / "tests" / "data" / "kjv_test_ids.npy").to_vector<int64_t>();
  KjvTextSource source(ids, 35, graph->values[graph->inputs[0]].name, 4, 4);
  auto feed = source.next();
  ASSERT_TRUE(feed);
  Session session(graph);
  const Tensor ours = session.run(*feed).at(0);
  const Tensor ort = testing::run_ort(*graph, *feed, fs::temp_directory_path() / "ocs_kjv_lstm_ort");
  ASSERT_EQ(ours.shape(), (Shape{4, 35, 5000}));
  EXPECT_TRUE(testing::tensors_close(ours, ort, 1e-4));
}

}  // namespace
}  // namespace ocs
