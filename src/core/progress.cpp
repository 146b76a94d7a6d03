#include "core/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace ocs {
namespace {
// The sink of this thread's progress, when a ScopedProgressSink set one (else stderr).
thread_local ProgressSink* current_sink = nullptr;
}  // namespace

ScopedProgressSink::ScopedProgressSink(ProgressSink sink) : previous_(current_sink), sink_(std::move(sink)) {
  current_sink = &sink_;
}

ScopedProgressSink::~ScopedProgressSink() { current_sink = previous_; }

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), terminal_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()), last_print_(start_ - std::chrono::seconds(1)) {}

void Progress::update(int64_t done) {
  if (current_sink) {
    if (*current_sink) (*current_sink)(label_, done, total_);
    return;
  }
  auto now = std::chrono::steady_clock::now();
  double seconds = std::chrono::duration<double>(now - start_).count();
  std::string line = fmt::format("{}: {}/{} ({:.0f}%, {:.1f} s)", label_, done, total_,
                                 total_ ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0, seconds);
  if (terminal_) {
    if (now - last_print_ < std::chrono::milliseconds(100) && done < total_) return;
    last_print_ = now;
    std::fprintf(stderr, "\r%s", line.c_str());
  } else {
    int quarter = total_ ? static_cast<int>(4 * done / total_) : 4;
    if (quarter == last_quarter_) return;
    last_quarter_ = quarter;
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (terminal_ && !current_sink) std::fprintf(stderr, "\n");
}

}  // namespace ocs
