#include "eval/text_lines.h"

#include "core/error.h"
#include "io/image.h"

#include <algorithm>
#include <cmath>
#include <fstream>

namespace ocs {

namespace fs = std::filesystem;

std::vector<TextLine> read_text_line_labels(const fs::path& dir) {
  const fs::path path = dir / "labels.tsv";
  std::ifstream in(path, std::ios::binary);
  if (!in) user_error("cannot open '{}' (a text-lines folder holds labels.tsv: FILE<TAB>TEXT per line)", path.string());
  std::vector<TextLine> lines;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos || tab == 0)
      user_error("{}:{}: expected FILE<TAB>TEXT, got '{}'", path.string(), number, line);
    lines.push_back({dir / line.substr(0, tab), line.substr(tab + 1)});
  }
  if (lines.empty()) user_error("'{}' lists no images", path.string());
  return lines;
}

namespace {

// Bilinear resize of 8-bit HWC pixels with half-pixel centres (OpenCV's INTER_LINEAR: source
// coordinate (x + 0.5) * in_w / out_w - 0.5, clamped to the image), rounded back to 8 bits.
Image resize_bilinear(const Image& in, int64_t out_width, int64_t out_height) {
  Image out;
  out.width = out_width;
  out.height = out_height;
  out.channels = in.channels;
  out.pixels.resize(static_cast<size_t>(out_width * out_height * in.channels));
  const double scale_x = static_cast<double>(in.width) / static_cast<double>(out_width);
  const double scale_y = static_cast<double>(in.height) / static_cast<double>(out_height);
  auto pixel = [&](int64_t y, int64_t x, int64_t c) {
    return static_cast<double>(in.pixels[static_cast<size_t>((y * in.width + x) * in.channels + c)]);
  };
  for (int64_t out_y = 0; out_y < out_height; ++out_y) {
    const double in_y = std::clamp((static_cast<double>(out_y) + 0.5) * scale_y - 0.5, 0.0,
                                   static_cast<double>(in.height - 1));
    const auto y0 = static_cast<int64_t>(in_y);
    const int64_t y1 = std::min(y0 + 1, in.height - 1);
    const double wy = in_y - static_cast<double>(y0);
    for (int64_t out_x = 0; out_x < out_width; ++out_x) {
      const double in_x = std::clamp((static_cast<double>(out_x) + 0.5) * scale_x - 0.5, 0.0,
                                     static_cast<double>(in.width - 1));
      const auto x0 = static_cast<int64_t>(in_x);
      const int64_t x1 = std::min(x0 + 1, in.width - 1);
      const double wx = in_x - static_cast<double>(x0);
      for (int64_t c = 0; c < in.channels; ++c) {
        const double top = pixel(y0, x0, c) * (1 - wx) + pixel(y0, x1, c) * wx;
        const double bottom = pixel(y1, x0, c) * (1 - wx) + pixel(y1, x1, c) * wx;
        const double value = top * (1 - wy) + bottom * wy;
        out.pixels[static_cast<size_t>((out_y * out_width + out_x) * in.channels + c)] =
            static_cast<uint8_t>(std::clamp(std::lround(value), 0L, 255L));
      }
    }
  }
  return out;
}

}  // namespace

void text_line_tensor(const fs::path& path, const TextLineOptions& options, float* out) {
  Image image = read_image(path, static_cast<int>(options.channels));
  if (image.width <= 0 || image.height <= 0) user_error("image '{}' is empty", path.string());
  // PaddleOCR: resized_w = ceil(H * w / h), or W when that exceeds W.
  const auto aspect_width = static_cast<int64_t>(
      std::ceil(static_cast<double>(options.height) * static_cast<double>(image.width) /
                static_cast<double>(image.height)));
  const int64_t width = std::min(aspect_width, options.width);
  if (width != image.width || options.height != image.height)
    image = resize_bilinear(image, width, options.height);

  const int64_t plane = options.height * options.width;
  std::fill(out, out + options.channels * plane, 0.0f);  // the padding: 0 after normalisation
  for (int64_t c = 0; c < options.channels; ++c) {
    // Tensor channel c holds B, G, R for c = 0, 1, 2: image channel 2 - c of the RGB pixels.
    const int64_t source_channel = options.channels == 3 ? 2 - c : 0;
    for (int64_t y = 0; y < options.height; ++y)
      for (int64_t x = 0; x < width; ++x) {
        const uint8_t value = image.pixels[static_cast<size_t>((y * width + x) * options.channels + source_channel)];
        out[c * plane + y * options.width + x] = (static_cast<float>(value) / 255.0f - 0.5f) / 0.5f;
      }
  }
}

