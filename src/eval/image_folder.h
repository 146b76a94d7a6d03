// An ImageNet-layout image folder as a labelled sample source: DIR/<class>/**/*.{jpg,jpeg,png}
// (extensions in any case; other files are ignored). Like torchvision's ImageFolder, classes
// are the sorted sub-folder names and a class's label is its index, files are visited in
// sorted order (folder, then name), and images go through the ImageNet preprocessing of
// eval/image_preprocess.h. A `classes` file (one folder name per line, blank lines ignored)
// gives another label order, for models trained with one.
// Images are decoded batch by batch: only one batch of pixels is ever in memory.
#pragma once

#include "eval/image_preprocess.h"
#include "data/sample_source.h"

#include <filesystem>
#include <memory>
#include <optional>

namespace ocs {

struct ImageFolderOptions {
  std::filesystem::path dir;
  std::optional<std::filesystem::path> classes_file;
  ImagePreprocess preprocess;
};

// Parses the part of a spec after "images:" for the model `graph`:
//   DIR[,resize=S][,crop=C][,mean=M/M/M][,std=S/S/S][,bgr][,gray][,classes=FILE]
// crop defaults to the model input's H x W when fixed, else 224; resize to the crop's shorter
// side * 256 / 224, truncated (torchvision's ImageNet 256 -> 224); mean and std to ImageNet's
// (0.485/0.456/0.406, 0.229/0.224/0.225), listed per model channel, so reversed by bgr. A
// single mean or std value applies to every channel; gray images need mean and std given.
// UserError naming the key on a bad spec or on a model input that is not float [N, C, H, W].
ImageFolderOptions parse_image_folder_spec(const std::string& spec, const Graph& graph);

class ImageFolderSource : public SampleSource {
 public:
  // Batches of `batch` samples ([batch, C, H, W] float32 for `input_name`); with fixed_batch
  // the last, partial batch is dropped (a model with a fixed batch size takes only whole ones).
  // At most `limit` samples: when that is fewer than the files, evenly spaced ones in file
  // order (file i * files / limit for i < limit), so that every class is represented.
  ImageFolderSource(const ImageFolderOptions& options, std::string input_name, int64_t limit,
                    int64_t batch, bool fixed_batch);
  std::optional<Feed> next() override;
  int64_t size() const override { return count_; }
  void rewind() override { position_ = 0; }
  const std::vector<int64_t>* batch_labels() const override { return &batch_labels_; }
  // Class names by label.
  const std::vector<std::string>& classes() const { return classes_; }

 private:
  struct Sample {
    std::filesystem::path path;
    int64_t label = 0;
  };
  ImagePreprocess preprocess_;
  std::string input_name_;
  std::vector<std::string> classes_;
  std::vector<Sample> samples_;
  std::vector<int64_t> batch_labels_;
  int64_t count_ = 0;
  int64_t batch_ = 1;
  int64_t position_ = 0;
};

// The source for an "images:..." spec (without the prefix) and a one-input model.
std::unique_ptr<SampleSource> make_image_folder_source(const std::string& spec, const Graph& graph,
                                                       int64_t limit);

}  // namespace ocs
