#include "sweep/table.h"

#include "core/error.h"
#include "io/atomic_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace ocs {
namespace {

const std::vector<std::string> kFixedColumns = {
    "index", "model", "headline_metric", "wbits", "abits", "wclip", "ocs_ratio", "split", "aclip", "act_ocs_ratio", "headline",
    "size_overhead_percent", "channels_split", "mean_weight_sqnr_db", "quantize_s", "eval_s"};

std::vector<std::string> split_line(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream in(line);
  std::string field;
  while (std::getline(in, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

}  // namespace

bool is_fraction_metric(const std::string& name) { return name == "top1" || name == "line_accuracy" || name == "cer"; }

std::string format_headline(const SweepResult& result, double value) {
  if (is_fraction_metric(result.headline_metric)) return fmt::format("{:.2f}", 100 * value);
  return fmt::format("{:.4g}", value);
}

std::string sweep_csv(const SweepResult& result) {
  std::set<std::string> metric_keys;
  for (const auto& row : result.rows)
    for (const auto& [key, value] : row.metrics.items()) metric_keys.insert(key);
  std::string out;
  for (const auto& c : kFixedColumns) out += c + ",";
  for (const auto& k : metric_keys) out += k + ",";
  out.back() = '\n';
  for (const auto& row : result.rows) {
    const auto& c = row.config;
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{:.9g},{:.6g},{},{:.6g},{:.4g},{:.4g}", c.index,
                       result.model, result.headline_metric, c.weight_bits, c.activation_bits,
                       row.is_float ? "float" : c.weight_clip, c.ocs_ratio, c.split, c.activation_clip,
                       c.act_ocs_ratio, row.headline,
                       row.size_overhead_percent, row.channels_split, row.mean_weight_sqnr_db,
                       row.quantize_seconds, row.eval_seconds);
    for (const auto& k : metric_keys)
      out += row.metrics.contains(k) ? fmt::format(",{:.9g}", row.metrics[k].get<double>()) : std::string(",");
    out += "\n";
  }
  return out;
}

SweepResult read_sweep_csvs(const std::vector<std::filesystem::path>& paths) {
  SweepResult result;
  std::map<int, SweepRow> rows;
  bool have_float = false;
  for (const auto& path : paths) {
    std::ifstream in(path);
    if (!in) user_error("cannot read sweep results '{}'", path.string());
    std::string line;
    if (!std::getline(in, line)) user_error("'{}' is empty; expected a CSV written by ocs sweep", path.string());
    auto header = split_line(line);
    if (header.size() < kFixedColumns.size() || !std::equal(kFixedColumns.begin(), kFixedColumns.end(), header.begin()))
      user_error("'{}' is not a CSV written by ocs sweep (its header differs)", path.string());
    int line_number = 1;
    while (std::getline(in, line)) {
      ++line_number;
      if (line.empty()) continue;
      auto f = split_line(line);
      if (f.size() != header.size())
        user_error("{}:{}: {} fields, the header has {}", path.string(), line_number, f.size(), header.size());
      try {
        SweepRow row;
        row.config.index = std::stoi(f[0]);
        if (result.model.empty()) {
          result.model = f[1];
          result.headline_metric = f[2];
        } else if (f[1] != result.model || f[2] != result.headline_metric) {
          user_error("{}:{}: results of '{}' ({}) cannot be merged with '{}' ({})", path.string(), line_number, f[1],
                     f[2], result.model, result.headline_metric);
        }
        row.config.weight_bits = std::stoi(f[3]);
        row.config.activation_bits = std::stoi(f[4]);
        row.is_float = f[5] == "float";
        row.config.weight_clip = row.is_float ? "-" : f[5];
        row.config.ocs_ratio = std::stod(f[6]);
        row.config.split = f[7];
        row.config.activation_clip = f[8];
        row.config.act_ocs_ratio = std::stod(f[9]);
        row.headline = std::stod(f[10]);
        row.size_overhead_percent = std::stod(f[11]);
        row.channels_split = std::stoll(f[12]);
        row.mean_weight_sqnr_db = std::stod(f[13]);
        row.quantize_seconds = std::stod(f[14]);
        row.eval_seconds = std::stod(f[15]);
        row.metrics = nlohmann::json::object();
        for (size_t i = kFixedColumns.size(); i < header.size(); ++i)
          if (!f[i].empty()) row.metrics[header[i]] = std::stod(f[i]);
        if (row.is_float) {
          if (!have_float) result.rows.insert(result.rows.begin(), row);
          have_float = true;
        } else if (!rows.emplace(row.config.index, row).second) {
          user_error("{}:{}: configuration {} appears in two files (overlapping shards?)", path.string(),
                     line_number, row.config.index);
        }
      } catch (const std::logic_error&) {
        user_error("{}:{}: a number field does not parse", path.string(), line_number);
      }
    }
  }
  if (!have_float) user_error("no float row in the sweep results; were they written by ocs sweep?");
  for (auto& [index, row] : rows) result.rows.push_back(row);
  result.higher_is_better = result.headline_metric != "perplexity" && result.headline_metric != "cer";
  return result;
}

std::string sweep_markdown(const SweepResult& result) {
  std::string out;
  const SweepRow& float_row = result.rows.front();
  const bool by_weight_bits = bit_axis_is_weights(result);
  // Tables are split by the other bit width; columns are the varying one.
  std::set<int> table_bits, column_set;
  for (const auto& row : result.rows)
    if (!row.is_float) {
      table_bits.insert(by_weight_bits ? row.config.activation_bits : row.config.weight_bits);
      column_set.insert(by_weight_bits ? row.config.weight_bits : row.config.activation_bits);
    }
  std::vector<int> columns(column_set.rbegin(), column_set.rend());
  const std::string unit = is_fraction_metric(result.headline_metric) ? " (%)" : "";
  const char* prefix = by_weight_bits ? "W" : "A";
  for (int bits : table_bits) {
    out += fmt::format("{}{}, {} {}; float model: {}\n\n", result.headline_metric, unit,
                       by_weight_bits ? "activations" : "weights",
                       bits == 0 ? std::string("float") : fmt::format("{} bit", bits),
                       format_headline(result, float_row.headline));
    out += "| weight clip | OCS r | act clip | act OCS r | split | size +% |";
    for (int b : columns) out += fmt::format(" {}{} |", prefix, b);
    out += "\n|---|---|---|---|---|---|";
    for (size_t i = 0; i < columns.size(); ++i) out += "---|";
    out += "\n";
    // One line per method, in the order the grid produced them.
    using Key = std::tuple<std::string, double, std::string, double, std::string>;
    std::vector<Key> keys;
    std::map<Key, std::map<int, const SweepRow*>> cells;
    for (const auto& row : result.rows) {
      if (row.is_float) continue;
      const auto& c = row.config;
      if ((by_weight_bits ? c.activation_bits : c.weight_bits) != bits) continue;
      Key key{c.weight_clip, c.ocs_ratio, c.activation_clip, c.act_ocs_ratio, c.split};
      if (!cells.count(key)) keys.push_back(key);
      cells[key][by_weight_bits ? c.weight_bits : c.activation_bits] = &row;
    }
    // The accuracy table, then (along weight bits) the mean weight SQNR of the quantized
    // layers, which shows what OCS and clipping do to the weights themselves.
    for (bool sqnr : {false, true}) {
      if (sqnr && !by_weight_bits) break;
      if (sqnr) {
        out += "\nMean weight SQNR of the quantized layers (dB), same rows:\n\n";
        out += "| weight clip | OCS r | act clip | act OCS r | split | size +% |";
        for (int b : columns) out += fmt::format(" {}{} |", prefix, b);
        out += "\n|---|---|---|---|---|---|";
        for (size_t i = 0; i < columns.size(); ++i) out += "---|";
        out += "\n";
      }
      for (const auto& key : keys) {
        const auto& by_bits = cells[key];
        double overhead = by_bits.begin()->second->size_overhead_percent;
        out += fmt::format("| {} | {:g} | {} | {:g} | {} | {:.2f} |", std::get<0>(key), std::get<1>(key),
                           std::get<2>(key), std::get<3>(key), std::get<4>(key), overhead);
        for (int b : columns) {
          auto it = by_bits.find(b);
          if (it == by_bits.end()) out += " |";
          else if (sqnr) out += fmt::format(" {:.2f} |", it->second->mean_weight_sqnr_db);
          else out += fmt::format(" {} |", format_headline(result, it->second->headline));
        }
        out += "\n";
      }
    }
    out += "\n";
  }
  return out;
}

bool bit_axis_is_weights(const SweepResult& result) {
  std::set<int> weights, activations;
  for (const auto& row : result.rows)
    if (!row.is_float) {
      weights.insert(row.config.weight_bits);
      activations.insert(row.config.activation_bits);
    }
  return weights.size() > 1 || activations.size() <= 1;
}

}  // namespace ocs
