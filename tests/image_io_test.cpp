// PNG/JPEG decoding against PIL (scripts/make_image_fixtures.py wrote the files and what PIL's
// convert("RGB") / convert("L") give for them). PNG must match exactly. JPEG within +-2 per
// sample: PIL and ocs both use libjpeg-turbo with its default (islow) IDCT and fancy upsampling,
// so they agree today, but another libjpeg build may round its IDCT or colour conversion
// differently.
#include "core/memory_budget.h"
#include "io/image.h"
#include "io/npy.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace ocs {
namespace {

const std::filesystem::path kDecodeDir = std::filesystem::path(OCS_SOURCE_DIR) / "tests/data/images/decode";

std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

// Decodes `name` to `channels` and compares with PIL's pixels in NAME.{rgb,gray}.npy.
void expect_decoded(const std::string& name, int channels, int tolerance) {
  SCOPED_TRACE(name + (channels == 3 ? " as RGB" : " as gray"));
  const Image image = read_image(kDecodeDir / name, channels);
  const Tensor expected = read_npy(kDecodeDir / (name + (channels == 3 ? ".rgb.npy" : ".gray.npy")));
  ASSERT_EQ(image.channels, channels);
  ASSERT_EQ(image.height, expected.dim(0));
  ASSERT_EQ(image.width, expected.dim(1));
  ASSERT_EQ(static_cast<int64_t>(image.pixels.size()), expected.numel());
  EXPECT_TRUE(testing::values_close(image.pixels, expected.to_vector<uint8_t>(), tolerance));
}

TEST(ImageIo, PngMatchesPilExactly) {
  for (const char* name : {"rgb.png", "gray.png", "rgba.png", "gray_alpha.png", "bilevel.png",
                           "palette.png", "gray4.png"}) {
    expect_decoded(name, 3, 0);
    expect_decoded(name, 1, 0);
  }
}

TEST(ImageIo, Png16BitKeepsTheHighByte) {
  expect_decoded("rgb16.png", 3, 0);
  expect_decoded("gray16.png", 1, 0);
}

TEST(ImageIo, JpegMatchesPilWithinTwo) {
  for (const char* name : {"rgb.jpg", "gray.jpg", "progressive.jpg", "cmyk.jpg"}) {
    expect_decoded(name, 3, 2);
    expect_decoded(name, 1, 2);
  }
}

TEST(ImageIo, ChannelsAsStored) {
  EXPECT_EQ(read_image(kDecodeDir / "gray.png", 0).channels, 1);
  EXPECT_EQ(read_image(kDecodeDir / "gray_alpha.png", 0).channels, 1);
  EXPECT_EQ(read_image(kDecodeDir / "bilevel.png", 0).channels, 1);
  EXPECT_EQ(read_image(kDecodeDir / "palette.png", 0).channels, 3);
  EXPECT_EQ(read_image(kDecodeDir / "rgba.png", 0).channels, 3);
  EXPECT_EQ(read_image(kDecodeDir / "gray.jpg", 0).channels, 1);
  EXPECT_EQ(read_image(kDecodeDir / "cmyk.jpg", 0).channels, 3);
}

TEST(ImageIo, FormatComesFromTheBytesNotTheName) {
  // A PNG named .JPEG (ImageNet has such files).
  const Image image = read_image(std::filesystem::path(OCS_SOURCE_DIR) / "tests/data/images/folder/dog/a.JPEG", 3);
  EXPECT_EQ(image.width, 15);
  EXPECT_EQ(image.height, 18);
}

// The UserError message of decoding `bytes`, or "" when it decoded.
std::string decode_error(const std::string& bytes) {
  try {
    decode_image(bytes, "sample.img", 3);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(ImageIo, TruncatedFilesAreUserErrors) {
  for (const char* name : {"rgb.png", "rgb.jpg", "progressive.jpg"}) {
    SCOPED_TRACE(name);
    const std::string bytes = file_bytes(kDecodeDir / name);
    for (size_t keep : {bytes.size() / 4, bytes.size() / 2, bytes.size() - 3}) {
      const std::string message = decode_error(bytes.substr(0, keep));
      EXPECT_NE(message.find("sample.img"), std::string::npos) << message;
      EXPECT_TRUE(message.find("truncated") != std::string::npos ||
                  message.find("corrupt") != std::string::npos) << message;
    }
  }
}

TEST(ImageIo, CorruptAndForeignFilesAreUserErrors) {
  EXPECT_NE(decode_error("").find("is not a PNG or JPEG"), std::string::npos);
  EXPECT_NE(decode_error("hello, world").find("is not a PNG or JPEG"), std::string::npos);
  EXPECT_NE(decode_error("GIF89a\x01\x00\x01\x00").find("is not a PNG or JPEG"), std::string::npos);
  // A PNG whose IHDR is damaged (CRC mismatch).
  std::string png = file_bytes(kDecodeDir / "rgb.png");
  png[18] ^= 0x55;
  EXPECT_NE(decode_error(png).find("corrupt"), std::string::npos) << decode_error(png);
  // A JPEG with garbage after its start-of-image marker.
  std::string jpeg = "\xFF\xD8\xFF";
  jpeg += std::string(64, '\x13');
  EXPECT_NE(decode_error(jpeg).find("corrupt"), std::string::npos) << decode_error(jpeg);
  EXPECT_THROW(read_image(kDecodeDir / "no_such_file.png", 3), UserError);
  EXPECT_THROW(read_image(kDecodeDir / "rgb.png", 2), UserError);
}

}  // namespace
}  // namespace ocs

namespace ocs {
namespace {

// A PNG whose header declares width x height RGB pixels, cut after the first IDAT chunk's
// header: the decoder has read every size it needs.
std::string png_header(uint32_t width, uint32_t height) {
  auto be32 = [](uint32_t v) { return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)}; };
  auto chunk = [&](const std::string& type, const std::string& data) {
    const std::string body = type + data;
    const uLong crc = crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    return be32(static_cast<uint32_t>(data.size())) + body + be32(static_cast<uint32_t>(crc));
  };
  const std::string ihdr = be32(width) + be32(height) + std::string{8, 2, 0, 0, 0};
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", "");
}

TEST(ImageIo, DecodedPixelsCountAgainstTheMemoryBudget) {
  ScopedMemoryLimit limit(1 << 20);  // 1 MiB: 1000 x 1000 RGB needs 2.86 MiB
  try {
    decode_image(png_header(1000, 1000), "big.png", 3);
    ADD_FAILURE() << "a 1000x1000 image was decoded under a 1 MiB budget";
  } catch (const UserError& e) {
    const std::string said = e.what();
    EXPECT_NE(said.find("big.png"), std::string::npos) << said;
    EXPECT_NE(said.find("1000x1000"), std::string::npos) << said;
    EXPECT_NE(said.find("--max-memory"), std::string::npos) << said;
  }
}

}  // namespace
}  // namespace ocs
