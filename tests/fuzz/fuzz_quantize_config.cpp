// The JSON of `ocs quantize --config` as tools/ocs/cmd_quantize.cpp reads it: parse (a JSON
// error becomes a UserError there), merge_json, validate.
#include "fuzz_util.h"
#include "recipe/quantize_options.h"

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json config = nlohmann::json::parse(data, data + size, nullptr, false);
  if (config.is_discarded()) return 0;  // not JSON: the CLI refuses it before merge_json
  ocs::fuzz::expect_user_errors_only([&] {
    ocs::QuantizeOptions options;
    options.merge_json(config, "fuzz.json");
    options.validate();
    options.to_json().dump();
  });
  return 0;
}
