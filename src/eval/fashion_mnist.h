// Fashion-MNIST (or MNIST) in the gzip IDX format of Debian's dataset-fashion-mnist, as a
// labelled sample source. Images are scaled to [-1, 1] ((x/255 - 0.5) / 0.5, as our training
// script does) and shaped [N, 1, 28, 28] for the model input `input_name`.
#pragma once

#include "data/sample_source.h"

#include <filesystem>

namespace ocs {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

class FashionMnistSource : public SampleSource {
 public:
  // split: "train" or "test". Reads the whole split once (47 MB for train as uint8), streams
  // float batches. `limit` caps the number of samples (first ones in file order).
  FashionMnistSource(const std::filesystem::path& dir, const std::string& split,
                     std::string input_name, int64_t limit, int64_t batch);
  std::optional<Feed> next() override;
  int64_t size() const override { return count_; }
  void rewind() override { position_ = 0; }
  // Labels (0..9) of the batch last returned by next().
  const std::vector<int64_t>* batch_labels() const override { return &batch_labels_; }

 private:
  std::string input_name_;
  std::vector<uint8_t> images_;  // N * 28 * 28
  std::vector<uint8_t> labels_;
  std::vector<int64_t> batch_labels_;
  int64_t count_ = 0;
  int64_t batch_ = 1;
  int64_t position_ = 0;
};

// Reads a whole gzip file (IDX files are gzip-compressed). UserError naming the file on failure.
std::string read_gzip_file(const std::filesystem::path& path);

}  // namespace ocs
