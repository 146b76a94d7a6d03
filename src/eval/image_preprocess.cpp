#include "eval/image_preprocess.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>

namespace ocs {

namespace {

// PIL resamples 8-bit images in fixed point: each normalized weight is scaled by 2^22 and
// rounded, and a sum gets half a unit added before the shift back. Doing the same reproduces
// its rounding (the weights are non-negative and sum to ~2^22, so int64 never overflows).
constexpr int kPrecisionBits = 22;

struct Taps {
  int64_t first = 0;              // first input index
  std::vector<int64_t> weights;   // fixed-point weights of inputs first, first + 1, ...
};

// The taps of each output index for resampling `in` samples to `out` with the triangle filter.
std::vector<Taps> bilinear_taps(int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double filter_scale = std::max(scale, 1.0);  // widen the filter when shrinking
  const double support = 1.0 * filter_scale;          // the triangle reaches +-1 unscaled
  std::vector<Taps> taps(static_cast<size_t>(out));
  for (int64_t out_x = 0; out_x < out; ++out_x) {
    const double center = (static_cast<double>(out_x) + 0.5) * scale;
    const int64_t first = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t last = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in);  // exclusive
    std::vector<double> weights;
    double total = 0.0;
    for (int64_t in_x = first; in_x < last; ++in_x) {
      // Distance from the centre of input sample in_x to the sampling point, in filter units.
      const double t = (static_cast<double>(in_x) - center + 0.5) / filter_scale;
      const double w = std::max(0.0, 1.0 - std::abs(t));
      weights.push_back(w);
      total += w;
    }
    Taps& tap = taps[static_cast<size_t>(out_x)];
    tap.first = first;
    for (double w : weights)
      tap.weights.push_back(static_cast<int64_t>(std::floor(w / total * (1 << kPrecisionBits) + 0.5)));
  }
  return taps;
}

uint8_t fixed_to_uint8(int64_t sum) {
  const int64_t value = (sum + (int64_t{1} << (kPrecisionBits - 1))) >> kPrecisionBits;
  return static_cast<uint8_t>(std::clamp<int64_t>(value, 0, 255));
}

// One pass along x (horizontal) or y (vertical).
Image resample_axis(const Image& in, int64_t out_size, bool horizontal) {
  const int64_t channels = in.channels;
  Image out{horizontal ? out_size : in.width, horizontal ? in.height : out_size, channels, {}};
  out.pixels.resize(static_cast<size_t>(out.width * out.height * channels));
  const auto taps = bilinear_taps(horizontal ? in.width : in.height, out_size);
  // Element strides of one step along the resampled axis.
  const int64_t step = horizontal ? channels : in.width * channels;
  for (int64_t y = 0; y < out.height; ++y)
    for (int64_t x = 0; x < out.width; ++x) {
      const Taps& tap = taps[static_cast<size_t>(horizontal ? x : y)];
      const int64_t origin = horizontal ? (y * in.width + tap.first) * channels
                                        : (tap.first * in.width + x) * channels;
      for (int64_t c = 0; c < channels; ++c) {
        int64_t sum = 0;
        for (size_t k = 0; k < tap.weights.size(); ++k)
          sum += tap.weights[k] * in.pixels[static_cast<size_t>(origin + static_cast<int64_t>(k) * step + c)];
        out.pixels[static_cast<size_t>((y * out.width + x) * channels + c)] = fixed_to_uint8(sum);
      }
    }
  return out;
}

// Python's round() of diff / 2.0: half to even.
int64_t half_offset(int64_t diff) {
  const int64_t down = diff / 2;
  if (diff % 2 == 0) return down;
  return down % 2 == 0 ? down : down + 1;
}

}  // namespace

Image resize_bilinear(const Image& image, int64_t out_width, int64_t out_height) {
  OCS_CHECK(out_width > 0 && out_height > 0, "resize to {}x{}", out_width, out_height);
  Image result = image;
  if (out_width != image.width) result = resample_axis(result, out_width, true);
  if (out_height != image.height) result = resample_axis(result, out_height, false);
  return result;
}

Image resize_shorter_side(const Image& image, int64_t size) {
  const bool wide = image.width > image.height;
  const int64_t shorter = wide ? image.height : image.width;
  const int64_t longer = wide ? image.width : image.height;
  const int64_t new_longer = static_cast<int64_t>(static_cast<double>(size * longer) / static_cast<double>(shorter));
  return wide ? resize_bilinear(image, new_longer, size) : resize_bilinear(image, size, new_longer);
}

Image center_crop(const Image& image, int64_t crop_height, int64_t crop_width) {
  if (crop_height > image.height || crop_width > image.width)
    user_error("cannot crop {}x{} from a {}x{} image; resize to at least the crop size",
               crop_width, crop_height, image.width, image.height);
  const int64_t top = half_offset(image.height - crop_height);
  const int64_t left = half_offset(image.width - crop_width);
  const int64_t channels = image.channels;
  Image out{crop_width, crop_height, channels, {}};
  out.pixels.reserve(static_cast<size_t>(crop_width * crop_height * channels));
  for (int64_t y = top; y < top + crop_height; ++y) {
    const auto row = image.pixels.begin() + (y * image.width + left) * channels;
    out.pixels.insert(out.pixels.end(), row, row + crop_width * channels);
  }
  return out;
}

void preprocess_image(const Image& image, const ImagePreprocess& options, float* out) {
  const int64_t channels = options.channels();
  OCS_CHECK(image.channels == channels, "{} channels for {}", image.channels, channels);
  OCS_CHECK(static_cast<int64_t>(options.mean.size()) == channels &&
                static_cast<int64_t>(options.std.size()) == channels, "mean/std per channel");
  const Image cropped = center_crop(resize_shorter_side(image, options.resize), options.crop_height,
                                    options.crop_width);
  const int64_t plane = cropped.width * cropped.height;
  for (int64_t c = 0; c < channels; ++c) {
    const int64_t source = options.bgr ? channels - 1 - c : c;  // image channels are R, G, B
    const float mean = options.mean[static_cast<size_t>(c)];
    const float std = options.std[static_cast<size_t>(c)];
    for (int64_t i = 0; i < plane; ++i) {
      // float32 throughout, in torchvision's order: x / 255, then - mean, then / std.
      const float x = static_cast<float>(cropped.pixels[static_cast<size_t>(i * channels + source)]) / 255.0f;
      out[c * plane + i] = (x - mean) / std;
    }
  }
}

}  // namespace ocs
