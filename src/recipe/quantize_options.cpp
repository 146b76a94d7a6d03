#include "recipe/quantize_options.h"

#include "calib/clip_method.h"
#include "core/error.h"
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
  if (weight_bits < 2 || weight_bits > 16)
    user_error("--wbits {} is out of range; weights take 2 to 16 bits", weight_bits);
  if (activation_bits != 0 && (activation_bits < 2 || activation_bits > 16))
    user_error("--abits {} is out of range; activations take 2 to 16 bits (0 keeps them float)",
               activation_bits);
  if (!(ocs_ratio >= 0 && std::isfinite(ocs_ratio)) || ocs_ratio > 1)
    user_error("--ocs-ratio {} is out of range; use 0 (off) to 1 (the paper uses 0.01 to 0.1)", ocs_ratio);
  if (!(act_ocs_ratio >= 0 && std::isfinite(act_ocs_ratio)) || act_ocs_ratio > 1)
    user_error("--act-ocs-ratio {} is out of range; use 0 (off) to 1", act_ocs_ratio);
  if (std::isnan(max_overhead) || (max_overhead >= 0 && !std::isfinite(max_overhead)))
    user_error("--max-overhead {} is not a percentage; give e.g. 2 for at most +2% weights", max_overhead);
  if (max_overhead >= 0 && ocs_ratio == 0)
    user_error("--max-overhead caps what weight OCS adds, but --ocs-ratio is 0 (no OCS); give a ratio too");
  if (split != "qa" && split != "naive") user_error("--split '{}' is unknown; use qa or naive", split);
  check_clip("--wclip", weight_clip);
  check_clip("--aclip", activation_clip);
  if (format != "qdq" && format != "qdq-inputs" && format != "split-float")
    user_error("--format '{}' is unknown; use qdq (deployable), qdq-inputs (the paper's layout) or split-float", format);
  if (signed_activations && unsigned_activations)
    user_error("--signed-activations and --unsigned-activations contradict each other; give one");
  if (ocs_clip_on != "split" && ocs_clip_on != "original")
    user_error("--ocs-clip-on '{}' is unknown; use split (the threshold of the split weight) or original (of the "
               "unsplit weight, the reference's order)", ocs_clip_on);
  if (ocs_clip_on == "original" && per_channel)
    user_error("--ocs-clip-on original is the reference's per-tensor order; it cannot be combined with --per-channel");
  if (calib_samples < 1) user_error("--calib-samples {} must be at least 1", calib_samples);
  parse_fixed_values(fix_input, "--fix-input");
  parse_fixed_shapes(fix_shape, "--fix-shape");
  if (threads < 0) user_error("--threads {} must be 0 (all cores) or more", threads);
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
