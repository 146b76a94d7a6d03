// Decoding PNG and JPEG files to 8-bit pixels, for image datasets.
// The format is taken from the file's first bytes, never from its name (ImageNet holds a PNG
// named .JPEG). Conversions follow what PIL's Image.convert("RGB") / convert("L") give, which
// is what torchvision's ImageFolder loader feeds models:
//  - alpha is dropped (not composited), palettes are expanded, 1/2/4-bit gray is scaled to 8,
//    16-bit samples keep their high byte (as PIL does for 16-bit RGB);
//  - gray -> RGB replicates the value; RGB -> gray is ITU-R 601-2 luma
//    L = (19595 R + 38470 G + 7471 B + 32768) >> 16 (PIL's integer form of .299/.587/.114);
//  - CMYK / YCCK JPEGs (Adobe, inverted storage) become R = C' K' / 255 with C' the stored value.
// Errors are UserErrors naming the file and what is wrong (not an image, truncated, corrupt,
// unsupported).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ocs {

struct Image {
  int64_t width = 0;
  int64_t height = 0;
  int64_t channels = 0;         // 1 (gray) or 3 (RGB)
  std::vector<uint8_t> pixels;  // height x width x channels, row-major
};

// channels: 1 = gray, 3 = RGB, 0 = as stored (1 for gray files, else 3).
Image read_image(const std::filesystem::path& path, int channels);
// The same from the file's bytes in memory; `origin` names it in error messages.
Image decode_image(const std::string& bytes, const std::string& origin, int channels);

}  // namespace ocs
