// Resize / center crop / normalize against torchvision 0.14 on PIL 9.4 images (values written
// by scripts/make_image_fixtures.py). Tolerances: resized uint8 pixels within +-1 (we reproduce
// PIL's fixed-point arithmetic and match it exactly today; +-1 allows another PIL's rounding);
// normalized floats within 1e-5 (+-1 of a uint8 would be ~0.017, so this also pins the pixels).
#include "eval/image_preprocess.h"
#include "io/npy.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

namespace ocs {
namespace {

const std::filesystem::path kDir = std::filesystem::path(OCS_SOURCE_DIR) / "tests/data/images/preprocess";

void expect_pixels_near(const Image& image, const Tensor& expected, int tolerance) {
  ASSERT_EQ(image.height, expected.dim(0));
  ASSERT_EQ(image.width, expected.dim(1));
  ASSERT_EQ(image.channels, expected.dim(2));
  EXPECT_TRUE(testing::values_close(image.pixels, expected.to_vector<uint8_t>(), tolerance));
}

TEST(ImagePreprocess, ResizeShorterSideMatchesTorchvision) {
  const Image wide = read_image(kDir / "rgb_37x29.png", 3);
  for (int size : {16, 11, 45}) {  // 37x29 -> 20x16, 14x11 (downscale), 57x45 (upscale)
    SCOPED_TRACE(size);
    expect_pixels_near(resize_shorter_side(wide, size), read_npy(kDir / fmt::format("resize_{}.npy", size)), 1);
  }
  const Image tall = read_image(kDir / "rgb_10x23.png", 3);
  expect_pixels_near(resize_shorter_side(tall, 7), read_npy(kDir / "tall_resize_7.npy"), 1);
  EXPECT_EQ(resize_shorter_side(tall, 7).height, 16);  // int(7 * 23 / 10) = int(16.1)
}

TEST(ImagePreprocess, ResizeToTheSameSizeIsIdentity) {
  const Image image = read_image(kDir / "rgb_37x29.png", 3);
  EXPECT_EQ(resize_bilinear(image, 37, 29).pixels, image.pixels);
}

TEST(ImagePreprocess, CenterCropRoundsHalfToEven) {
  Image column{1, 7, 1, {0, 1, 2, 3, 4, 5, 6}};
  EXPECT_EQ(center_crop(column, 4, 1).pixels, (std::vector<uint8_t>{2, 3, 4, 5}));  // round(1.5) = 2
  EXPECT_EQ(center_crop(column, 2, 1).pixels, (std::vector<uint8_t>{2, 3}));        // round(2.5) = 2
  EXPECT_EQ(center_crop(column, 6, 1).pixels, (std::vector<uint8_t>{0, 1, 2, 3, 4, 5}));  // round(.5) = 0
  EXPECT_THROW(center_crop(column, 8, 1), UserError);
}

void expect_pipeline(const ImagePreprocess& options, const std::string& expected_file) {
  SCOPED_TRACE(expected_file);
  const Image image = read_image(kDir / "rgb_37x29.png", 3);
  const Tensor expected = read_npy(kDir / expected_file);
  ASSERT_EQ(expected.shape(), (Shape{3, options.crop_height, options.crop_width}));
  std::vector<float> got(static_cast<size_t>(expected.numel()));
  preprocess_image(image, options, got.data());
  EXPECT_TRUE(testing::values_close(got, expected.to_vector<float>(), 1e-5));
}

TEST(ImagePreprocess, PipelineMatchesTorchvision) {
  ImagePreprocess options;
  options.resize = 16;
  options.crop_height = options.crop_width = 14;  // even margins: 20-14 and 16-14
  expect_pipeline(options, "resize_16_crop_14.npy");
  options.crop_height = options.crop_width = 13;  // odd margins: round(3.5) = 4, round(1.5) = 2
  expect_pipeline(options, "resize_16_crop_13.npy");
}

TEST(ImagePreprocess, BgrReversesTheChannels) {
  ImagePreprocess rgb;
  rgb.resize = 16;
  rgb.crop_height = rgb.crop_width = 14;
  ImagePreprocess bgr = rgb;
  bgr.bgr = true;
  bgr.mean = {rgb.mean[2], rgb.mean[1], rgb.mean[0]};
  bgr.std = {rgb.std[2], rgb.std[1], rgb.std[0]};
  const Image image = read_image(kDir / "rgb_37x29.png", 3);
  const size_t plane = 14 * 14;
  std::vector<float> a(3 * plane), b(3 * plane);
  preprocess_image(image, rgb, a.data());
  preprocess_image(image, bgr, b.data());
  for (size_t c = 0; c < 3; ++c)
    for (size_t i = 0; i < plane; ++i) ASSERT_EQ(a[c * plane + i], b[(2 - c) * plane + i]);
}

}  // namespace
}  // namespace ocs
