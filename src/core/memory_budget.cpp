#include "core/memory_budget.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>

namespace ocs {
namespace {

constexpr uint64_t kUnknownSize = std::numeric_limits<uint64_t>::max();

std::atomic<uint64_t> g_limit{0};  // 0: not set, use default_memory_limit()
std::atomic<uint64_t> g_in_use{0};

uint64_t physical_memory() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size);
}

// A container's memory cap (cgroup v2 memory.max; "max" when there is none), or 0.
uint64_t cgroup_memory_limit() {
  std::ifstream in("/sys/fs/cgroup/memory.max");
  uint64_t bytes = 0;
  if (in >> bytes) return bytes;
  return 0;
}

}  // namespace

uint64_t default_memory_limit() {
  static const uint64_t limit = [] {
    uint64_t total = physical_memory();
    const uint64_t cgroup = cgroup_memory_limit();
    if (cgroup > 0 && (total == 0 || cgroup < total)) total = cgroup;
    return total > 0 ? total / 2 : uint64_t{4} << 30;
  }();
  return limit;
}

uint64_t memory_limit() {
  const uint64_t limit = g_limit.load();
  return limit ? limit : default_memory_limit();
}

void set_memory_limit(uint64_t bytes) { g_limit.store(bytes); }

uint64_t memory_in_use() { return g_in_use.load(); }

void memory_note_allocated(uint64_t bytes) { g_in_use.fetch_add(bytes); }
void memory_note_released(uint64_t bytes) { g_in_use.fetch_sub(bytes); }

uint64_t parse_memory_size(const std::string& text, const std::string& option) {
  auto refuse = [&]() -> uint64_t {
    user_error("{} '{}' is not a memory size; write a number of bytes with an optional unit "
               "K, M, G or T (powers of 1024), e.g. 512M or 4G", option, text);
  };
  size_t pos = 0;
  while (pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[pos])) || text[pos] == '.'))
    ++pos;
  const std::string number = text.substr(0, pos);
  if (number.empty() || number.find('.') != number.rfind('.') || number == ".") return refuse();
  std::string unit;
  for (char c : text.substr(pos)) unit += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 'B') unit.pop_back();   // "4GB", "4GiB"
  if (unit.size() == 2 && unit.back() == 'I') unit.pop_back();  // "4Gi"
  static const std::string kUnits = "KMGT";
  double scale = 1;
  if (unit == "B" || unit.empty()) scale = 1;
  else if (unit.size() == 1 && kUnits.find(unit[0]) != std::string::npos)
    scale = std::pow(1024.0, static_cast<double>(kUnits.find(unit[0]) + 1));
  else return refuse();
  const double bytes = std::stod(number) * scale;
  if (!(bytes >= 1))
    user_error("{} '{}' must be at least one byte", option, text);
  if (bytes >= 0x1p64) user_error("{} '{}' is larger than any machine's memory", option, text);
  return static_cast<uint64_t>(bytes);
}

std::string format_bytes(uint64_t bytes) {
  if (bytes == kUnknownSize) return "more than 16 EiB";
  if (bytes < 1024) return fmt::format("{} bytes", bytes);
  static const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.2f} {}", value, kUnits[unit]);
}

std::optional<uint64_t> shape_bytes(std::span<const int64_t> shape, uint64_t element_size) {
  uint64_t bytes = element_size;
  bool zero = false;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    zero = zero || d == 0;
  }
  if (zero) return 0;  // an empty tensor, whatever its other dimensions claim
  for (int64_t d : shape)
    if (__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes)) return std::nullopt;
  return bytes;
}

bool memory_fits(uint64_t bytes) {
  const uint64_t limit = memory_limit(), in_use = memory_in_use();
  return in_use <= limit && bytes <= limit - in_use;
}

void memory_refuse(uint64_t bytes, const std::string& what) {
  const uint64_t in_use = memory_in_use();
  const std::string held =
      in_use >= 1024 * 1024 ? fmt::format(" ({} of it already in use)", format_bytes(in_use)) : "";
  const std::string exact = bytes == kUnknownSize || bytes < 1024 ? "" : fmt::format(" ({} bytes)", bytes);
  throw MemoryLimitError(fmt::format(
      "{} needs {}{}, more than the memory ocs may use: {}{}. Raise --max-memory if the machine "
      "has the memory; otherwise the model or the input asks for more than it should (fix it)",
      what, format_bytes(bytes), exact, format_bytes(memory_limit()), held));
}

}  // namespace ocs
