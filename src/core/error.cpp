#include "core/error.h"

namespace ocs {

void internal_error_at(const char* file, int line, const std::string& message) {
  throw InternalError(fmt::format("internal error at {}:{}: {}", file, line, message));
}

}  // namespace ocs
