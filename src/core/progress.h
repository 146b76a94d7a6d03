// Progress of long work on stderr: a self-rewriting line on a terminal (at most ~10 updates a
// second), and a plain line every 25% otherwise (logs stay short).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace ocs {

// Where Progress reports instead of stderr, for the calls made on this thread while a
// ScopedProgressSink lives (the library's progress callbacks, include/ocs/ocs.h). An empty sink
// silences progress. Only the constructing thread is affected; the previous sink comes back after.
using ProgressSink = std::function<void(const std::string& label, int64_t done, int64_t total)>;
class ScopedProgressSink {
 public:
  explicit ScopedProgressSink(ProgressSink sink);
  ~ScopedProgressSink();
  ScopedProgressSink(const ScopedProgressSink&) = delete;
  ScopedProgressSink& operator=(const ScopedProgressSink&) = delete;

 private:
  ProgressSink* previous_;
  ProgressSink sink_;
};

class Progress {
 public:
  Progress(std::string label, int64_t total);
  void update(int64_t done);
  void finish();  // ends the line

 private:
  std::string label_;
  int64_t total_;
  bool terminal_;
  int last_quarter_ = -1;
  std::chrono::steady_clock::time_point start_, last_print_;
  bool finished_ = false;
};

}  // namespace ocs
