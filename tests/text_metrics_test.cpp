// CER and line accuracy over Unicode code points, and the "cer" metric end to end on a tiny
// hand-made source: every expected number below is counted by hand.
#include "core/error.h"
#include "eval/metric.h"
#include "eval/text_metrics.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace ocs {
namespace {

TEST(TextMetrics, DecodesUtf8ToCodePoints) {
  EXPECT_EQ(utf8_code_points("ab"), U"ab");
  EXPECT_EQ(utf8_code_points("\xc3\xa9t\xc3\xa9"), U"\u00e9t\u00e9");          // été: 3 points
  EXPECT_EQ(utf8_code_points("\xe4\xbd\xa0\xe5\xa5\xbd"), U"\u4f60\u597d");    // 你好
  EXPECT_EQ(utf8_code_points("\xf0\x9f\x98\x80"), U"\U0001F600");              // 4-byte form
  // Invalid bytes count as one U+FFFD each: a stray continuation byte, a truncated sequence,
  // an overlong '/' (C0 AF), an encoded surrogate (ED A0 80).
  EXPECT_EQ(utf8_code_points("a\x80" "b"), U"a\uFFFDb");
  EXPECT_EQ(utf8_code_points("\xe4\xbd"), U"\uFFFD\uFFFD");
  EXPECT_EQ(utf8_code_points("\xc0\xaf"), U"\uFFFD\uFFFD");
  EXPECT_EQ(utf8_code_points("\xed\xa0\x80"), U"\uFFFD\uFFFD\uFFFD");
}

TEST(TextMetrics, EditDistanceOfKnownPairs) {
  EXPECT_EQ(edit_distance(U"kitten", U"sitting"), 3);  // k->s, e->i, +g
  EXPECT_EQ(edit_distance(U"flaw", U"lawn"), 2);       // -f, +n
  EXPECT_EQ(edit_distance(U"", U"abc"), 3);
  EXPECT_EQ(edit_distance(U"abc", U""), 3);
  EXPECT_EQ(edit_distance(U"same", U"same"), 0);
  EXPECT_EQ(edit_distance(U"ab", U"ba"), 2);            // no transpositions in Levenshtein
  EXPECT_EQ(edit_distance(U"intention", U"execution"), 5);
  // Multi-byte characters are one unit each: 你好 vs 你们好 is one insertion, not three bytes.
  EXPECT_EQ(edit_distance(utf8_code_points("\xe4\xbd\xa0\xe5\xa5\xbd"),
                          utf8_code_points("\xe4\xbd\xa0\xe4\xbb\xac\xe5\xa5\xbd")), 1);
}

TEST(TextMetrics, CerIsTotalEditsOverTotalReferenceCharacters) {
  TextAccuracy accuracy;
  accuracy.add("sitting", "kitten");   // 3 edits, 6 reference characters
  accuracy.add("the earth", "the earth");  // exact, 9 characters
  accuracy.add("\xc3\xa9t\xc3\xa9", "ete");  // 2 substitutions, 3 characters
  EXPECT_EQ(accuracy.edits(), 5);
  EXPECT_EQ(accuracy.reference_chars(), 18);
  EXPECT_DOUBLE_EQ(accuracy.cer(), 5.0 / 18.0);
  EXPECT_DOUBLE_EQ(accuracy.line_accuracy(), 1.0 / 3.0);
  EXPECT_EQ(accuracy.lines(), 3);
  EXPECT_DOUBLE_EQ(TextAccuracy().cer(), 0.0);
}

// A source of one batch of transcripts, for the metric.
class FixedTexts : public SampleSource {
 public:
  explicit FixedTexts(std::vector<std::string> texts) : texts_(std::move(texts)) {}
  std::optional<Feed> next() override { return std::nullopt; }
  int64_t size() const override { return static_cast<int64_t>(texts_.size()); }
  void rewind() override {}
  const std::vector<std::string>* batch_texts() const override { return &texts_; }

 private:
  std::vector<std::string> texts_;
};

TEST(CerMetric, DecodesScoresWithTheKeyFileAndScoresTheTexts) {
  const auto keys = std::filesystem::temp_directory_path() / ("ocs_cer_keys_" + std::to_string(::getpid()) + ".txt");
  std::ofstream(keys) << "a\nb\n";  // classes: blank, a, b, space
  auto metric = make_metric("cer", {keys.string()});
  EXPECT_FALSE(metric->higher_is_better());
  // Sample 0 decodes to "ab" (steps a, a, blank, b), sample 1 to "b a" (b, space, a, a).
  const Tensor scores = Tensor::from_vector<float>(
      {2, 4, 4}, {0, 1, 0, 0, /**/ 0, 1, 0, 0, /**/ 1, 0, 0, 0, /**/ 0, 0, 1, 0,
                  0, 0, 1, 0, /**/ 0, 0, 0, 1, /**/ 0, 1, 0, 0, /**/ 0, 1, 0, 0});
  const FixedTexts texts({"ab", "bb"});  // line 0 exact; line 1: "b a" vs "bb" is 2 edits
  const std::vector<Tensor> outputs{scores}, none;
  metric->add({outputs, none, texts});
  const auto result = metric->result();
  EXPECT_DOUBLE_EQ(result["cer"].get<double>(), 2.0 / 4.0);
  EXPECT_DOUBLE_EQ(result["line_accuracy"].get<double>(), 0.5);
  EXPECT_EQ(result["lines"].get<int64_t>(), 2);
  EXPECT_DOUBLE_EQ(metric->headline(), 0.5);

  const FixedTexts wrong_count({"ab"});
  EXPECT_THROW(metric->add({outputs, none, wrong_count}), UserError);
  std::filesystem::remove(keys);
}

TEST(CerMetric, NeedsAKeyFileThatFitsTheModel) {
  EXPECT_THROW(make_metric("cer", {}), UserError);
  EXPECT_THROW(make_metric("cer", {"/nonexistent/keys.txt"}), UserError);
  const auto keys = std::filesystem::temp_directory_path() / ("ocs_cer_keys2_" + std::to_string(::getpid()) + ".txt");
  std::ofstream(keys) << "a\nb\n";
  auto metric = make_metric("cer", {keys.string()});
  const std::vector<Tensor> outputs{Tensor::from_vector<float>({1, 1, 7}, {1, 0, 0, 0, 0, 0, 0})}, none;
  const FixedTexts texts({""});
  try {
    metric->add({outputs, none, texts});
    FAIL() << "expected a UserError for 7 classes from 2 keys";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(keys.string()), std::string::npos) << e.what();
  }
  std::filesystem::remove(keys);
}

}  // namespace
}  // namespace ocs
