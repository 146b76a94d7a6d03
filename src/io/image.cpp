#include "io/image.h"

#include "core/error.h"
#include "core/memory_budget.h"
#include "io/image_decoders.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace ocs {

namespace {

Image gray_to_rgb(const Image& gray) {
  Image rgb{gray.width, gray.height, 3, std::vector<uint8_t>(gray.pixels.size() * 3)};
  for (size_t i = 0; i < gray.pixels.size(); ++i)
    for (size_t c = 0; c < 3; ++c) rgb.pixels[i * 3 + c] = gray.pixels[i];
  return rgb;
}

// ITU-R 601-2 luma in PIL's fixed point: the weights .299/.587/.114 scaled by 2^16 sum to
// exactly 65536, so the result stays within 0..255.
Image rgb_to_gray(const Image& rgb) {
  Image gray{rgb.width, rgb.height, 1, std::vector<uint8_t>(rgb.pixels.size() / 3)};
  for (size_t i = 0; i < gray.pixels.size(); ++i) {
    const uint32_t r = rgb.pixels[i * 3], g = rgb.pixels[i * 3 + 1], b = rgb.pixels[i * 3 + 2];
    gray.pixels[i] = static_cast<uint8_t>((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
  }
  return gray;
}

}  // namespace

bool detail::image_size_allowed(uint64_t width, uint64_t height, char* message, size_t size) {
  constexpr uint64_t kMaxPixels = uint64_t{1} << 28;  // 256 Mpixel: refuse absurd headers
  const uint64_t pixels = width * height;  // both below 2^32: no overflow
  if (pixels > kMaxPixels) {
    std::snprintf(message, size, "%llux%llu pixels is too large", static_cast<unsigned long long>(width),
                  static_cast<unsigned long long>(height));
    return false;
  }
  if (!memory_fits(pixels * 3)) {
    std::snprintf(message, size, "%llux%llu pixels need %s, more than the memory ocs may use (%s; --max-memory)",
                  static_cast<unsigned long long>(width), static_cast<unsigned long long>(height),
                  format_bytes(pixels * 3).c_str(), format_bytes(memory_limit()).c_str());
    return false;
  }
  return true;
}

Image decode_image(const std::string& bytes, const std::string& origin, int channels) {
  if (channels != 0 && channels != 1 && channels != 3)
    user_error("cannot decode '{}' to {} channels; use 1 (gray), 3 (RGB) or 0 (as stored)", origin,
               channels);
  Image image;
  if (detail::is_png(bytes))
    image = detail::decode_png(bytes, origin);
  else if (detail::is_jpeg(bytes))
    image = detail::decode_jpeg(bytes, origin);
  else
    user_error("'{}' is not a PNG or JPEG image (its first bytes are neither signature)", origin);
  if (channels == 3 && image.channels == 1) return gray_to_rgb(image);
  if (channels == 1 && image.channels == 3) return rgb_to_gray(image);
  return image;
}

Image read_image(const std::filesystem::path& path, int channels) {
  std::ifstream file(path, std::ios::binary);
  if (!file) user_error("cannot open image '{}'", path.string());
  std::ostringstream contents;
  contents << file.rdbuf();
  if (file.bad()) user_error("cannot read image '{}'", path.string());
  return decode_image(contents.str(), path.string(), channels);
}

}  // namespace ocs
