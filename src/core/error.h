// Two kinds of error, never mixed (docs/ARCHITECTURE.md):
//  - UserError: the model, an option or the data is wrong. The message names the node, tensor
//    or file and says what to do. The CLI prints it and exits with code 2.
//  - InternalError: a bug in ocs. Carries file and line. The CLI exits with code 3.
#pragma once

#include "ocs/errors.h"  // UserError, InternalError: the classes are part of the installed API

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace ocs {

template <typename... Args>
[[noreturn]] void user_error(fmt::format_string<Args...> format, Args&&... args) {
  throw UserError(fmt::format(format, std::forward<Args>(args)...));
}

[[noreturn]] void internal_error_at(const char* file, int line, const std::string& message);

}  // namespace ocs

// Asserts an invariant that validation at the boundary already guarantees. Failing is a bug.
#define OCS_CHECK(cond, ...)                                                         \
  do {                                                                               \
    if (!(cond))                                                                     \
      ::ocs::internal_error_at(__FILE__, __LINE__,                                   \
                               std::string("check failed: " #cond " ") +             \
                                   ::fmt::format(__VA_ARGS__));                      \
  } while (0)
