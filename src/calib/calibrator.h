// Streams calibration statistics out of Session::run: one TensorStats per watched value of the
// top-level graph, updated by an Observer as each value is produced, batch after batch.
//
// Usage
//   Calibrator calibrator(session.graph(), {{conv_input, 1}, {lstm_input, 2}});
//   for (const auto& batch : batches) session.run(batch, calibrator.observer());
//   double t = make_clip_method("mse")->threshold(calibrator.stats(conv_input), 8);
//
// Contract
//  - `graph` must be the very Graph object the Session runs (Session::graph()): the observer
//    tells the top-level graph from If/Loop bodies by address (a body's ValueIds index another
//    table); values of subgraphs are ignored. Watch graph inputs and node outputs; constants
//    (weights) never reach an observer, use stats_of_tensor for them.
//  - Watched values must be float32 at run time (UserError naming the value otherwise), and
//    their channel axis must exist and keep its size across batches (UserError naming it).
//  - Memory bound: per watched value, a fixed set of scalars, num_bins 8-byte histogram counters
//    (16 KiB at the default 2048), the signed histogram (256 KiB, signed_histogram.h) and one
//    double per channel (each only when gathered); independent of the number of batches and of
//    the batch size. Nothing keeps a tensor after the observer returns (each update reads it a
//    few times, with no copy; the threads' partial histograms live only during the update).
//  - The observer holds a pointer to this Calibrator: keep it alive (and in place: it is neither
//    copyable nor movable) while runs use the observer. Not thread-safe; Session::run calls the
//    observer from one thread, between nodes, and each update splits its work over the
//    session's OpenMP threads (stats_scan.h: results do not depend on their number).
#pragma once

#include "calib/tensor_stats.h"
#include "engine/session.h"
#include "ir/graph.h"

#include <map>
#include <vector>

namespace ocs {

struct WatchedValue {
  ValueId value = kNoValue;
  int64_t channel_axis = kNoChannelAxis;  // see TensorStats
};

class Calibrator {
 public:
  // InternalError for ids out of range, duplicates, or constant values.
  // `needs`: the statistics gathered for every watched value (TensorStats; the clip methods that
  // will read them say which: ClipMethod::needs).
  Calibrator(const Graph& graph, const std::vector<WatchedValue>& watched,
             int64_t histogram_bins = kDefaultHistogramBins, StatsNeeds needs = {});
  Calibrator(const Calibrator&) = delete;
  Calibrator& operator=(const Calibrator&) = delete;

  Observer observer();

  const std::vector<WatchedValue>& watched() const { return watched_; }
  // True once the value has been produced at least once (with any number of elements).
  bool seen(ValueId value) const;
  // UserError naming the value if it never held a finite element (never produced, e.g. in a
  // branch not taken, or only empty/NaN tensors);
  // InternalError if it is not watched.
  const TensorStats& stats(ValueId value) const;

 private:
  void observe(const Graph& graph, ValueId value, const Tensor& tensor);

  const Graph* graph_;
  std::vector<WatchedValue> watched_;
  std::map<ValueId, TensorStats> stats_;
};

}  // namespace ocs
