#include "recipe/calibrate_layers.h"

#include "calib/calibrator.h"
#include "core/progress.h"
#include "engine/session.h"
#include "passes/weighted_layer.h"

#include <memory>
#include <set>

namespace ocs {

namespace {

const Node* find_node(const Graph& graph, const std::string& name) {
  for (const Node& node : graph.nodes)
    if (node.name == name) return &node;
  return nullptr;
}

}  // namespace

std::map<std::string, TensorStats> calibrate_layers(const Graph& graph, const std::vector<std::string>& layers,
                                                    SampleSource& source, int threads, const std::string& label,
                                                    const std::vector<std::string>& tensors,
                                                    std::map<std::string, TensorStats>* tensor_stats,
                                                    StatsNeeds needs) {
  auto shared = std::make_shared<const Graph>(graph);
  Session session(shared, {false, threads});
  std::vector<WatchedValue> watched;
  std::map<std::string, ValueId> input_of;
  std::set<ValueId> seen;
  for (const auto& name : layers) {
    const Node* node = find_node(*shared, name);
    ValueId x = node->inputs[0];
    input_of[name] = x;
    if (shared->values[x].constant || !seen.insert(x).second) continue;
    watched.push_back({x, data_channel_axis(*node, *shared)});
  }
  for (const auto& name : tensors) {
    const ValueId x = shared->find_value(name);
    OCS_CHECK(x != kNoValue && !shared->values[x].constant, "calibration: no activation named '{}'", name);
    if (seen.insert(x).second) watched.push_back({x, kNoChannelAxis});
  }
  Calibrator calibrator(*shared, watched, kDefaultHistogramBins, needs);
  source.rewind();
  Progress progress(label, source.size());
  int64_t done = 0;
  // The data is made for the float model; an input that --fix-input turned into a constant (and
  // folding may then have removed) is no input of `graph` any more, so its data is not fed.
  std::set<std::string> inputs;
  for (ValueId id : shared->inputs) inputs.insert(shared->values[id].name);
  while (auto feed = source.next()) {
    for (auto it = feed->begin(); it != feed->end();) it = inputs.count(it->first) ? std::next(it) : feed->erase(it);
    session.run(*feed, calibrator.observer());
    // Samples in this batch: axis 0 of the model's first input (not of the first name in the
    // feed: Silero's state c [2, 1, 64] sorts first and would count each chunk twice).
    const auto first = shared->inputs.empty() ? feed->end() : feed->find(shared->values[shared->inputs[0]].name);
    done += first != feed->end() && first->second.rank() > 0 ? first->second.dim(0) : 1;
    progress.update(done);
  }
  progress.finish();
  std::map<std::string, TensorStats> stats;
  for (const auto& [name, x] : input_of)
    if (!shared->values[x].constant) stats.emplace(name, calibrator.stats(x));
  if (tensor_stats)
    for (const auto& name : tensors) tensor_stats->emplace(name, calibrator.stats(shared->find_value(name)));
  return stats;
}

}  // namespace ocs
