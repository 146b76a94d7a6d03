// The memory budget: how many bytes of tensors ocs may hold at once, and the one check every
// allocation of a size taken from a model or an input goes through.
//
// What is counted: every Tensor buffer alive in the process (weights, inputs, activations,
// calibration data), from its allocation to the release of its last view, and the oneDNN buffers
// that hold values in blocked layouts while they are in use. What is not: oneDNN's scratch space
// and cached weights, buffers kept free for reuse, and small bookkeeping vectors, so the process
// may use somewhat more than the limit. Places that allocate a large non-Tensor buffer from a size they
// did not choose (external data, Resize's float64 intermediate) call check_allocation first.
//
// The limit is process-wide: the CLI sets it from --max-memory; by default it is half of the
// physical memory (or of the cgroup's memory limit, when that is lower), so that a hostile or
// broken model is refused with a message instead of driving the machine into swap or the
// kernel's OOM killer.
#pragma once

#include "core/error.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace ocs {

// A user error that says which allocation did not fit. The engine adds the node and value
// names (engine/session.cpp) once; `names_node` records that it did.
class MemoryLimitError : public UserError {
 public:
  explicit MemoryLimitError(const std::string& message, bool names_node = false)
      : UserError(message), names_node_(names_node) {}
  bool names_node() const { return names_node_; }

 private:
  bool names_node_;
};

// Bytes of tensors ocs may hold at once.
uint64_t memory_limit();
void set_memory_limit(uint64_t bytes);
// Half of the physical memory (or of the cgroup limit when lower); 4 GiB when unknown.
uint64_t default_memory_limit();
// Bytes of Tensor buffers alive now.
uint64_t memory_in_use();

// "4G", "512M", "1.5g", "64k", "1000000" (bytes), "2GiB": binary units (K = 1024). A
// UserError naming `option` when the text is not a size.
uint64_t parse_memory_size(const std::string& text, const std::string& option);
// "1.50 GiB"; UINT64_MAX reads "more than 16 EiB" (the size of a product that overflowed).
std::string format_bytes(uint64_t bytes);

// The bytes of a dense tensor of `shape` with `element_size`-byte elements, or nullopt when a
// dimension is negative or the product overflows 64 bits (a hostile shape must not wrap around
// to a small size).
std::optional<uint64_t> shape_bytes(std::span<const int64_t> shape, uint64_t element_size);

// True when `bytes` more fit under the limit next to what is in use.
bool memory_fits(uint64_t bytes);
// Throws MemoryLimitError: `what` (e.g. "a float32 tensor of shape [...]") needs `bytes`,
// over the limit; says to raise --max-memory or fix the model or input.
[[noreturn]] void memory_refuse(uint64_t bytes, const std::string& what);
inline void check_allocation(uint64_t bytes, const std::string& what) {
  if (!memory_fits(bytes)) memory_refuse(bytes, what);
}

// For Tensor: count a buffer in and out.
void memory_note_allocated(uint64_t bytes);
void memory_note_released(uint64_t bytes);

// Sets the limit for a scope and restores the previous one (tests, one command).
class ScopedMemoryLimit {
 public:
  explicit ScopedMemoryLimit(uint64_t bytes) : previous_(memory_limit()) { set_memory_limit(bytes); }
  ~ScopedMemoryLimit() { set_memory_limit(previous_); }
  ScopedMemoryLimit(const ScopedMemoryLimit&) = delete;
  ScopedMemoryLimit& operator=(const ScopedMemoryLimit&) = delete;

 private:
  uint64_t previous_;
};

}  // namespace ocs
