// Text-recognition accuracy, accumulated line by line over Unicode code points:
//   CER (character error rate) = sum of Levenshtein distances (insertions, deletions,
//       substitutions, each costing 1) / sum of reference lengths, both in code points;
//   line accuracy = fraction of lines recognised exactly.
// The CER is a micro average (long lines weigh more), as PaddleOCR's and most OCR benchmarks'
// is; it can exceed 1 when the recognizer emits much more text than the reference holds.
#pragma once

#include "eval/metric.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ocs {

// UTF-8 -> code points. A byte that does not start a valid sequence (bad lead byte, missing or
// wrong continuation bytes, overlong form, surrogate, > U+10FFFF) decodes to U+FFFD on its own,
// so that any byte string has a definite length.
std::u32string utf8_code_points(const std::string& text);

// Levenshtein edit distance between two code-point strings.
int64_t edit_distance(const std::u32string& a, const std::u32string& b);

class TextAccuracy {
 public:
  void add(const std::string& recognised, const std::string& reference);
  double cer() const { return reference_chars_ ? static_cast<double>(edits_) / reference_chars_ : 0.0; }
  double line_accuracy() const { return lines_ ? static_cast<double>(exact_) / lines_ : 0.0; }
  int64_t lines() const { return lines_; }
  int64_t edits() const { return edits_; }
  int64_t reference_chars() const { return reference_chars_; }

 private:
  int64_t edits_ = 0, reference_chars_ = 0, lines_ = 0, exact_ = 0;
};

// Metric "cer" of make_metric: CTC greedy decoding of output 0 ([N, T, C] scores) with the
// key file options.keys_file (UserError when none is given), scored against the data's texts.
// result(): {"cer", "line_accuracy", "lines"}; headline() is the CER, lower is better.
std::unique_ptr<Metric> make_cer_metric(const MetricOptions& options);

}  // namespace ocs
