#include "data/sample_source.h"

#include "core/error.h"
#include "data/fixed_inputs.h"
#include "io/npy.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <filesystem>

namespace ocs {

int64_t SampleSource::samples_in(const Feed& batch) const {
  for (const auto& [name, t] : batch)
    if (t.rank() > 0) return t.dim(0);
  return 1;
}

namespace {

// "K" or "none" of an axis= option.
int64_t parse_sample_axis(const std::string& spec, const std::string& text) {
  if (text == "none") return kNoSampleAxis;
  int64_t axis = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), axis);
  if (error != std::errc() || end != text.data() + text.size() || axis < 0 || axis > 16)
    user_error("data '{}': axis {} must be a small whole number (the array's sample axis) or none (one value "
               "for every batch)", spec, text);
  return axis;
}

}  // namespace

SampleArrays read_sample_array_specs(const std::vector<std::string>& specs) {
  SampleArrays out;
  std::vector<std::pair<std::string, int64_t>> axes;  // checked against the arrays at the end
  for (const auto& full : specs) {
    // "FILE,axis=...,axis=...": options follow the first ",axis=".
    const size_t options = full.find(",axis=");
    const std::string spec = full.substr(0, options);
    const auto eq = spec.find('=');
    const std::string single = eq == std::string::npos ? "" : spec.substr(0, eq);
    if (eq == std::string::npos) {
      if (std::filesystem::path(spec).extension() != ".npz")
        user_error("data '{}' must be NAME=FILE.npy or FILE.npz (arrays keyed by input name)", spec);
      for (auto& [name, t] : read_npz(spec)) out.arrays[name] = std::move(t);
    } else {
      out.arrays[single] = read_npy(spec.substr(eq + 1));
    }
    for (size_t at = options; at != std::string::npos;) {
      const size_t next = full.find(',', at + 1);
      const std::string option = full.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
      at = next;
      if (option.rfind("axis=", 0) != 0)
        user_error("data '{}': unknown option '{}' (arrays take axis=NAME:K or axis=NAME:none)", full, option);
      const std::string value = option.substr(5);
      const auto colon = value.rfind(':');
      if (colon == std::string::npos && single.empty())
        user_error("data '{}': {} must name the array: axis=NAME:K (e.g. axis=state:1)", full, option);
      const std::string name = colon == std::string::npos ? single : value.substr(0, colon);
      axes.emplace_back(name, parse_sample_axis(full, colon == std::string::npos ? value : value.substr(colon + 1)));
    }
  }
  for (const auto& [name, axis] : axes) {
    if (!out.arrays.count(name)) user_error("data option axis={}: the data has no array '{}'", name, name);
    out.sample_axes[name] = axis;
  }
  return out;
}

std::map<std::string, Tensor> read_sample_arrays(const std::vector<std::string>& specs) {
  return read_sample_array_specs(specs).arrays;
}

Feed feed_for_model(const Graph& graph, Feed batch, const std::map<std::string, std::string>& fixed) {
  Feed feed;
  for (ValueId id : graph.inputs) {
    const Value& input = graph.values[id];
    if (auto it = batch.find(input.name); it != batch.end()) feed[input.name] = std::move(it->second);
    else if (auto f = fixed.find(input.name); f != fixed.end()) feed[input.name] = fixed_input_tensor(input, f->second);
  }
  return feed;  // an input still missing is named by the session
}

