#include "analysis/weight_stats.h"

#include "analysis/subgraph_layers.h"
#include "core/axis_split.h"
#include "passes/weighted_layer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace ocs {

namespace {

// `scope`: the graphs enclosing `graph` (a branch's weight is often an outer-scope value, the
// enclosing graph's initializer); `where`: "" at the top level, else e.g. "If 'x' then_branch".
void collect(const Graph& graph, GraphScope& scope, const std::string& where, int top_k,
             std::vector<WeightStats>& out) {
  for (const Node& node : graph.nodes) {
    for (int idx = 1; idx <= 2; ++idx) {
      if (static_cast<size_t>(idx) >= node.inputs.size() || node.inputs[idx] == kNoValue) continue;
      int64_t axis = weight_input_channel_axis(node, graph, idx);
      const Value* weight = axis < 0 ? nullptr : resolve_constant(graph, node.inputs[idx], scope);
      if (!weight || weight->constant->dtype() != DType::Float32) continue;
      const Value& w = *weight;
      const Tensor& t = *w.constant;
      if (axis >= t.rank()) continue;
      WeightStats s;
      s.subgraph = where;
      s.node = node.name;
      s.op_type = node.op_type;
      s.weight = w.name;
      s.shape = t.shape();
      s.params = t.numel();
      s.in_channel_axis = axis;
      const float* p = t.data<float>();
      const int64_t n = t.numel();
      double sum = 0.0;
      for (int64_t i = 0; i < n; ++i) sum += p[i];
      s.mean = n ? sum / static_cast<double>(n) : 0.0;
      double m2 = 0.0, m4 = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        double d = p[i] - s.mean;
        m2 += d * d;
        m4 += d * d * d * d;
        s.max_abs = std::max(s.max_abs, static_cast<double>(std::fabs(p[i])));
      }
      if (n) {
        m2 /= static_cast<double>(n);
        m4 /= static_cast<double>(n);
      }
      s.std = std::sqrt(m2);
      s.kurtosis = m2 > 0 ? m4 / (m2 * m2) : 0.0;
      // Max |w| per input channel: index = ((outer * channels) + c) * inner + rest.
      const AxisSplit around = split_at_axis(t.shape(), axis);
      const int64_t channels = around.channels, outer = around.outer, inner = around.inner;
      std::vector<double> peak(static_cast<size_t>(channels), 0.0);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t c = 0; c < channels; ++c)
          for (int64_t r = 0; r < inner; ++r)
            peak[c] = std::max(peak[c], static_cast<double>(std::fabs(p[(o * channels + c) * inner + r])));
      std::vector<int64_t> order(static_cast<size_t>(channels));
      for (int64_t c = 0; c < channels; ++c) order[c] = c;
      int64_t k = std::min<int64_t>(top_k, channels);
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](int64_t a, int64_t b) { return peak[a] > peak[b] || (peak[a] == peak[b] && a < b); });
      for (int64_t i = 0; i < k; ++i) s.top_channels.push_back({order[i], peak[order[i]]});
      out.push_back(std::move(s));
    }
    for (const auto& [key, attr] : node.attributes) {
      if (!attr.g) continue;
      scope.push_back(&graph);
      collect(*attr.g, scope, fmt::format("{} '{}' {}", node.op_type, node.name, key), top_k, out);
      scope.pop_back();
    }
  }
}

}  // namespace

std::vector<WeightStats> collect_weight_stats(const Graph& graph, int top_k) {
  std::vector<WeightStats> out;
  GraphScope scope;
  collect(graph, scope, "", top_k, out);
  return out;
}

nlohmann::json weight_stats_json(const std::vector<WeightStats>& stats) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& s : stats) {
    nlohmann::json top = nlohmann::json::array();
    for (const auto& c : s.top_channels) top.push_back({{"channel", c.channel}, {"max_abs", c.max_abs}});
    layers.push_back({{"node", s.node}, {"op_type", s.op_type}, {"weight", s.weight},
                      {"shape", s.shape}, {"params", s.params}, {"in_channel_axis", s.in_channel_axis},
                      {"max_abs", s.max_abs}, {"mean", s.mean}, {"std", s.std},
                      {"kurtosis", s.kurtosis}, {"top_in_channels", top}});
    if (!s.subgraph.empty()) layers.back()["subgraph"] = s.subgraph;
  }
  return {{"layers", layers}};
}

std::string weight_stats_table(const std::vector<WeightStats>& stats) {
  std::string out = fmt::format("{:<32} {:<9} {:<20} {:>9} {:>9} {:>9} {:>10}  {}\n", "layer", "op",
                                "weight shape", "params", "max|w|", "std", "kurtosis",
                                "top input channels (max|w|)");
  int64_t total = 0;
  for (const auto& s : stats) {
    std::string top;
    for (const auto& c : s.top_channels) top += fmt::format("{}{}({:.3g})", top.empty() ? "" : " ", c.channel, c.max_abs);
    std::string name = (s.subgraph.empty() ? "" : "*") + s.node;
    if (name.size() > 32) name = "..." + name.substr(name.size() - 29);
    out += fmt::format("{:<32} {:<9} {:<20} {:>9} {:>9.4g} {:>9.4g} {:>10.4g}  {}\n", name, s.op_type,
                       shape_str(s.shape), s.params, s.max_abs, s.std, s.kurtosis, top);
    total += s.params;
  }
  const auto in_subgraphs = std::count_if(stats.begin(), stats.end(), [](const WeightStats& s) { return !s.subgraph.empty(); });
  out += fmt::format("{} layers with weights, {} weight parameters\n", stats.size(), total);
  if (in_subgraphs > 0)
    out += fmt::format("{} of these layers are inside If/Loop bodies (marked *); `quantize` leaves them float unless "
                       "--fix-input inlines their If\n", in_subgraphs);
  return out;
}

}  // namespace ocs
