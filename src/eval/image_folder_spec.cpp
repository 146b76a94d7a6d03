// The "images:DIR,key=value,..." spec of --data / --calib (see eval/image_folder.h).
#include "eval/image_folder.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace ocs {

namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

int64_t parse_size(const std::string& key, const std::string& value) {
  int64_t result = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), result);
  if (error != std::errc() || end != value.data() + value.size() || result <= 0 || result > 65536)
    user_error("images spec: {}={} must be a positive number of pixels", key, value);
  return result;
}

std::vector<float> parse_floats(const std::string& key, const std::string& value) {
  std::vector<float> result;
  for (const std::string& part : split(value, '/')) {
    float number = 0;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), number);
    if (part.empty() || error != std::errc() || end != part.data() + part.size())
      user_error("images spec: {}={} must be numbers separated by '/' (e.g. {}=0.485/0.456/0.406)",
                 key, value, key);
    if (key == "std" && !(number > 0)) user_error("images spec: std={} must be positive", value);
    result.push_back(number);
  }
  return result;
}

// `values` for each of `channels` channels: one value repeats.
std::vector<float> per_channel(const std::string& key, std::vector<float> values, int64_t channels) {
  if (values.size() == 1) return std::vector<float>(static_cast<size_t>(channels), values[0]);
  if (static_cast<int64_t>(values.size()) != channels)
    user_error("images spec: {} has {} values, but the images have {} channels", key, values.size(), channels);
  return values;
}

}  // namespace

ImageFolderOptions parse_image_folder_spec(const std::string& spec, const Graph& graph) {
  const std::vector<std::string> parts = split(spec, ',');
  ImageFolderOptions options;
  if (parts[0].empty()) user_error("images spec '{}' names no folder; use images:DIR[,key=value...]", spec);
  options.dir = parts[0];
  std::optional<int64_t> resize, crop;
  std::optional<std::vector<float>> mean, deviation;
  ImagePreprocess& pre = options.preprocess;
  std::set<std::string> seen;
  for (size_t i = 1; i < parts.size(); ++i) {
    const size_t eq = parts[i].find('=');
    const std::string key = parts[i].substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : parts[i].substr(eq + 1);
    if (!seen.insert(key).second) user_error("images spec: '{}' is given twice", key);
    const bool flag = key == "bgr" || key == "gray";
    if (flag && eq != std::string::npos) user_error("images spec: '{}' is a flag and takes no value", key);
    if (!flag && eq == std::string::npos) user_error("images spec: '{}' needs a value ({}=...)", key, key);
    if (key == "resize") resize = parse_size(key, value);
    else if (key == "crop") crop = parse_size(key, value);
    else if (key == "mean") mean = parse_floats(key, value);
    else if (key == "std") deviation = parse_floats(key, value);
    else if (key == "bgr") pre.bgr = true;
    else if (key == "gray") pre.gray = true;
    else if (key == "classes") options.classes_file = value;
    else
      user_error("images spec: unknown key '{}'; known: resize, crop, mean, std, bgr, gray, classes", key);
  }
  if (pre.gray && pre.bgr) user_error("images spec: 'bgr' and 'gray' exclude each other");

  if (graph.inputs.size() != 1)
    user_error("image folder data feeds one input, but the model has {}", graph.inputs.size());
  const Value& input = graph.values[graph.inputs[0]];
  if (input.dtype != DType::Float32)
    user_error("image folder data is float32, but model input '{}' is {}", input.name, dtype_name(input.dtype));
  if (input.shape && input.shape->size() != 4)
    user_error("image folder data is [N, C, H, W], but model input '{}' has rank {}", input.name,
               input.shape->size());
  if (input.shape && (*input.shape)[1] > 0 && (*input.shape)[1] != pre.channels())
    user_error("model input '{}' takes {} channels but the images give {}{}", input.name, (*input.shape)[1],
               pre.channels(), (*input.shape)[1] == 1 ? " (add ',gray')" : pre.gray ? " (drop ',gray')" : "");
  const bool fixed_size = input.shape && (*input.shape)[2] > 0 && (*input.shape)[3] > 0;
  if (crop) {
    pre.crop_height = pre.crop_width = *crop;
    if (fixed_size && ((*input.shape)[2] != *crop || (*input.shape)[3] != *crop))
      user_error("images spec: crop={} but model input '{}' takes {}x{} images", *crop, input.name,
                 (*input.shape)[3], (*input.shape)[2]);
  } else if (fixed_size) {
    pre.crop_height = (*input.shape)[2];
    pre.crop_width = (*input.shape)[3];
  }
  // torchvision's ImageNet evaluation resizes to 256 for a 224 crop; keep that ratio.
  pre.resize = resize.value_or(std::min(pre.crop_height, pre.crop_width) * 256 / 224);
  if (pre.resize < std::max(pre.crop_height, pre.crop_width))
    user_error("images spec: resize={} is smaller than the {}x{} crop", pre.resize, pre.crop_width,
               pre.crop_height);

  if (pre.gray && (!mean || !deviation))
    user_error("images spec: gray images need mean= and std= (ImageNet's defaults are per RGB channel)");
  if (pre.bgr) {  // the defaults are listed for R, G, B
    std::reverse(pre.mean.begin(), pre.mean.end());
    std::reverse(pre.std.begin(), pre.std.end());
  }
  if (mean) pre.mean = per_channel("mean", *mean, pre.channels());
  if (deviation) pre.std = per_channel("std", *deviation, pre.channels());
  return options;
}

std::unique_ptr<SampleSource> make_image_folder_source(const std::string& spec, const Graph& graph,
                                                       int64_t limit) {
  ImageFolderOptions options = parse_image_folder_spec(spec, graph);
  const Value& input = graph.values[graph.inputs[0]];
  const bool fixed_batch = input.shape && (*input.shape)[0] > 0;
  const int64_t batch = fixed_batch ? (*input.shape)[0] : 32;
  return std::make_unique<ImageFolderSource>(options, input.name, limit, batch, fixed_batch);
}

}  // namespace ocs
