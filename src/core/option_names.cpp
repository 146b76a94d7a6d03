#include "core/option_names.h"

#include <algorithm>

namespace ocs {

namespace {
thread_local OptionSpelling current = OptionSpelling::CommandLine;
}  // namespace

ScopedOptionSpelling::ScopedOptionSpelling(OptionSpelling spelling) : previous_(current) { current = spelling; }

ScopedOptionSpelling::~ScopedOptionSpelling() { current = previous_; }

std::string option_name(std::string_view flag, std::string_view api) {
  if (current == OptionSpelling::CommandLine) return std::string(flag);
  if (!api.empty()) return std::string(api);
  std::string name(flag.substr(flag.find_first_not_of('-')));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

}  // namespace ocs
