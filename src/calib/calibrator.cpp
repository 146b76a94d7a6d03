#include "calib/calibrator.h"

#include "core/error.h"

namespace ocs {

Calibrator::Calibrator(const Graph& graph, const std::vector<WatchedValue>& watched,
                       int64_t histogram_bins, StatsNeeds needs)
    : graph_(&graph), watched_(watched) {
  for (const WatchedValue& w : watched_) {
    OCS_CHECK(w.value >= 0 && static_cast<size_t>(w.value) < graph.values.size(),
              "watched value id {} out of range", w.value);
    OCS_CHECK(!graph.values[static_cast<size_t>(w.value)].constant,
              "watched value '{}' is a constant: use stats_of_tensor",
              graph.values[static_cast<size_t>(w.value)].name);
    const bool inserted = stats_.emplace(w.value, TensorStats(w.channel_axis, needs, histogram_bins)).second;
    OCS_CHECK(inserted, "value '{}' watched twice", graph.values[static_cast<size_t>(w.value)].name);
  }
}

Observer Calibrator::observer() {
  return [this](const Graph& graph, ValueId value, const Tensor& tensor) {
    observe(graph, value, tensor);
  };
}

void Calibrator::observe(const Graph& graph, ValueId value, const Tensor& tensor) {
  if (&graph != graph_) return;  // a subgraph's ids index another table
  auto it = stats_.find(value);
  if (it == stats_.end()) return;
  try {
    it->second.update(tensor);
  } catch (const UserError& error) {
    user_error("calibrating value '{}': {}", graph.values[static_cast<size_t>(value)].name,
               error.what());
  }
}

bool Calibrator::seen(ValueId value) const {
  auto it = stats_.find(value);
  OCS_CHECK(it != stats_.end(), "value id {} is not watched", value);
  return it->second.batches() > 0;
}

const TensorStats& Calibrator::stats(ValueId value) const {
  auto it = stats_.find(value);
  OCS_CHECK(it != stats_.end(), "value id {} is not watched", value);
  if (it->second.batches() == 0 || it->second.count() == 0)
    user_error("value '{}' was never computed with finite data during calibration: no statistics "
               "to pick a clip threshold from",
               graph_->values[static_cast<size_t>(value)].name);
  return it->second;
}

}  // namespace ocs
