// CTC greedy decoding for text recognizers such as PaddleOCR's PP-OCR rec models.
//
// Class layout (PaddleOCR's CTCLabelDecode): class 0 is the CTC blank, class i (1-based) is
// line i of the key file, and with use_space_char the model has one more class, ' ', last. A
// model with keys + 2 classes therefore gets the space appended; keys + 1 means no space class.
//
// Greedy decoding of one sequence of T steps: take the argmax class of each step (ties to the
// lower class, like NumPy's argmax), merge runs of the same class into one, then drop blanks.
// "a a - a" (classes 1 1 0 1) decodes to "aa"; "a a a" to "a".
#pragma once

#include "core/tensor.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ocs {

// The characters of a key file: UTF-8, one per line, "\n" or "\r\n" line ends, the final line
// end optional. UserError naming the file when it cannot be read or holds no line.
std::vector<std::string> read_ctc_keys(const std::filesystem::path& path);

class CtcDecoder {
 public:
  // `classes` is the size of the model output's class axis; `origin` names the keys in errors
  // (the key file). UserError when classes is neither keys + 1 nor keys + 2.
  CtcDecoder(std::vector<std::string> keys, int64_t classes, const std::string& origin);

  int64_t classes() const { return static_cast<int64_t>(symbols_.size()); }
  // The text of class `c` ("" for the blank).
  const std::string& symbol(int64_t c) const { return symbols_.at(static_cast<size_t>(c)); }

  // Class indices of one sequence -> text (merge repeats, drop blanks).
  std::string decode_classes(const std::vector<int64_t>& classes) const;
  // Scores [N, T, C] (probabilities or logits: only the argmax matters), float32 -> N texts.
  std::vector<std::string> decode(const Tensor& scores) const;

 private:
  std::vector<std::string> symbols_;  // index = class; symbols_[0] = "" (blank)
};

}  // namespace ocs
