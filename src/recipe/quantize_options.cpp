#include "recipe/quantize_options.h"

#include "calib/clip_method.h"
#include "core/error.h"
#include "core/option_names.h"
#include "data/fixed_inputs.h"

#include <nlohmann/json.hpp>

#include <cmath>

namespace ocs {

namespace {

// One parser for clip specs: the calibration library's.
void check_clip(const std::string& option, const std::string& value) {
  try {
    make_clip_method(value);
  } catch (const UserError& e) {
    user_error("{}: {}", option, e.what());
  }
}

}  // namespace

void QuantizeOptions::validate() const {
  const auto o = [](std::string_view flag) { return option_name(flag); };  // as the caller spells it
  if (weight_bits < 2 || weight_bits > 16)
    user_error("{} {} is out of range; weights take 2 to 16 bits", o("--wbits"), weight_bits);
  if (activation_bits != 0 && (activation_bits < 2 || activation_bits > 16))
    user_error("{} {} is out of range; activations take 2 to 16 bits (0 keeps them float)", o("--abits"),
               activation_bits);
  if (!(ocs_ratio >= 0 && std::isfinite(ocs_ratio)) || ocs_ratio > 1)
    user_error("{} {} is out of range; use 0 (off) to 1 (the paper uses 0.01 to 0.1)", o("--ocs-ratio"), ocs_ratio);
  if (!(act_ocs_ratio >= 0 && std::isfinite(act_ocs_ratio)) || act_ocs_ratio > 1)
    user_error("{} {} is out of range; use 0 (off) to 1", o("--act-ocs-ratio"), act_ocs_ratio);
  if (std::isnan(max_overhead) || (max_overhead >= 0 && !std::isfinite(max_overhead)))
    user_error("{} {} is not a percentage; give e.g. 2 for at most +2% weights", o("--max-overhead"), max_overhead);
  if (max_overhead >= 0 && ocs_ratio == 0)
    user_error("{} caps what weight OCS adds, but {} is 0 (no OCS); give a ratio too", o("--max-overhead"),
               o("--ocs-ratio"));
  if (split != "qa" && split != "naive") user_error("{} '{}' is unknown; use qa or naive", o("--split"), split);
  check_clip(o("--wclip"), weight_clip);
  check_clip(o("--aclip"), activation_clip);
  if (format != "qdq" && format != "qdq-inputs" && format != "split-float")
    user_error("{} '{}' is unknown; use qdq (deployable), qdq-inputs (the paper's layout) or split-float", o("--format"),
               format);
  if (signed_activations && unsigned_activations)
    user_error("{} and {} contradict each other; give one", o("--signed-activations"), o("--unsigned-activations"));
  if (ocs_clip_on != "split" && ocs_clip_on != "original")
    user_error("{} '{}' is unknown; use split (the threshold of the split weight) or original (of the "
               "unsplit weight, the reference's order)", o("--ocs-clip-on"), ocs_clip_on);
  if (ocs_clip_on == "original" && per_channel)
    user_error("{} original is the reference's per-tensor order; it cannot be combined with {}", o("--ocs-clip-on"),
               o("--per-channel"));
  if (calib_samples < 1) user_error("{} {} must be at least 1", o("--calib-samples"), calib_samples);
  parse_fixed_values(fix_input, o("--fix-input"));
  parse_fixed_shapes(fix_shape, o("--fix-shape"));
  if (threads < 0) user_error("{} {} must be 0 (all cores) or more", o("--threads"), threads);
}

OcsSplitMode QuantizeOptions::split_mode() const {
  return split == "naive" ? OcsSplitMode::Naive : OcsSplitMode::QuantAware;
}

OutputFormat QuantizeOptions::output_format() const {
  if (format == "split-float") return OutputFormat::SplitFloat;
  return format == "qdq-inputs" ? OutputFormat::QdqInputs : OutputFormat::Qdq;
}

bool QuantizeOptions::writes_qdq() const { return output_format() != OutputFormat::SplitFloat; }

bool QuantizeOptions::unsigned_grid() const {
  return output_format() == OutputFormat::Qdq ? !signed_activations : unsigned_activations;
}

nlohmann::json QuantizeOptions::to_json() const {
  nlohmann::json json = {{"calib", calib}, {"calib_samples", calib_samples}, {"wbits", weight_bits},
          {"abits", activation_bits}, {"ocs_ratio", ocs_ratio}, {"act_ocs_ratio", act_ocs_ratio},
          {"ocs_channel_multiple", ocs_channel_multiple},
          {"split", split}, {"wclip", weight_clip}, {"ocs_clip_on", ocs_clip_on}, {"aclip", activation_clip},
          {"per_channel", per_channel}, {"unsigned_activations", unsigned_activations},
          {"signed_activations", signed_activations},
          {"keep_first_last_float", keep_first_last_float}, {"exclude", exclude},
          {"fold_batchnorm", fold_batchnorm}, {"fix_input", fix_input}, {"fix_shape", fix_shape}, {"unroll_recurrent", unroll_recurrent}, {"format", format}, {"report", report},
          {"force", force}, {"threads", threads}};
  if (max_overhead >= 0) json["max_overhead"] = max_overhead;
  return json;
}

void QuantizeOptions::merge_json(const nlohmann::json& config, const std::string& origin) {
  if (!config.is_object()) user_error("config '{}' must hold a JSON object", origin);
  for (const auto& [key, value] : config.items()) {
    try {
      if (key == "calib") calib = value.get<std::vector<std::string>>();
      else if (key == "calib_samples") calib_samples = value.get<int>();
      else if (key == "wbits") weight_bits = value.get<int>();
      else if (key == "abits") activation_bits = value.get<int>();
      else if (key == "ocs_ratio") ocs_ratio = value.get<double>();
      else if (key == "act_ocs_ratio") act_ocs_ratio = value.get<double>();
      else if (key == "ocs_channel_multiple") ocs_channel_multiple = value.get<int64_t>();
      else if (key == "max_overhead") max_overhead = value.get<double>();
      else if (key == "split") split = value.get<std::string>();
      else if (key == "wclip") weight_clip = value.get<std::string>();
      else if (key == "aclip") activation_clip = value.get<std::string>();
      else if (key == "ocs_clip_on") ocs_clip_on = value.get<std::string>();
      else if (key == "per_channel") per_channel = value.get<bool>();
      else if (key == "unsigned_activations") unsigned_activations = value.get<bool>();
      else if (key == "signed_activations") signed_activations = value.get<bool>();
      else if (key == "keep_first_last_float") keep_first_last_float = value.get<bool>();
      else if (key == "exclude") exclude = value.get<std::vector<std::string>>();
      else if (key == "fold_batchnorm") fold_batchnorm = value.get<bool>();
      else if (key == "fix_input") fix_input = value.get<std::vector<std::string>>();
      else if (key == "fix_shape") fix_shape = value.get<std::vector<std::string>>();
      else if (key == "unroll_recurrent") unroll_recurrent = value.get<bool>();
      else if (key == "format") format = value.get<std::string>();
      else if (key == "report") report = value.get<std::string>();
      else if (key == "force") force = value.get<bool>();
      else if (key == "threads") threads = value.get<int>();
      else user_error("config '{}': unknown key '{}' (keys mirror the long flags, with _ for -)", origin, key);
    } catch (const nlohmann::json::exception&) {
      user_error("config '{}': key '{}' has the wrong type ({})", origin, key, value.type_name());
    }
  }
}

}  // namespace ocs
