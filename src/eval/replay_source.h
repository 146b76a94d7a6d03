// A sample source held in memory: every batch of another source, read once, with its labels,
// replayed on each pass. `ocs sweep` evaluates dozens of configurations on the same data; this
// reads and decodes it once. Memory: the whole dataset as the model's input tensors.
#pragma once

#include "data/sample_source.h"

namespace ocs {

class ReplaySource : public SampleSource {
 public:
  // Drains `source` (from its start).
  explicit ReplaySource(SampleSource& source);
  std::optional<Feed> next() override;
  int64_t size() const override { return size_; }
  void rewind() override { position_ = 0; }
  const std::vector<int64_t>* batch_labels() const override;
  const std::vector<std::string>* batch_texts() const override;
  const Tensor* batch_targets() const override;
  int64_t samples_in(const Feed&) const override { return current() ? current()->samples : 0; }
  // Bytes held by the input tensors.
  int64_t bytes() const { return bytes_; }

 private:
  struct Batch {
    Feed feed;
    std::optional<std::vector<int64_t>> labels;
    std::optional<std::vector<std::string>> texts;
    std::optional<Tensor> targets;
    int64_t samples = 0;  // as the drained source counted them
  };
  const Batch* current() const { return position_ > 0 ? &batches_[position_ - 1] : nullptr; }

  std::vector<Batch> batches_;
  int64_t size_ = 0;
  int64_t bytes_ = 0;
  size_t position_ = 0;
};

}  // namespace ocs
