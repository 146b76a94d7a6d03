// The torchvision ImageNet preprocessing, on decoded 8-bit images (io/image.h):
//   Resize(S) -> CenterCrop(H, W) -> ToTensor (/255) -> Normalize(mean, std), as CHW floats.
// Resizing is PIL's antialiased bilinear resampling (what torchvision applies to PIL images),
// so that a model sees within +-1 per uint8 sample what it saw in PyTorch.
#pragma once

#include "io/image.h"

#include <vector>

namespace ocs {

// PIL's Image.resize(size, BILINEAR): separable, horizontal pass first, each pass rounded to
// uint8. Output pixel x samples the input around (x + 0.5) * in / out with the triangle filter
// 1 - |t|, widened by the downscale factor in / out when shrinking (antialiasing).
Image resize_bilinear(const Image& image, int64_t out_width, int64_t out_height);

// torchvision Resize(S) for one int S: the shorter side becomes S, the longer one
// int(S * long / short) (truncated).
Image resize_shorter_side(const Image& image, int64_t size);

// torchvision CenterCrop: top = int(round((height - crop_height) / 2.0)), Python's round (half
// to even), left likewise. UserError when the crop is larger than the image.
Image center_crop(const Image& image, int64_t crop_height, int64_t crop_width);

struct ImagePreprocess {
  int64_t resize = 256;        // shorter side after resizing
  int64_t crop_height = 224;
  int64_t crop_width = 224;
  std::vector<float> mean{0.485f, 0.456f, 0.406f};  // per model channel (after bgr reordering)
  std::vector<float> std{0.229f, 0.224f, 0.225f};
  bool bgr = false;   // model channels are B, G, R
  bool gray = false;  // one gray channel
  int64_t channels() const { return gray ? 1 : 3; }
};

// Resize, crop, then writes channels() x crop_height x crop_width floats to `out`:
// (pixel / 255 - mean[c]) / std[c], in float32 as torchvision computes it. `image` must have
// channels() channels.
void preprocess_image(const Image& image, const ImagePreprocess& options, float* out);

}  // namespace ocs
