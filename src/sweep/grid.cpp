#include "sweep/grid.h"

#include "core/error.h"

#include <fmt/format.h>

#include <charconv>

namespace ocs {

QuantizeOptions SweepConfig::apply(QuantizeOptions base) const {
  base.weight_bits = weight_bits;
  base.activation_bits = activation_bits;
  base.ocs_ratio = ocs_ratio;
  base.weight_clip = weight_clip;
  if (split != "-") base.split = split;
  if (activation_clip != "-") base.activation_clip = activation_clip;
  base.act_ocs_ratio = act_ocs_ratio;
  return base;
}

std::string SweepConfig::label() const {
  std::string text = fmt::format("w{}a{} {} r={:g}", weight_bits, activation_bits, weight_clip, ocs_ratio);
  if (split != "-") text += " " + split;
  if (activation_bits > 0 && (activation_clip != "max" || act_ocs_ratio > 0))
    text += fmt::format(" a:{} ra={:g}", activation_clip, act_ocs_ratio);
  return text;
}

std::vector<SweepConfig> expand_grid(const SweepGrid& grid) {
  if (grid.weight_bits.empty() || grid.activation_bits.empty() || grid.ocs_ratios.empty() ||
      grid.weight_clips.empty() || grid.splits.empty() || grid.activation_clips.empty() ||
      grid.act_ocs_ratios.empty())
    user_error("every sweep axis needs at least one value (--wbits, --abits, --ocs-ratio, --wclip, --split, "
               "--aclip, --act-ocs-ratio)");
  std::vector<SweepConfig> configs;
  for (int abits : grid.activation_bits)
    for (const auto& aclip : grid.activation_clips)
      for (double act_ratio : grid.act_ocs_ratios)
        for (int wbits : grid.weight_bits)
          for (const auto& clip : grid.weight_clips)
            for (double ratio : grid.ocs_ratios)
              for (size_t s = 0; s < grid.splits.size(); ++s) {
                // Float activations have no clip method or activation split: one point for them.
                if (abits == 0 && (aclip != grid.activation_clips[0] || act_ratio != grid.act_ocs_ratios[0])) continue;
                const bool splits_something = ratio > 0.0 || (abits > 0 && act_ratio > 0.0);
                if (!splits_something && s > 0) continue;  // nothing is split: the mode is moot
                SweepConfig c;
                c.index = static_cast<int>(configs.size());
                c.weight_bits = wbits;
                c.activation_bits = abits;
                c.weight_clip = clip;
                c.ocs_ratio = ratio;
                c.split = splits_something ? grid.splits[s] : "-";
                c.activation_clip = abits > 0 ? aclip : "-";
                c.act_ocs_ratio = abits > 0 ? act_ratio : 0.0;
                configs.push_back(c);
              }
  return configs;
}

Shard parse_shard(const std::string& text) {
  Shard shard;
  auto slash = text.find('/');
  auto parse = [&](std::string_view part, int& out) {
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return ec == std::errc() && end == part.data() + part.size();
  };
  std::string_view view(text);
  if (slash == std::string::npos || !parse(view.substr(0, slash), shard.index) ||
      !parse(view.substr(slash + 1), shard.count) || shard.count < 1 || shard.index < 1 ||
      shard.index > shard.count)
    user_error("--shard '{}' must be i/n with 1 <= i <= n (e.g. 2/4)", text);
  return shard;
}

std::vector<SweepConfig> shard_configs(const std::vector<SweepConfig>& all, const Shard& shard) {
  std::vector<SweepConfig> mine;
  for (const auto& c : all)
    if (c.index % shard.count == shard.index - 1) mine.push_back(c);
  return mine;
}

}  // namespace ocs
