// Internal to io/image.cpp: one decoder per file format. Each returns the pixels as the file
// stores them after expansion to 8 bits per sample: 1 channel (gray) or 3 (RGB); read_image
// converts between the two. Errors are UserErrors that name `origin`.
#pragma once

#include "io/image.h"

#include <cstddef>
#include <cstdint>

namespace ocs::detail {

// Whether a decoder may go on with an image of this size: at most 2^28 pixels (an absurd header
// is refused), and its decoded pixels (at most 3 bytes each) within the memory ocs may use
// (core/memory_budget.h). Otherwise writes why into `message` (a decoder's error buffer).
bool image_size_allowed(uint64_t width, uint64_t height, char* message, size_t size);

bool is_png(const std::string& bytes);
bool is_jpeg(const std::string& bytes);
Image decode_png(const std::string& bytes, const std::string& origin);
Image decode_jpeg(const std::string& bytes, const std::string& origin);

}  // namespace ocs::detail
