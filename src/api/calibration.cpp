#include "api/calibration.h"

#include "api/arrays.h"
#include "core/error.h"
#include "eval/sample_source_spec.h"

#include <cstring>

namespace ocs {

Calibration Calibration::from_specs(std::vector<std::string> specs) {
  Calibration c;
  c.specs = std::move(specs);
  return c;
}

Calibration Calibration::from_arrays(Arrays stacked) {
  Calibration c;
  c.stacked = std::move(stacked);
  return c;
}

Calibration Calibration::from_batches(std::function<std::optional<Arrays>()> next_batch) {
  Calibration c;
  c.next_batch = std::move(next_batch);
  return c;
}

namespace api {
namespace {

// Samples of a batch: axis 0 of its first array of rank >= 1 (as SampleSource::samples_in).
int64_t samples_of(const Arrays& batch) {
  for (const auto& [name, array] : batch)
    if (!array.shape.empty()) return array.shape[0];
  return 1;
}

// Concatenates the batches along axis 0, name by name; every batch names the same inputs with
// the same element type and the same shape after axis 0.
std::map<std::string, Tensor> concatenate(const std::vector<Arrays>& batches) {
  std::map<std::string, Tensor> out;
  const Arrays& first = batches.front();
  for (const auto& [name, array] : first) {
    if (array.shape.empty())
      user_error("calibration batch 1: array '{}' has no sample axis (rank 0); every array of a batch holds "
                 "samples on axis 0", name);
    Shape shape = array.shape;
    shape[0] = 0;
    for (size_t b = 0; b < batches.size(); ++b) {
      auto it = batches[b].find(name);
      if (it == batches[b].end()) user_error("calibration batch {} has no array '{}' (batch 1 has it)", b + 1, name);
      const Array& a = it->second;
      if (a.dtype != array.dtype || a.shape.size() != array.shape.size() ||
          !std::equal(a.shape.begin() + 1, a.shape.end(), array.shape.begin() + 1))
        user_error("calibration batch {}: array '{}' is {} {}, but batch 1 has {} {}; batches differ only in their "
                   "number of samples (axis 0)", b + 1, name, a.dtype, shape_str(a.shape), array.dtype,
                   shape_str(array.shape));
      shape[0] += a.shape[0];
    }
    Tensor t(dtype_from_name(array.dtype, fmt::format("calibration array '{}'", name)), shape);
    auto* at = static_cast<std::byte*>(t.raw());
    for (const auto& batch : batches) {
      const Array& a = batch.at(name);
      if (a.nbytes() > 0 && !a.data) user_error("calibration array '{}' has no data", name);
      if (a.nbytes() > 0) std::memcpy(at, a.data, a.nbytes());
      at += a.nbytes();
    }
    out[name] = std::move(t);
  }
  for (size_t b = 1; b < batches.size(); ++b)
    for (const auto& [name, array] : batches[b])
      if (!first.count(name)) user_error("calibration batch {} has an array '{}' that batch 1 lacks", b + 1, name);
  return out;
}

}  // namespace

std::unique_ptr<SampleSource> calibration_source(const Calibration& calibration, const Graph& graph, int64_t samples) {
  const int given = !calibration.specs.empty() + calibration.stacked.has_value() + bool(calibration.next_batch);
  if (given > 1) user_error("give calibration data one way: data specs, stacked arrays or batches");
  if (!calibration.specs.empty()) return make_sample_source(calibration.specs, graph, samples);
  if (calibration.stacked) {
    if (calibration.stacked->empty()) user_error("the calibration arrays are empty; give one array per model input");
    return std::make_unique<ArraySampleSource>(graph, to_tensors(*calibration.stacked, "calibration array"), samples);
  }
  if (!calibration.next_batch) return nullptr;
  std::vector<Arrays> batches;
  int64_t gathered = 0;
  while (gathered < samples) {
    std::optional<Arrays> batch = calibration.next_batch();
    if (!batch) break;
    if (batch->empty()) user_error("calibration batch {} holds no array", batches.size() + 1);
    gathered += samples_of(*batch);
    batches.push_back(std::move(*batch));
  }
  if (batches.empty()) user_error("the calibration batches are empty: the iterator yielded nothing");
  return std::make_unique<ArraySampleSource>(graph, concatenate(batches), samples);
}

}  // namespace api
}  // namespace ocs
