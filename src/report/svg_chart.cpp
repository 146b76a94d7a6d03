#include "report/svg_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace ocs {
namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr int kLeft = 70, kRight = 200, kTop = 40, kBottom = 62;

std::string number(double v) { return fmt::format("{:.4g}", v); }

// "Nice" tick positions covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 6) {
  if (!(hi > lo)) return {lo};
  double raw = (hi - lo) / target;
  double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

struct Frame {
  int width, height;
  double x0, x1, y0, y1;
  double px(double x) const { return kLeft + (x - x0) / (x1 - x0) * (width - kLeft - kRight); }
  double py(double y) const { return height - kBottom - (y - y0) / (y1 - y0) * (height - kTop - kBottom); }
};

std::string header(int width, int height, const std::string& title) {
  return fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"22\" font-size=\"14\">{3}</text>\n",
      width, height, 10, xml_escape(title));
}

std::string axes(const Frame& f, const std::vector<double>& xt, const std::vector<std::string>& xl,
                 const std::vector<double>& yt, const std::string& x_label, const std::string& y_label) {
  std::string out;
  for (size_t i = 0; i < xt.size(); ++i) {
    double x = f.px(xt[i]);
    out += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#eee\"/>\n", x, kTop, f.height - kBottom);
    // A label may hold several lines separated by '\n'.
    std::string label = i < xl.size() ? xl[i] : number(xt[i]);
    std::string lines;
    size_t start = 0, line = 0;
    while (start <= label.size()) {
      size_t end = label.find('\n', start);
      if (end == std::string::npos) end = label.size();
      lines += fmt::format("<tspan x=\"{:.1f}\" dy=\"{}\">{}</tspan>", x, line++ ? 13 : 0,
                           xml_escape(label.substr(start, end - start)));
      start = end + 1;
    }
    out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x, f.height - kBottom + 16, lines);
  }
  for (double t : yt) {
    double y = f.py(t);
    out += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#eee\"/>\n", kLeft, y, f.width - kRight, y);
    out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", kLeft - 6, y + 4, number(t));
  }
  out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", kLeft, kTop,
                     f.width - kLeft - kRight, f.height - kTop - kBottom);
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (f.width - kRight + kLeft) / 2,
                     f.height - 12, xml_escape(x_label));
  out += fmt::format("<text transform=\"translate(16,{}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                     (f.height - kBottom + kTop) / 2, xml_escape(y_label));
  return out;
}

std::string legend_entry(int index, int width, const std::string& name, const std::string& color, bool dashed) {
  int y = kTop + 10 + index * 18;
  int x = width - kRight + 12;
  return fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"{}/>\n"
                     "<text x=\"{}\" y=\"{}\">{}</text>\n",
                     x, y, x + 22, y, color, dashed ? " stroke-dasharray=\"5,3\"" : "", x + 28, y + 4, xml_escape(name));
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string render_svg(const LineChart& chart, int width, int height) {
  std::set<double> xs;
  double y_lo = INFINITY, y_hi = -INFINITY;
  for (const auto& s : chart.series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      xs.insert(s.x[i]);
      if (std::isfinite(s.y[i])) {
        y_lo = std::min(y_lo, s.y[i]);
        y_hi = std::max(y_hi, s.y[i]);
      }
    }
  if (std::isfinite(chart.reference_y)) {
    y_lo = std::min(y_lo, chart.reference_y);
    y_hi = std::max(y_hi, chart.reference_y);
  }
  std::vector<double> x_ticks = chart.x_ticks.empty() ? std::vector<double>(xs.begin(), xs.end()) : chart.x_ticks;
  if (x_ticks.empty() || !std::isfinite(y_lo)) return header(width, height, chart.title + " (no data)") + "</svg>\n";
  double x_lo = *std::min_element(x_ticks.begin(), x_ticks.end());
  double x_hi = *std::max_element(x_ticks.begin(), x_ticks.end());
  if (x_hi == x_lo) x_hi = x_lo + 1;
  double pad = (y_hi - y_lo) * 0.05 + (y_hi == y_lo ? 1e-3 + std::abs(y_hi) * 0.01 : 0);
  Frame f{width, height, x_lo - (x_hi - x_lo) * 0.04, x_hi + (x_hi - x_lo) * 0.04, y_lo - pad, y_hi + pad};
  auto yt = nice_ticks(f.y0, f.y1);
  std::string out = header(width, height, chart.title) + axes(f, x_ticks, chart.x_tick_labels, yt, chart.x_label, chart.y_label);
  int legend = 0;
  if (std::isfinite(chart.reference_y)) {
    out += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#000\" stroke-dasharray=\"2,3\"/>\n",
                       kLeft, f.py(chart.reference_y), width - kRight, f.py(chart.reference_y));
    out += legend_entry(legend++, width, chart.reference_label, "#000", true);
  }
  for (size_t s = 0; s < chart.series.size(); ++s) {
    const auto& series = chart.series[s];
    std::string color = kPalette[s % std::size(kPalette)];
    std::string path;
    bool pen_down = false;
    for (size_t i = 0; i < series.x.size(); ++i) {
      if (!std::isfinite(series.y[i])) {
        pen_down = false;
        continue;
      }
      path += fmt::format("{}{:.1f},{:.1f} ", pen_down ? "L" : "M", f.px(series.x[i]), f.py(series.y[i]));
      pen_down = true;
      out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>{}: {} = {}</title></circle>\n",
                         f.px(series.x[i]), f.py(series.y[i]), color, xml_escape(series.name), number(series.x[i]),
                         number(series.y[i]));
    }
    out += fmt::format("<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n", path, color,
                       series.dashed ? " stroke-dasharray=\"5,3\"" : "");
    out += legend_entry(legend++, width, series.name, color, series.dashed);
  }
  return out + "</svg>\n";
}

