#include "quant/ocs_budget.h"

#include "core/axis_split.h"
#include "quant/fake_quant.h"

#include <cmath>
#include <queue>
#include <tuple>

namespace ocs {

namespace {

// One layer's channel maxima as the greedy naive split leaves them.
struct LayerSplits {
  std::priority_queue<double> channel_max;
  int64_t slice = 0;  // weights one split adds
  int64_t taken = 0, limit = 0;

  double range() const { return channel_max.empty() ? 0.0 : channel_max.top(); }

  // Splits needed to lower the range, and the range after them; {0, range} when it cannot drop.
  std::pair<int64_t, double> next_group() const {
    std::priority_queue<double> heap = channel_max;
    const double r = range();
    int64_t count = 0;
    while (r > 0 && !heap.empty() && heap.top() == r) {
      heap.pop();
      heap.push(r / 2);
      heap.push(r / 2);
      ++count;
    }
    return {count, heap.empty() ? r : heap.top()};
  }

  void take(int64_t count) {
    for (int64_t i = 0; i < count; ++i) {
      const double m = channel_max.top();
      channel_max.pop();
      channel_max.push(m / 2);
      channel_max.push(m / 2);
    }
    taken += count;
  }
};

LayerSplits layer_splits(const OcsBudgetLayer& layer) {
  const Tensor& w = *layer.weight;
  OCS_CHECK(w.dtype() == DType::Float32, "OCS budget: float32 weights only");
  const AxisSplit around = split_at_axis(w.shape(), layer.axis);
  LayerSplits s;
  for (double m : max_abs_per_channel(w, layer.axis)) s.channel_max.push(m);
  s.slice = around.outer * around.inner;
  s.limit = layer.max_splits;
  return s;
}

}  // namespace

std::vector<int64_t> ocs_budget_splits(const std::vector<OcsBudgetLayer>& layers, int64_t budget) {
  std::vector<LayerSplits> state;
  for (const auto& layer : layers) state.push_back(layer_splits(layer));
  // (gain per weight added, layer, splits in the group): the best next group of each layer
  // still in the running.
  using Candidate = std::tuple<double, size_t, int64_t>;
  std::priority_queue<Candidate> best;
  auto offer = [&](size_t k) {
    const auto [count, after] = state[k].next_group();
    const double r = state[k].range();
    if (count == 0 || after <= 0 || state[k].taken + count > state[k].limit) return;
    best.push({20.0 * std::log10(r / after) / static_cast<double>(count * state[k].slice), k, count});
  };
  for (size_t k = 0; k < state.size(); ++k) offer(k);
  int64_t left = budget;
  while (!best.empty()) {
    const auto [gain, k, count] = best.top();
    best.pop();
    if (count * state[k].slice > left) continue;  // too dear for what is left; cheaper ones may fit
    state[k].take(count);
    left -= count * state[k].slice;
    offer(k);
  }
  std::vector<int64_t> splits;
  for (const auto& s : state) splits.push_back(s.taken);
  return splits;
}

}  // namespace ocs
