#include "eval/text_metrics.h"

#include "core/error.h"
#include "core/option_names.h"
#include "eval/ctc.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace ocs {

std::u32string utf8_code_points(const std::string& text) {
  constexpr char32_t kReplacement = 0xFFFD;
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    // Sequence length and the smallest code point it may encode (longer forms are overlong).
    int length = 0;
    char32_t code = 0, minimum = 0;
    if (lead < 0x80) {
      length = 1, code = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2, code = lead & 0x1F, minimum = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, code = lead & 0x0F, minimum = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, code = lead & 0x07, minimum = 0x10000;
    }
    bool valid = length > 0 && i + static_cast<size_t>(length) <= text.size();
    for (int k = 1; valid && k < length; ++k) {
      const auto byte = static_cast<uint8_t>(text[i + static_cast<size_t>(k)]);
      valid = (byte & 0xC0) == 0x80;
      code = (code << 6) | (byte & 0x3F);
    }
    valid = valid && code >= minimum && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF);
    if (valid) {
      out.push_back(code);
      i += static_cast<size_t>(length);
    } else {
      out.push_back(kReplacement);
      i += 1;
    }
  }
  return out;
}

int64_t edit_distance(const std::u32string& a, const std::u32string& b) {
  // One row of the DP table: row[j] = distance between a[0, i) and b[0, j).
  std::vector<int64_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int64_t>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int64_t diagonal = row[0];  // distance(a[0, i-1), b[0, j-1))
    row[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int64_t above = row[j];  // distance(a[0, i-1), b[0, j))
      const int64_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

void TextAccuracy::add(const std::string& recognised, const std::string& reference) {
  const std::u32string got = utf8_code_points(recognised);
  const std::u32string want = utf8_code_points(reference);
  edits_ += edit_distance(got, want);
  reference_chars_ += static_cast<int64_t>(want.size());
  lines_ += 1;
  exact_ += got == want ? 1 : 0;
}

namespace {

class CerMetric : public Metric {
 public:
  explicit CerMetric(std::string keys_file)
      : keys_file_(std::move(keys_file)), keys_(read_ctc_keys(keys_file_)) {}

  void add(const MetricInput& in) override {
    const auto* texts = in.source.batch_texts();
    if (!texts)
      user_error("metric cer needs transcripts, but the data has none (use text-lines:DIR data)");
    const Tensor& scores = in.outputs.at(0);
    if (scores.rank() != 3)
      user_error("metric cer decodes CTC scores [N, T, C], but the model's first output has "
                 "shape {}", shape_str(scores.shape()));
    if (!decoder_) decoder_.emplace(keys_, scores.dim(2), keys_file_);
    const std::vector<std::string> recognised = decoder_->decode(scores);
    if (recognised.size() != texts->size())
      user_error("the model recognised {} lines, but the batch holds {} transcripts",
                 recognised.size(), texts->size());
    for (size_t i = 0; i < recognised.size(); ++i) accuracy_.add(recognised[i], (*texts)[i]);
  }
  nlohmann::json result() const override {
    return {{"cer", accuracy_.cer()}, {"line_accuracy", accuracy_.line_accuracy()},
            {"lines", accuracy_.lines()}};
  }
  std::string summary() const override {
    return fmt::format("CER {:.2f}% ({} edits / {} characters)  exact lines {:.2f}%  ({} lines)",
                       100 * accuracy_.cer(), accuracy_.edits(), accuracy_.reference_chars(),
                       100 * accuracy_.line_accuracy(), accuracy_.lines());
  }
  double headline() const override { return accuracy_.cer(); }
  bool higher_is_better() const override { return false; }

 private:
  std::string keys_file_;
  std::vector<std::string> keys_;
  std::optional<CtcDecoder> decoder_;  // made on the first batch, when the class count is known
  TextAccuracy accuracy_;
};

}  // namespace

std::unique_ptr<Metric> make_cer_metric(const MetricOptions& options) {
  if (options.keys_file.empty())
    user_error("metric cer needs the recognizer's character list: give {} KEYS.txt (for PP-OCR: ppocr_keys_v1.txt)",
               option_name("--keys"));
  return std::make_unique<CerMetric>(options.keys_file);
}

}  // namespace ocs
