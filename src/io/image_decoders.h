// Internal to io/image.cpp: one decoder per file format. Each returns the pixels as the file
// stores them after expansion to 8 bits per sample: 1 channel (gray) or 3 (RGB); read_image
// converts between the two. Errors are UserErrors that name `origin`.
#pragma once

#include "io/image.h"

namespace ocs::detail {

bool is_png(const std::string& bytes);
bool is_jpeg(const std::string& bytes);
Image decode_png(const std::string& bytes, const std::string& origin);
Image decode_jpeg(const std::string& bytes, const std::string& origin);

}  // namespace ocs::detail
