// The report of `ocs quantize`, written once from the finished plan (recipe/layer_plan.h): the
// options, the model's totals, one row per weighted layer and the steps with their times. The
// keys are documented in docs/QUANTIZE.md.
#pragma once

#include "recipe/layer_plan.h"
#include "recipe/quantize_options.h"

#include <nlohmann/json.hpp>

#include <string>

namespace ocs {

nlohmann::json quantize_report_json(const QuantizePlan& plan, const QuantizeOptions& options);

// A readable table of the report, for the terminal.
std::string quantize_report_table(const nlohmann::json& report);

}  // namespace ocs
