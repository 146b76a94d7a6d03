// How a library message names an option: as the command line spells it (`--wbits`, the default)
// or as the C++ and Python APIs do (`wbits`, the keys of `--config` files and the keyword
// arguments of the Python module), so that a message never points a library user at a flag they
// cannot pass. The APIs (src/api) switch to their spelling for the calls they serve; the switch
// is per thread and scoped, like core/progress.h's sink.
#pragma once

#include <string>
#include <string_view>

namespace ocs {

enum class OptionSpelling { CommandLine, Api };

class ScopedOptionSpelling {
 public:
  explicit ScopedOptionSpelling(OptionSpelling spelling);
  ~ScopedOptionSpelling();
  ScopedOptionSpelling(const ScopedOptionSpelling&) = delete;
  ScopedOptionSpelling& operator=(const ScopedOptionSpelling&) = delete;

 private:
  OptionSpelling previous_;
};

// `flag` as the command line spells it ("--ocs-ratio"); under the API spelling `api` when given,
// else the flag without its dashes and with '_' for '-' ("ocs_ratio").
std::string option_name(std::string_view flag, std::string_view api = {});

}  // namespace ocs