namespace {

// Checks one array against the input it feeds and returns its sample count (-1: no sample
// axis), setting `batch` when the input declares the size of its sample axis.
int64_t check_array(const Value& input, const Tensor& t, int64_t axis, int64_t& batch, bool& fixed_batch) {
  const Shape& dims = t.shape();
  if (axis == kNoSampleAxis) {
    bool fits = !input.shape || input.shape->size() == dims.size();
    for (size_t d = 0; fits && input.shape && d < dims.size(); ++d) fits = (*input.shape)[d] < 0 || (*input.shape)[d] == dims[d];
    if (!fits)
      user_error("data for input '{}' is one value for every batch (rank 0 or axis=none) of shape {}, but the model "
                 "takes {}", input.name, shape_str(dims), shape_str(*input.shape));
    return -1;
  }
  if (axis >= t.rank())
    user_error("data for input '{}' has shape {}, which has no axis {} to hold samples", input.name, shape_str(dims), axis);
  if (input.shape && input.shape->empty())
    user_error("data for input '{}' has shape {}, but the model takes a single number (rank 0): give a rank-0 array, "
               "fed with every batch", input.name, shape_str(dims));
  if (input.shape && input.shape->size() != dims.size())
    user_error("data for input '{}' has shape {}, but the model takes rank {} with samples along axis {}", input.name,
               shape_str(dims), input.shape->size(), axis);
  for (size_t d = 0; input.shape && d < dims.size(); ++d)
    if (static_cast<int64_t>(d) != axis && (*input.shape)[d] >= 0 && (*input.shape)[d] != dims[d])
      user_error("data for input '{}' has shape {} (samples along axis {}), but the model takes {}", input.name,
                 shape_str(dims), axis, shape_str(*input.shape));
  if (input.shape && (*input.shape)[axis] > 0) {
    batch = (*input.shape)[axis];
    fixed_batch = true;
  }
  return t.dim(axis);
}

}  // namespace

ArraySampleSource::ArraySampleSource(const Graph& graph, std::map<std::string, Tensor> arrays, int64_t limit,
                                     int64_t batch, std::map<std::string, int64_t> sample_axes)
    : arrays_(std::move(arrays)), batch_(batch) {
  if (arrays_.empty()) user_error("no calibration/evaluation data was given");
  int64_t samples = -1;
  std::string counted;  // the array that set `samples`
  bool fixed_batch = false;
  for (ValueId id : graph.inputs) {
    const Value& input = graph.values[id];
    auto it = arrays_.find(input.name);
    if (it == arrays_.end())
      user_error("the data has no array for model input '{}'", input.name);
    const Tensor& t = it->second;
    const auto given = sample_axes.find(input.name);
    const int64_t axis = t.rank() == 0 ? kNoSampleAxis : given != sample_axes.end() ? given->second : 0;
    axes_[input.name] = axis;
    const int64_t n = check_array(input, t, axis, batch_, fixed_batch);
    if (n < 0) continue;
    if (samples >= 0 && n != samples)
      user_error("data arrays disagree on the number of samples ({} in '{}' vs {} in '{}')", samples, counted, n,
                 input.name);
    samples = n;
    counted = input.name;
  }
  for (auto it = arrays_.begin(); it != arrays_.end();) {
    const ValueId id = graph.find_value(it->first);
    if (id != kNoValue && std::find(graph.inputs.begin(), graph.inputs.end(), id) != graph.inputs.end()) {
      ++it;
    } else if (it->second.rank() == 0) {
      // A setting (sr = 16000) of the model this data was made for, which a --fix-input turned
      // into a constant of this one: not fed.
      it = arrays_.erase(it);
    } else {
      user_error("the data holds an array '{}', which is not an input of the model", it->first);
    }
  }
  if (samples < 0) {  // every array is one value: the data is one sample
    samples = 1;
    batch_ = 1;
    fixed_batch = false;
  }
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
    const int64_t axis = axes_.at(name);
    if (axis == kNoSampleAxis) {
      feed[name] = t;
      continue;
    }
    // Samples [position_, position_ + n) along `axis`: for each index of the axes before it, a
    // contiguous run of n samples of `sample_bytes` each.
    Shape shape = t.shape();
    shape[axis] = n;
    Tensor slice(t.dtype(), shape);
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= t.dim(d);
    const size_t sample_bytes = dtype_size(t.dtype()) * static_cast<size_t>(t.numel() / std::max<int64_t>(1, outer * t.dim(axis)));
    const auto* from = static_cast<const std::byte*>(t.raw());
    auto* to = static_cast<std::byte*>(slice.raw());
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(to + o * n * sample_bytes, from + (o * t.dim(axis) + position_) * sample_bytes,
                  sample_bytes * static_cast<size_t>(n));
    feed[name] = std::move(slice);
  }
  position_ += n;
  last_batch_ = n;
  return feed;
}

}  // namespace ocs