std::string render_svg(const HistogramChart& chart, int width, int height) {
  int64_t peak = 1;
  size_t bins = 0;
  for (const auto& c : chart.counts) {
    bins = std::max(bins, c.size());
    for (int64_t v : c) peak = std::max(peak, v);
  }
  if (bins == 0) return header(width, height, chart.title + " (no data)") + "</svg>\n";
  auto scale = [&](double v) { return chart.log_y ? std::log10(1.0 + v) : v; };
  Frame f{width, height, chart.x_min, chart.x_max, 0.0, scale(static_cast<double>(peak)) * 1.05};
  std::vector<double> yt;
  std::vector<std::string> unused;
  std::string out = header(width, height, chart.title);
  if (chart.log_y) {
    std::string grid;
    for (double v = 1; v <= peak; v *= 10) {
      double y = f.py(scale(v));
      grid += fmt::format("<line x1=\"{}\" y1=\"{:.1f}\" x2=\"{}\" y2=\"{:.1f}\" stroke=\"#eee\"/>\n"
                          "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n",
                          kLeft, y, width - kRight, y, kLeft - 6, y + 4, number(v));
    }
    out += grid + axes(f, nice_ticks(chart.x_min, chart.x_max), unused, {}, chart.x_label, "count (log scale)");
  } else {
    out += axes(f, nice_ticks(chart.x_min, chart.x_max), unused, nice_ticks(0, f.y1), chart.x_label, "count");
  }
  const double bin_width = (chart.x_max - chart.x_min) / static_cast<double>(bins);
  for (size_t h = 0; h < chart.counts.size(); ++h) {
    std::string color = kPalette[h % std::size(kPalette)];
    for (size_t b = 0; b < chart.counts[h].size(); ++b) {
      int64_t v = chart.counts[h][b];
      if (v == 0) continue;
      double x0 = f.px(chart.x_min + static_cast<double>(b) * bin_width);
      double x1 = f.px(chart.x_min + static_cast<double>(b + 1) * bin_width);
      double y = f.py(scale(static_cast<double>(v)));
      out += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\" "
                         "fill-opacity=\"0.45\" stroke=\"{}\"><title>{}: {}</title></rect>\n",
                         x0, y, std::max(x1 - x0, 0.5), f.py(0) - y, color, color, xml_escape(chart.names[h]), v);
    }
    out += legend_entry(static_cast<int>(h), width, chart.names[h], color, false);
  }
  return out + "</svg>\n";
}

}  // namespace ocs
