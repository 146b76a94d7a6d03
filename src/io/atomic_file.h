// Output files that appear whole or not at all.
#pragma once

#include <filesystem>
#include <fstream>
#include <functional>

namespace ocs {

// Writes `path` through `write`, which fills the stream it is given. The bytes go to a temporary
// file in the same folder, renamed over `path` only after they are all written and flushed, so
// that a failure (a full disk, an exception from `write`) never leaves a truncated file or
// destroys an existing one. Every failure removes the temporary file and is a UserError naming
// `path` and the system's reason (strerror); an exception thrown by `write` passes through after
// the cleanup. A final name that fits the 255-byte file-name limit always gets a temporary name
// that fits too (a hash of the name when "<name>.partial-<pid>" would not).
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ofstream&)>& write);

}  // namespace ocs
