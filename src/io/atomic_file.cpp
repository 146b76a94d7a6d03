#include "io/atomic_file.h"

#include "core/error.h"
#include "io/name_hash.h"

#include <cerrno>
#include <cstring>
#include <unistd.h>

namespace ocs {
namespace fs = std::filesystem;

namespace {

// A file name's byte limit on Linux file systems (NAME_MAX).
constexpr size_t kNameMax = 255;

// The temporary file beside `path`: "<name>.partial-<pid>" (same folder, so the rename cannot
// cross file systems; the pid keeps two processes apart). When that would exceed NAME_MAX, a
// name made of a hash of the final name instead, so that any writable name stays writable.
fs::path temporary_path(const fs::path& path) {
  const std::string suffix = fmt::format(".partial-{}", static_cast<long>(::getpid()));
  const std::string name = path.filename().string();
  fs::path temporary = path;
  if (name.size() + suffix.size() <= kNameMax) return temporary += suffix;
  return temporary.replace_filename(fmt::format(".{:016x}{}", fnv1a_64(name), suffix));
}

}  // namespace

void write_file_atomically(const fs::path& path, const std::function<void(std::ofstream&)>& write) {
  const std::string origin = path.string();
  std::error_code ec;
  if (fs::is_directory(path, ec))
    user_error("{}: cannot write the file, a folder of that name is in the way", origin);
  const fs::path folder = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  if (!fs::is_directory(folder, ec))
    user_error("{}: cannot write the file, its folder '{}' does not exist", origin, folder.string());
  if (path.filename().string().size() > kNameMax)
    user_error("{}: cannot write the file: its name is {} bytes long, more than the {} a file system "
               "allows; choose a shorter name", origin, path.filename().string().size(), kNameMax);
  const fs::path temporary = temporary_path(path);
  auto discard = [&] {
    std::error_code ignored;
    fs::remove(temporary, ignored);
  };
  {
    errno = 0;
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out)
      user_error("{}: cannot create the temporary file '{}': {}", origin, temporary.string(),
                 errno ? std::strerror(errno) : "the stream could not be opened");
    try {
      errno = 0;
      write(out);
    } catch (...) {
      out.close();
      discard();
      throw;
    }
    // A failed write sets errno when it fails; otherwise the failure, if any, is the flush in close.
    std::string reason;
    if (!out) reason = errno ? std::strerror(errno) : "the stream reported an error";
    errno = 0;
    out.close();
    if (!out && reason.empty()) reason = errno ? std::strerror(errno) : "the stream reported an error";
    if (!reason.empty()) {
      discard();
      user_error("{}: writing '{}' failed: {}; nothing was written", origin, temporary.string(), reason);
    }
  }
  fs::rename(temporary, path, ec);
  if (ec) {
    discard();
    user_error("{}: cannot replace the file: {}", origin, ec.message());
  }
}

}  // namespace ocs
