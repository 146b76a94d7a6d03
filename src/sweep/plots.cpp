#include "sweep/plots.h"

#include "report/svg_chart.h"
#include "sweep/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

namespace ocs {
namespace {

double shown(const SweepResult& result, double v) {
  return result.headline_metric == "top1" || result.headline_metric == "line_accuracy" ? 100 * v : v;
}

std::string y_label(const SweepResult& result) {
  if (result.headline_metric == "top1") return "top-1 accuracy (%)";
  if (result.headline_metric == "line_accuracy") return "exact lines (%)";
  if (result.headline_metric == "fidelity") return "output SQNR vs float (dB)";
  return result.headline_metric;
}

std::vector<const SweepRow*> quantized_rows(const SweepResult& result, int abits) {
  std::vector<const SweepRow*> rows;
  for (const auto& row : result.rows)
    if (!row.is_float && row.config.activation_bits == abits) rows.push_back(&row);
  return rows;
}

LineChart accuracy_vs_bits(const SweepResult& result, int abits) {
  LineChart chart;
  chart.title = fmt::format("{} vs weight bits (activations {} bit)", result.headline_metric, abits);
  chart.x_label = "weight bits";
  chart.y_label = y_label(result);
  chart.reference_y = shown(result, result.rows.front().headline);
  chart.reference_label = "float";
  auto rows = quantized_rows(result, abits);
  double max_ratio = 0;
  std::vector<std::string> clips;
  std::string split;
  for (const auto* r : rows) {
    max_ratio = std::max(max_ratio, r->config.ocs_ratio);
    if (std::find(clips.begin(), clips.end(), r->config.weight_clip) == clips.end()) clips.push_back(r->config.weight_clip);
    if (split.empty() && r->config.split != "-") split = r->config.split;
  }
  for (const auto& clip : clips)
    for (double ratio : {0.0, max_ratio}) {
      Series s;
      s.name = ratio == 0 ? clip + ", no OCS" : fmt::format("{} + OCS r={:g}", clip, ratio);
      s.dashed = ratio == 0;
      std::vector<std::pair<double, double>> points;
      for (const auto* r : rows)
        if (r->config.weight_clip == clip && r->config.ocs_ratio == ratio && (ratio == 0 || r->config.split == split))
          points.emplace_back(r->config.weight_bits, shown(result, r->headline));
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

LineChart accuracy_vs_ratio(const SweepResult& result, int abits) {
  LineChart chart;
  auto rows = quantized_rows(result, abits);
  const std::string clip = rows.front()->config.weight_clip;
  std::string split;
  for (const auto* r : rows)
    if (split.empty() && r->config.split != "-") split = r->config.split;
  chart.title = fmt::format("{} vs OCS expand ratio ({} clipping, {} split, activations {} bit)",
                            result.headline_metric, clip, split.empty() ? "-" : split, abits);
  chart.x_label = "OCS expand ratio r (weight size overhead)";
  chart.y_label = y_label(result);
  chart.reference_y = shown(result, result.rows.front().headline);
  chart.reference_label = "float";
  std::set<int> bits;
  std::map<double, double> overhead;
  for (const auto* r : rows)
    if (r->config.weight_clip == clip && (r->config.ocs_ratio == 0 || r->config.split == split)) {
      bits.insert(r->config.weight_bits);
      overhead[r->config.ocs_ratio] = r->size_overhead_percent;
    }
  for (auto it = bits.rbegin(); it != bits.rend(); ++it) {
    Series s;
    s.name = fmt::format("W{}", *it);
    for (auto [ratio, unused] : overhead)
      for (const auto* r : rows)
        if (r->config.weight_clip == clip && r->config.weight_bits == *it && r->config.ocs_ratio == ratio &&
            (ratio == 0 || r->config.split == split)) {
          s.x.push_back(ratio);
          s.y.push_back(shown(result, r->headline));
        }
    chart.series.push_back(s);
  }
  for (auto [ratio, percent] : overhead) {
    chart.x_ticks.push_back(ratio);
    chart.x_tick_labels.push_back(fmt::format("{:g} (+{:.1f}%)", ratio, percent));
  }
  return chart;
}

HistogramChart weight_histogram(const nlohmann::json& h) {
  HistogramChart chart;
  chart.title = fmt::format("weights of {} ({} bit grid: SQNR {:.1f} dB -> {:.1f} dB with OCS r={:g})",
                            h["layer"].get<std::string>(), h["bits"].get<int>(), h.value("sqnr_db_before", 0.0),
                            h.value("sqnr_db_after", 0.0), h["ocs_ratio"].get<double>());
  chart.x_label = "weight value";
  double range = h["range"].get<double>();
  chart.x_min = -range;
  chart.x_max = range;
  chart.names = {fmt::format("before OCS (max |w| {:.3g})", h["max_abs_before"].get<double>()),
                 fmt::format("after OCS (max |w| {:.3g})", h["max_abs_after"].get<double>())};
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
  std::set<int> abits;
  for (const auto& row : result.rows)
    if (!row.is_float) abits.insert(row.config.activation_bits);
  for (int a : abits) {
    std::string suffix = abits.size() > 1 ? fmt::format("_a{}", a) : "";
    plots["accuracy_vs_bits" + suffix + ".svg"] = render_svg(accuracy_vs_bits(result, a));
    plots["accuracy_vs_ratio" + suffix + ".svg"] = render_svg(accuracy_vs_ratio(result, a));
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
