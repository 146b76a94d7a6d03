#include "eval/ctc.h"

#include "core/error.h"

#include <fstream>
#include <sstream>

namespace ocs {

std::vector<std::string> read_ctc_keys(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) user_error("cannot open the key file '{}'", path.string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const std::string text = bytes.str();
  std::vector<std::string> keys;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    keys.push_back(std::move(line));
    start = end + 1;
  }
  if (keys.empty()) user_error("the key file '{}' is empty", path.string());
  return keys;
}

CtcDecoder::CtcDecoder(std::vector<std::string> keys, int64_t classes, const std::string& origin) {
  const auto key_count = static_cast<int64_t>(keys.size());
  if (classes != key_count + 1 && classes != key_count + 2)
    user_error("the key file '{}' has {} characters, but the model scores {} classes; a CTC "
               "model needs {} (blank + keys) or {} (blank + keys + space): is it the key file "
               "of this model?", origin, key_count, classes, key_count + 1, key_count + 2);
  symbols_.reserve(static_cast<size_t>(classes));
  symbols_.emplace_back();  // class 0: the blank
  for (auto& key : keys) symbols_.push_back(std::move(key));
  if (classes == key_count + 2) symbols_.emplace_back(" ");  // PaddleOCR's use_space_char
}

std::string CtcDecoder::decode_classes(const std::vector<int64_t>& classes) const {
  std::string text;
  int64_t previous = -1;
  for (int64_t c : classes) {
    OCS_CHECK(c >= 0 && c < this->classes(), "class {} out of range", c);
    if (c != previous && c != 0) text += symbols_[static_cast<size_t>(c)];
    previous = c;
  }
  return text;
}

std::vector<std::string> CtcDecoder::decode(const Tensor& scores) const {
  if (scores.dtype() != DType::Float32 || scores.rank() != 3)
    user_error("CTC decoding needs float32 scores [N, T, C], but the model output is {} {}",
               dtype_name(scores.dtype()), shape_str(scores.shape()));
  const int64_t batch = scores.dim(0), steps = scores.dim(1), class_count = scores.dim(2);
  if (class_count != classes())
    user_error("the model output scores {} classes, but the decoder was made for {}", class_count,
               classes());
  const float* data = scores.data<float>();
  std::vector<std::string> texts;
  texts.reserve(static_cast<size_t>(batch));
  std::vector<int64_t> best(static_cast<size_t>(steps));
  for (int64_t n = 0; n < batch; ++n) {
    for (int64_t t = 0; t < steps; ++t) {
      const float* row = data + (n * steps + t) * class_count;
      int64_t argmax = 0;
      for (int64_t c = 1; c < class_count; ++c)
        if (row[c] > row[argmax]) argmax = c;  // strict: ties keep the lower class
      best[static_cast<size_t>(t)] = argmax;
    }
    texts.push_back(decode_classes(best));
  }
  return texts;
}

}  // namespace ocs
