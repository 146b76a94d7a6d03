// Small self-contained SVG charts (line charts and histograms) for sweep reports: no plotting
// library in Debian's C++ archive fits, and a browser opens the files directly or inlined in
// HTML. Text is escaped; numbers are formatted with 4 significant digits.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace ocs {

struct Series {
  std::string name;
  std::vector<double> x, y;  // same length; NaN y values leave a gap
  bool dashed = false;
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  std::vector<double> x_ticks;             // empty: the union of the series' x values
  std::vector<std::string> x_tick_labels;  // optional, same length as x_ticks
  double reference_y = NAN;                // horizontal dotted line (e.g. the float model)
  std::string reference_label;
};

struct HistogramChart {
  std::string title, x_label;
  double x_min = 0, x_max = 1;
  std::vector<std::string> names;              // one per histogram
  std::vector<std::vector<int64_t>> counts;    // equal bin counts, drawn over each other
  bool log_y = true;
};

std::string render_svg(const LineChart& chart, int width = 720, int height = 420);
std::string render_svg(const HistogramChart& chart, int width = 720, int height = 420);

// Escapes &, <, >, " for XML/HTML text and attributes.
std::string xml_escape(const std::string& text);

}  // namespace ocs
