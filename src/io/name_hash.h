// A stable hash for shortening file names: the same on every platform, build and run.
#pragma once

#include <cstdint>
#include <string_view>

namespace ocs {

// FNV-1a, 64 bits (Fowler, Noll, Vo): xor each byte in, then multiply by the FNV prime.
inline uint64_t fnv1a_64(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ull;  // the FNV offset basis
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;  // the FNV prime
  }
  return hash;
}

}  // namespace ocs
