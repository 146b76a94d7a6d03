#include "io/atomic_file.h"

#include "core/error.h"

#include <unistd.h>

namespace ocs {
namespace fs = std::filesystem;

void write_file_atomically(const fs::path& path, const std::function<void(std::ofstream&)>& write) {
  const std::string origin = path.string();
  std::error_code ec;
  if (fs::is_directory(path, ec))
    user_error("{}: cannot write the file, a folder of that name is in the way", origin);
  const fs::path folder = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  if (!fs::is_directory(folder, ec))
    user_error("{}: cannot write the file, its folder '{}' does not exist", origin, folder.string());
  // Same folder, so the rename cannot cross file systems; the pid keeps two processes apart.
  fs::path temporary = path;
  temporary += fmt::format(".partial-{}", static_cast<long>(::getpid()));
  auto discard = [&] {
    std::error_code ignored;
    fs::remove(temporary, ignored);
  };
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) user_error("{}: cannot open for writing (is the folder writable?)", origin);
    try {
      write(out);
    } catch (...) {
      out.close();
      discard();
      throw;
    }
    out.close();
    if (!out) {
      discard();
      user_error("{}: write failed (disk full?); nothing was written", origin);
    }
  }
  fs::rename(temporary, path, ec);
  if (ec) {
    discard();
    user_error("{}: cannot replace the file: {}", origin, ec.message());
  }
}

}  // namespace ocs
