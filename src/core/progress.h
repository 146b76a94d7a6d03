// Progress of long work on stderr: a self-rewriting line on a terminal (at most ~10 updates a
// second), and a plain line every 25% otherwise (logs stay short).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ocs {

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
