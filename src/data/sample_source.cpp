#include "data/sample_source.h"

#include "core/error.h"

#include "io/npy.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace ocs {

std::map<std::string, Tensor> read_sample_arrays(const std::vector<std::string>& specs) {
  std::map<std::string, Tensor> arrays;
  for (const auto& spec : specs) {
    auto eq = spec.find('=');
    if (eq == std::string::npos) {
      if (std::filesystem::path(spec).extension() != ".npz")
        user_error("data '{}' must be NAME=FILE.npy or FILE.npz (arrays keyed by input name)", spec);
      for (auto& [name, t] : read_npz(spec)) arrays[name] = std::move(t);
    } else {
      arrays[spec.substr(0, eq)] = read_npy(spec.substr(eq + 1));
    }
  }
  return arrays;
}

ArraySampleSource::ArraySampleSource(const Graph& graph, std::map<std::string, Tensor> arrays,
                                     int64_t limit, int64_t batch)
    : arrays_(std::move(arrays)), batch_(batch) {
  if (arrays_.empty()) user_error("no calibration/evaluation data was given");
  int64_t samples = -1;
  bool fixed_batch = false;
  for (ValueId id : graph.inputs) {
    const Value& input = graph.values[id];
    auto it = arrays_.find(input.name);
    if (it == arrays_.end())
      user_error("the data has no array for model input '{}'", input.name);
    const Tensor& t = it->second;
    if (t.rank() < 1) user_error("data for input '{}' must have a sample axis first", input.name);
    if (input.shape && static_cast<int64_t>(input.shape->size()) != t.rank())
      user_error("data for input '{}' has shape {}, but the model takes rank {} with samples along "
                 "axis 0", input.name, shape_str(t.shape()), input.shape->size());
    if (input.shape)
      for (size_t d = 1; d < input.shape->size(); ++d)
        if ((*input.shape)[d] >= 0 && (*input.shape)[d] != t.dim(static_cast<int64_t>(d)))
          user_error("data for input '{}' has samples of shape {} (after the sample axis), but the "
                     "model takes {}", input.name, shape_str(Shape(t.shape().begin() + 1, t.shape().end())),
                     shape_str(Shape(input.shape->begin() + 1, input.shape->end())));
    if (input.shape && !input.shape->empty() && (*input.shape)[0] > 0) {
      batch_ = (*input.shape)[0];
      fixed_batch = true;
    }
    if (samples >= 0 && t.dim(0) != samples)
      user_error("data arrays disagree on the number of samples ({} vs {} for '{}')", samples,
                 t.dim(0), input.name);
    samples = t.dim(0);
  }
  for (const auto& [name, t] : arrays_)
    if (graph.find_value(name) == kNoValue ||
        std::find(graph.inputs.begin(), graph.inputs.end(), graph.find_value(name)) == graph.inputs.end())
      user_error("the data holds an array '{}', which is not an input of the model", name);
  count_ = std::min<int64_t>(samples, limit);
  // A model with a fixed batch size takes only whole batches; a dynamic one takes a last,
  // smaller batch.
  if (fixed_batch) count_ -= count_ % batch_;
  if (count_ <= 0) user_error("the data holds {} samples; at least one batch of {} is needed", samples, batch_);
}

std::optional<Feed> ArraySampleSource::next() {
  if (position_ >= count_) return std::nullopt;
  const int64_t n = std::min(batch_, count_ - position_);
  Feed feed;
  for (const auto& [name, t] : arrays_) {
    Shape shape = t.shape();
    shape[0] = n;
    Tensor slice(t.dtype(), shape);
    const size_t sample_bytes = t.nbytes() / static_cast<size_t>(t.dim(0));
    std::memcpy(slice.raw(), static_cast<const std::byte*>(t.raw()) + position_ * sample_bytes,
                sample_bytes * static_cast<size_t>(n));
    feed[name] = std::move(slice);
  }
  position_ += n;
  return feed;
}

}  // namespace ocs
