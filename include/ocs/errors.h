// The two kinds of error the ocs library throws (docs/ARCHITECTURE.md, "Errors"); part of the
// installed API, and the very classes the library's code throws (src/core/error.h includes this).
//  - UserError: the model, an option or the data is wrong; the message names the node, tensor
//    or file and says what to do.
//  - InternalError: a bug in ocs; the message carries the source file and line.
#pragma once

#include <stdexcept>
#include <string>

namespace ocs {

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
};

class InternalError : public std::logic_error {
 public:
  explicit InternalError(const std::string& message) : std::logic_error(message) {}
};

}  // namespace ocs
