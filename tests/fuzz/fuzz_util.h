// Shared by the libFuzzer targets of tests/fuzz (docs/FUZZING.md). A UserError is the expected
// answer to a bad input, so each target catches it; anything else (InternalError, another
// exception, a crash or a sanitizer report) escapes to libFuzzer and counts as a finding.
#pragma once

#include "core/error.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace ocs::fuzz {

inline std::string bytes_of(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

template <typename F>
void expect_user_errors_only(F&& body) {
  try {
    body();
  } catch (const UserError&) {
    // A clear refusal: the right outcome for most random inputs.
  }
}

// A per-process scratch folder (under TMPDIR) for the parsers that read files only; removed
// when the fuzzer exits normally (a crash leaves it, with the input that caused it).
class ScratchDir {
 public:
  ScratchDir() : path_(std::filesystem::temp_directory_path() / ("ocs_fuzz_" + std::to_string(getpid()))) {
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline const std::filesystem::path& scratch_dir() {
  static const ScratchDir dir;
  return dir.path();
}

inline std::filesystem::path write_scratch(const std::string& name, const std::string& bytes) {
  const auto path = scratch_dir() / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), bytes.size());
  return path;
}

}  // namespace ocs::fuzz
