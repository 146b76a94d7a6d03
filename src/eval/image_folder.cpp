#include "eval/image_folder.h"

#include <algorithm>
#include <fstream>
#include <set>

namespace ocs {

namespace {

namespace fs = std::filesystem;

bool is_image_name(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".jpg" || extension == ".jpeg" || extension == ".png";
}

// Sub-folders of `dir` (following links), sorted by name.
std::vector<std::string> class_folders(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error))
    user_error("image folder '{}' is not a directory (expected DIR/<class>/<images>)", dir.string());
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Image files under `dir` at any depth, in torchvision's order: sorted by folder, then by
// name within a folder.
std::vector<fs::path> image_files(const fs::path& dir) {
  std::vector<std::pair<std::string, std::string>> found;  // (folder, name)
  for (const auto& entry : fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink))
    if (!entry.is_directory() && is_image_name(entry.path()))
      found.emplace_back(entry.path().parent_path().string(), entry.path().filename().string());
  std::sort(found.begin(), found.end());
  std::vector<fs::path> paths;
  for (const auto& [folder, name] : found) paths.push_back(fs::path(folder) / name);
  return paths;
}

// Class names in label order from a file with one per line; blank lines are ignored.
std::vector<std::string> read_class_list(const fs::path& path) {
  std::ifstream file(path);
  if (!file) user_error("cannot open classes file '{}'", path.string());
  std::vector<std::string> names;
  std::set<std::string> seen;
  std::string line;
  while (std::getline(file, line)) {
    const auto begin = line.find_first_not_of(" \t\r");
    if (begin == std::string::npos) continue;
    const std::string name = line.substr(begin, line.find_last_not_of(" \t\r") + 1 - begin);
    if (!seen.insert(name).second) user_error("classes file '{}' lists '{}' twice", path.string(), name);
    names.push_back(name);
  }
  if (names.empty()) user_error("classes file '{}' lists no class", path.string());
  return names;
}

}  // namespace

ImageFolderSource::ImageFolderSource(const ImageFolderOptions& options, std::string input_name,
                                     int64_t limit, int64_t batch, bool fixed_batch)
    : preprocess_(options.preprocess), input_name_(std::move(input_name)), batch_(std::max<int64_t>(1, batch)) {
  const std::vector<std::string> folders = class_folders(options.dir);
  if (folders.empty())
    user_error("image folder '{}' has no class sub-folders (expected DIR/<class>/<images>)", options.dir.string());
  classes_ = options.classes_file ? read_class_list(*options.classes_file) : folders;
  for (const std::string& folder : folders) {
    const auto it = std::find(classes_.begin(), classes_.end(), folder);
    if (it == classes_.end())
      user_error("class folder '{}' of '{}' is not listed in classes file '{}'", folder,
                 options.dir.string(), options.classes_file->string());
    const int64_t label = it - classes_.begin();
    for (const fs::path& path : image_files(options.dir / folder)) samples_.push_back({path, label});
  }
  if (samples_.empty())
    user_error("image folder '{}' holds no .jpg, .jpeg or .png files in its class folders", options.dir.string());
  const int64_t total = static_cast<int64_t>(samples_.size());
  count_ = std::min<int64_t>(total, limit);
  if (fixed_batch) count_ -= count_ % batch_;
  if (count_ <= 0)
    user_error("image folder '{}' holds {} images; the model takes batches of {}", options.dir.string(),
               total, batch_);
  // Fewer samples than files: take them evenly spaced, so that a calibration set of 512 from
  // ImageNet's 1.28M covers the classes instead of being 512 tenches.
  if (count_ < total) {
    std::vector<Sample> chosen;
    for (int64_t i = 0; i < count_; ++i) chosen.push_back(samples_[static_cast<size_t>(i * total / count_)]);
    samples_ = std::move(chosen);
  }
}

std::optional<Feed> ImageFolderSource::next() {
  if (position_ >= count_) return std::nullopt;
  const int64_t n = std::min(batch_, count_ - position_);
  const int64_t channels = preprocess_.channels();
  Tensor x(DType::Float32, {n, channels, preprocess_.crop_height, preprocess_.crop_width});
  const int64_t sample_floats = channels * preprocess_.crop_height * preprocess_.crop_width;
  batch_labels_.clear();
  for (int64_t i = 0; i < n; ++i) {
    const Sample& sample = samples_[static_cast<size_t>(position_ + i)];
    const Image image = read_image(sample.path, static_cast<int>(channels));
    preprocess_image(image, preprocess_, x.data<float>() + i * sample_floats);
    batch_labels_.push_back(sample.label);
  }
  position_ += n;
  Feed feed;
  feed[input_name_] = std::move(x);
  return feed;
}

}  // namespace ocs
