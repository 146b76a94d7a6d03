#include "sweep/plots.h"

#include "report/svg_chart.h"
#include "sweep/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <cmath>
#include <set>
#include <sstream>

namespace ocs {
namespace {

double shown(const SweepResult& result, double v) {
  return is_fraction_metric(result.headline_metric) ? 100 * v : v;
}

std::string y_label(const SweepResult& result) {
  if (result.headline_metric == "top1") return "top-1 accuracy (%)";
  if (result.headline_metric == "line_accuracy") return "exact lines (%)";
  if (result.headline_metric == "cer") return "character error rate (%, lower is better)";
  if (result.headline_metric == "perplexity") return "perplexity (lower is better)";
  if (result.headline_metric == "fidelity") return "output SQNR vs float (dB)";
  return result.headline_metric;
}

// The axis a plot runs along: weight bits with the weight clip method and OCS ratio, or
// activation bits with the activation clip method and activation OCS ratio.
struct Axis {
  bool weights = true;
  int bits(const SweepConfig& c) const { return weights ? c.weight_bits : c.activation_bits; }
  int other_bits(const SweepConfig& c) const { return weights ? c.activation_bits : c.weight_bits; }
  const std::string& clip(const SweepConfig& c) const { return weights ? c.weight_clip : c.activation_clip; }
  double ratio(const SweepConfig& c) const { return weights ? c.ocs_ratio : c.act_ocs_ratio; }
  // The settings of the other kind (held at the grid's first values in plots).
  std::pair<std::string, double> other(const SweepConfig& c) const {
    return weights ? std::make_pair(c.activation_clip, c.act_ocs_ratio) : std::make_pair(c.weight_clip, c.ocs_ratio);
  }
  const char* noun() const { return weights ? "weight" : "activation"; }
};

// Rows at one width of the other kind, with the other kind's settings at their first value.
std::vector<const SweepRow*> plotted_rows(const SweepResult& result, const Axis& axis, int other_bits) {
  std::vector<const SweepRow*> rows;
  std::optional<std::pair<std::string, double>> other;
  for (const auto& row : result.rows) {
    if (row.is_float || axis.other_bits(row.config) != other_bits) continue;
    if (!other) other = axis.other(row.config);
    if (axis.other(row.config) == *other) rows.push_back(&row);
  }
  return rows;
}

std::string first_split(const std::vector<const SweepRow*>& rows) {
  for (const auto* r : rows)
    if (r->config.split != "-") return r->config.split;
  return "";
}

std::string other_caption(const Axis& axis, int other_bits) {
  if (other_bits == 0) return fmt::format("{}s float", axis.weights ? "activation" : "weight");
  return fmt::format("{}s {} bit", axis.weights ? "activation" : "weight", other_bits);
}

LineChart accuracy_vs_bits(const SweepResult& result, const Axis& axis, int other_bits) {
  LineChart chart;
  chart.title = fmt::format("{} vs {} bits ({})", result.headline_metric, axis.noun(), other_caption(axis, other_bits));
  chart.x_label = fmt::format("{} bits", axis.noun());
  chart.y_label = y_label(result);
  chart.reference_y = shown(result, result.rows.front().headline);
  chart.reference_label = "float";
  auto rows = plotted_rows(result, axis, other_bits);
  const std::string split = first_split(rows);
  double max_ratio = 0;
  std::vector<std::string> clips;
  for (const auto* r : rows) {
    max_ratio = std::max(max_ratio, axis.ratio(r->config));
    if (std::find(clips.begin(), clips.end(), axis.clip(r->config)) == clips.end()) clips.push_back(axis.clip(r->config));
  }
  for (const auto& clip : clips)
    for (double ratio : {0.0, max_ratio}) {
      Series s;
      s.name = ratio == 0 ? clip + ", no OCS" : fmt::format("{} + OCS r={:g}", clip, ratio);
      s.dashed = ratio == 0;
      std::vector<std::pair<double, double>> points;
      for (const auto* r : rows)
        if (axis.clip(r->config) == clip && axis.ratio(r->config) == ratio && (ratio == 0 || r->config.split == split))
          points.emplace_back(axis.bits(r->config), shown(result, r->headline));
      std::sort(points.begin(), points.end());
      for (auto [x, y] : points) {
        s.x.push_back(x);
        s.y.push_back(y);
      }
      if (!s.x.empty()) chart.series.push_back(s);
      if (max_ratio == 0) break;
    }
  return chart;
}

LineChart accuracy_vs_ratio(const SweepResult& result, const Axis& axis, int other_bits) {
  LineChart chart;
  auto rows = plotted_rows(result, axis, other_bits);
  const std::string clip = axis.clip(rows.front()->config);
  const std::string split = first_split(rows);
  chart.title = fmt::format("{} vs {} OCS ratio ({} clipping, {} split, {})", result.headline_metric, axis.noun(),
                            clip, split.empty() ? "-" : split, other_caption(axis, other_bits));
  chart.x_label = axis.weights ? "OCS expand ratio r and the model's weight size overhead" : "activation OCS expand ratio";
  chart.y_label = y_label(result);
  chart.reference_y = shown(result, result.rows.front().headline);
  chart.reference_label = "float";
  std::set<int> bits;
  std::map<double, double> overhead;
  auto on_curve = [&](const SweepRow* r) {
    return axis.clip(r->config) == clip && (axis.ratio(r->config) == 0 || r->config.split == split);
  };
  for (const auto* r : rows)
    if (on_curve(r)) {
      bits.insert(axis.bits(r->config));
      overhead[axis.ratio(r->config)] = r->size_overhead_percent;
    }
  // Ratios are placed evenly (0, 0.01, 0.02 would crowd on a linear axis); labels give the value
  // and, for weights, the size overhead.
  std::map<double, double> position;
  for (auto [ratio, percent] : overhead) {
    double x = static_cast<double>(position.size());
    position[ratio] = x;
    chart.x_ticks.push_back(x);
    chart.x_tick_labels.push_back(axis.weights ? fmt::format("{:g}\n+{:.1f}%", ratio, percent) : fmt::format("{:g}", ratio));
  }
  for (auto it = bits.rbegin(); it != bits.rend(); ++it) {
    Series s;
    s.name = fmt::format("{}{}", axis.weights ? "W" : "A", *it);
    for (auto [ratio, unused] : overhead)
      for (const auto* r : rows)
        if (on_curve(r) && axis.bits(r->config) == *it && axis.ratio(r->config) == ratio) {
          s.x.push_back(position[ratio]);
          s.y.push_back(shown(result, r->headline));
        }
    chart.series.push_back(s);
  }
  return chart;
}

HistogramChart weight_histogram(const nlohmann::json& h) {
  HistogramChart chart;
  chart.title = fmt::format("weights of {} at {} bits: SQNR {:.1f} -> {:.1f} dB with OCS r={:g}",
                            h["layer"].get<std::string>(), h["bits"].get<int>(), h.value("sqnr_db_before", 0.0),
                            h.value("sqnr_db_after", 0.0), h["ocs_ratio"].get<double>());
  chart.x_label = "weight value";
  double range = h["range"].get<double>();
  chart.x_min = -range;
  chart.x_max = range;
  chart.names = {fmt::format("before, max|w| {:.3g}", h["max_abs_before"].get<double>()),
                 fmt::format("after OCS, max|w| {:.3g}", h["max_abs_after"].get<double>())};
  chart.counts = {h["before"].get<std::vector<int64_t>>(), h["after"].get<std::vector<int64_t>>()};
  return chart;
}

// A markdown table (as sweep_markdown writes it) to HTML.
std::string markdown_to_html(const std::string& markdown) {
  std::string out;
  std::istringstream in(markdown);
  std::string line;
  bool in_table = false, header = false;
  while (std::getline(in, line)) {
    if (line.rfind("|", 0) == 0) {
      if (line.rfind("|---", 0) == 0) continue;
      if (!in_table) {
        out += "<table>\n";
        in_table = header = true;
      }
      out += "<tr>";
      std::string cell;
      std::istringstream cells(line.substr(1));
      while (std::getline(cells, cell, '|')) {
        auto b = cell.find_first_not_of(' '), e = cell.find_last_not_of(' ');
        std::string text = b == std::string::npos ? "" : cell.substr(b, e - b + 1);
        out += fmt::format("<{0}>{1}</{0}>", header ? "th" : "td", xml_escape(text));
      }
      out += "</tr>\n";
      header = false;
    } else {
      if (in_table) out += "</table>\n";
      in_table = false;
      if (!line.empty()) out += "<p>" + xml_escape(line) + "</p>\n";
    }
  }
  if (in_table) out += "</table>\n";
  return out;
}

}  // namespace

std::map<std::string, std::string> sweep_plots(const SweepResult& result) {
  std::map<std::string, std::string> plots;
  Axis axis{bit_axis_is_weights(result)};
  std::set<int> others;
  for (const auto& row : result.rows)
    if (!row.is_float) others.insert(axis.other_bits(row.config));
  for (int other : others) {
    std::string suffix = others.size() > 1 ? fmt::format("_{}{}", axis.weights ? "a" : "w", other) : "";
    plots["accuracy_vs_bits" + suffix + ".svg"] = render_svg(accuracy_vs_bits(result, axis, other));
    plots["accuracy_vs_ratio" + suffix + ".svg"] = render_svg(accuracy_vs_ratio(result, axis, other));
  }
  if (result.histogram.is_object()) plots["weight_histogram.svg"] = render_svg(weight_histogram(result.histogram));
  return plots;
}

std::string sweep_html(const SweepResult& result, const std::string& markdown,
                       const std::map<std::string, std::string>& plots) {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>ocs sweep: {0}</title>\n"
      "<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse;margin:1em 0}}"
      "td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}</style></head><body>\n"
      "<h1>ocs sweep: {0}</h1>\n<p>{1} configurations, metric {2} ({3} is better).</p>\n",
      xml_escape(result.model), result.rows.size() - 1, xml_escape(result.headline_metric),
      result.higher_is_better ? "higher" : "lower");
  out += markdown_to_html(markdown);
  for (const auto& [name, svg] : plots) out += "<h2>" + xml_escape(name) + "</h2>\n" + svg;
  return out + "</body></html>\n";
}

}  // namespace ocs
