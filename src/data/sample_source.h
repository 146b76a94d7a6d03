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
};

// Samples held in arrays keyed by input name, axis 0 indexing samples (as .npz / .npy files
// give them). Batches have the model's batch size when its input declares a fixed first
// dimension, otherwise `batch` samples. At most `limit` samples are yielded.
class ArraySampleSource : public SampleSource {
 public:
  ArraySampleSource(const Graph& graph, std::map<std::string, Tensor> arrays, int64_t limit, int64_t batch = 32);
  std::optional<Feed> next() override;
  int64_t size() const override { return count_; }
  void rewind() override { position_ = 0; }

 private:
  std::map<std::string, Tensor> arrays_;
  int64_t count_ = 0;
  int64_t batch_ = 1;
  int64_t position_ = 0;
};

// Reads --calib / --data specs: "FILE.npz" or "NAME=FILE.npy" (several allowed).
std::map<std::string, Tensor> read_sample_arrays(const std::vector<std::string>& specs);

}  // namespace ocs