TextLineSource::TextLineSource(const fs::path& dir, std::string input_name, TextLineOptions options,
                               int64_t limit, int64_t batch, bool whole_batches)
    : input_name_(std::move(input_name)), options_(options), lines_(read_text_line_labels(dir)),
      batch_(std::max<int64_t>(1, batch)) {
  OCS_CHECK(options_.channels == 1 || options_.channels == 3, "channels {}", options_.channels);
  int64_t count = std::min(static_cast<int64_t>(lines_.size()), limit);
  if (whole_batches) count -= count % batch_;
  if (count <= 0)
    user_error("'{}' lists {} lines; at least one batch of {} is needed", (dir / "labels.tsv").string(),
               lines_.size(), whole_batches ? batch_ : 1);
  lines_.resize(static_cast<size_t>(count));
}

std::optional<Feed> TextLineSource::next() {
  const auto count = static_cast<int64_t>(lines_.size());
  if (position_ >= count) return std::nullopt;
  const int64_t n = std::min(batch_, count - position_);
  Tensor x(DType::Float32, {n, options_.channels, options_.height, options_.width});
  const int64_t sample = options_.channels * options_.height * options_.width;
  batch_texts_.clear();
  for (int64_t i = 0; i < n; ++i) {
    const TextLine& line = lines_[static_cast<size_t>(position_ + i)];
    text_line_tensor(line.image, options_, x.data<float>() + i * sample);
    batch_texts_.push_back(line.text);
  }
  position_ += n;
  Feed feed;
  feed[input_name_] = std::move(x);
  return feed;
}

std::unique_ptr<SampleSource> make_text_line_source(const std::string& spec, const Graph& graph,
                                                    int64_t limit) {
  constexpr std::string_view kPrefix = "text-lines:";
  OCS_CHECK(spec.rfind(kPrefix, 0) == 0, "not a text-lines spec: {}", spec);
  std::string dir = spec.substr(kPrefix.size());
  // Options come last, after commas: DIR[,width=W].
  std::optional<int64_t> width;
  for (size_t comma; (comma = dir.rfind(',')) != std::string::npos;) {
    const std::string option = dir.substr(comma + 1);
    if (option.rfind("width=", 0) != 0) break;  // a comma in the folder name
    try {
      size_t used = 0;
      width = std::stoll(option.substr(6), &used);
      if (used != option.size() - 6 || *width <= 0) throw std::invalid_argument(option);
    } catch (const std::exception&) {
      user_error("data '{}': width must be a positive integer, got '{}'", spec, option.substr(6));
    }
    dir.resize(comma);
  }
  if (dir.empty()) user_error("data '{}' names no folder (text-lines:DIR[,width=W])", spec);

  if (graph.inputs.size() != 1)
    user_error("text-lines data feeds one image input, but the model has {} inputs", graph.inputs.size());
  const Value& input = graph.values[graph.inputs[0]];
  TextLineOptions options;
  int64_t batch = 16;
  if (input.shape) {
    const Shape& shape = *input.shape;
    if (shape.size() != 4)
      user_error("text-lines data is [N, C, H, W] images, but model input '{}' has shape {}",
                 input.name, shape_str(shape));
    if (shape[0] > 0) batch = shape[0];
    if (shape[1] > 0) {
      if (shape[1] != 1 && shape[1] != 3)
        user_error("model input '{}' takes {} channels; text-lines gives 1 or 3", input.name, shape[1]);
      options.channels = shape[1];
    }
    if (shape[2] > 0) options.height = shape[2];
    if (shape[3] > 0) {
      if (width && *width != shape[3])
        user_error("data '{}' asks for width {}, but model input '{}' has the fixed width {}", spec,
                   *width, input.name, shape[3]);
      width = shape[3];
    }
  }
  if (width) options.width = *width;
  // A model with a fixed batch size takes only whole batches (the last lines are left out).
  const bool fixed_batch = input.shape && (*input.shape)[0] > 0;
  return std::make_unique<TextLineSource>(dir, input.name, options, limit, batch, fixed_batch);
}

}  // namespace ocs
