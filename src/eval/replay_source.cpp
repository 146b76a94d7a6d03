#include "eval/replay_source.h"

namespace ocs {

ReplaySource::ReplaySource(SampleSource& source) {
  source.rewind();
  while (auto feed = source.next()) {
    Batch batch;
    if (const auto* labels = source.batch_labels()) batch.labels = *labels;
    if (const auto* texts = source.batch_texts()) batch.texts = *texts;
    // Tensors share storage on copy; the source may reuse its target buffer, so take our own.
    if (const auto* targets = source.batch_targets()) batch.targets = targets->clone();
    for (const auto& [name, t] : *feed) bytes_ += static_cast<int64_t>(t.nbytes());
    batch.samples = source.samples_in(*feed);
    size_ += batch.samples;
    batch.feed = std::move(*feed);
    batches_.push_back(std::move(batch));
  }
  source.rewind();
}

std::optional<Feed> ReplaySource::next() {
  if (position_ >= batches_.size()) return std::nullopt;
  return batches_[position_++].feed;
}

const std::vector<int64_t>* ReplaySource::batch_labels() const {
  const Batch* b = current();
  return b && b->labels ? &*b->labels : nullptr;
}

const std::vector<std::string>* ReplaySource::batch_texts() const {
  const Batch* b = current();
  return b && b->texts ? &*b->texts : nullptr;
}

const Tensor* ReplaySource::batch_targets() const {
  const Batch* b = current();
  return b && b->targets ? &*b->targets : nullptr;
}

}  // namespace ocs
