// A stream of model inputs for calibration and evaluation, batch by batch. Readers of datasets
// (Fashion-MNIST, image folders, text lines) implement the same interface.
#pragma once

#include "core/tensor.h"
#include "ir/graph.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ocs {

using Feed = std::map<std::string, Tensor>;  // graph input name -> tensor

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  // The next batch, or nullopt at the end. A batch holds at least one sample.
  virtual std::optional<Feed> next() = 0;
  // Total number of samples this source yields.
  virtual int64_t size() const = 0;
  virtual void rewind() = 0;
  // Labels of the batch last returned by next(); nullptr when the dataset has none of that kind.
  // Class per sample (classification):
  virtual const std::vector<int64_t>* batch_labels() const { return nullptr; }
  // Transcript per sample (text recognition, UTF-8):
  virtual const std::vector<std::string>* batch_texts() const { return nullptr; }
  // Target token ids, int64 (language models; shape as the dataset documents it):
  virtual const Tensor* batch_targets() const { return nullptr; }
  // Samples in `batch`, a batch next() returned: by default axis 0 of its first tensor of rank
  // >= 1. Sources whose batches hold tensors without a sample axis first (a state [2, 1, 128],
  // a rank-0 sample rate) override it.
  virtual int64_t samples_in(const Feed& batch) const;
};

// The axis of an array that indexes samples, or kNoSampleAxis: the array is one value fed
// whole with every batch (a rank-0 sample rate; a start state [2, 1, 128]).
inline constexpr int64_t kNoSampleAxis = -1;

// Samples held in arrays keyed by input name (as .npz / .npy files give them). An array's
// samples lie along its sample axis: axis 0 unless `sample_axes` names another (Silero's state
// [2, N, 128] has them on axis 1) or kNoSampleAxis. A rank-0 array has no sample axis: it is
// fed with every batch (and skipped when it names no input: a --fix-input made it a constant). Except along its sample axis, an array has the shape the input declares.
// Batches have the model's batch size when the input declares that dimension, otherwise `batch`
// samples. At most `limit` samples are yielded; when no array has a sample axis, the data is
// one sample.
class ArraySampleSource : public SampleSource {
 public:
  ArraySampleSource(const Graph& graph, std::map<std::string, Tensor> arrays, int64_t limit, int64_t batch = 32,
                    std::map<std::string, int64_t> sample_axes = {});
  std::optional<Feed> next() override;
  int64_t size() const override { return count_; }
  void rewind() override { position_ = 0; }
  int64_t samples_in(const Feed&) const override { return last_batch_; }

 private:
  std::map<std::string, Tensor> arrays_;
  std::map<std::string, int64_t> axes_;  // every array's sample axis (or kNoSampleAxis)
  int64_t count_ = 0;
  int64_t batch_ = 1;
  int64_t position_ = 0;
  int64_t last_batch_ = 0;
};

// Reads --calib / --data specs: "FILE.npz" or "NAME=FILE.npy" (several allowed).
std::map<std::string, Tensor> read_sample_arrays(const std::vector<std::string>& specs);

// The arrays of array specs and the sample axes their ",axis=" options give.
struct SampleArrays {
  std::map<std::string, Tensor> arrays;
  std::map<std::string, int64_t> sample_axes;  // only the arrays an axis= option names
};
SampleArrays read_sample_array_specs(const std::vector<std::string>& specs);

// `batch` (made for another model of the same data) as `graph` takes it: entries that are no
// input of `graph` are dropped (a --fix-input made them constants), and inputs of `graph` it lacks
// are added from `fixed` (input -> one number, as `fix=sr:16000` of a wav: spec gives them).
Feed feed_for_model(const Graph& graph, Feed batch, const std::map<std::string, std::string>& fixed);

}  // namespace ocs
