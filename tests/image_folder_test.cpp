// The image-folder sample source on tests/data/images/folder (cat/c.png, dog/a.JPEG (a PNG),
// dog/b.jpg, plus a .txt that must be skipped) against torchvision 0.14's ImageFolder with
// Resize(12), CenterCrop(10), ToTensor, Normalize(ImageNet) (scripts/make_image_fixtures.py).
// Tolerance 1e-5 per float: the pipeline reproduces PIL's integer resampling, and one uint8
// step would be ~0.017 after normalization.
#include "eval/image_folder.h"
#include "eval/sample_source_spec.h"
#include "io/npy.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

namespace ocs {
namespace {

const std::string kFolder = std::string(OCS_SOURCE_DIR) + "/tests/data/images/folder";
const std::filesystem::path kData = std::filesystem::path(OCS_SOURCE_DIR) / "tests/data/images";

// A graph whose only input is float32 `shape`.
Graph graph_with_input(Shape shape) {
  Graph graph;
  Value input;
  input.name = "image";
  input.dtype = DType::Float32;
  input.shape = std::move(shape);
  graph.inputs.push_back(graph.add_value(std::move(input)));
  return graph;
}

TEST(ImageFolder, MatchesTorchvisionImageFolder) {
  const Graph graph = graph_with_input({-1, 3, 10, 10});  // dynamic batch: batches of up to 32
  auto source = make_sample_source({"images:" + kFolder + ",resize=12"}, graph, 1000);
  ASSERT_EQ(source->size(), 3);
  const Tensor expected = read_npy(kData / "folder_expected.npy");
  ASSERT_EQ(expected.shape(), (Shape{3, 3, 10, 10}));
  std::optional<Feed> batch = source->next();
  ASSERT_TRUE(batch);
  const Tensor& x = batch->at("image");
  EXPECT_TRUE(testing::tensors_close(x, expected, 1e-5));
  EXPECT_EQ(*source->batch_labels(), read_npy(kData / "folder_labels.npy").to_vector<int64_t>());
  EXPECT_FALSE(source->next());
}

TEST(ImageFolder, StreamsInModelBatchesAndRewinds) {
  const Graph graph = graph_with_input({1, 3, 10, 10});  // fixed batch of one
  auto source = make_sample_source({"images:" + kFolder + ",resize=12"}, graph, 2);
  ASSERT_EQ(source->size(), 2);
  std::vector<int64_t> labels;
  for (int pass = 0; pass < 2; ++pass) {
    labels.clear();
    while (auto batch = source->next()) {
      EXPECT_EQ(batch->at("image").shape(), (Shape{1, 3, 10, 10}));
      labels.push_back(source->batch_labels()->at(0));
    }
    source->rewind();
  }
  EXPECT_EQ(labels, (std::vector<int64_t>{0, 1}));  // files 0 and 3 * 1 / 2 = 1
  // One sample of three: file 0 (cat); a limit spreads samples, it does not take the first ones.
  auto one = make_sample_source({"images:" + kFolder + ",resize=12"}, graph, 1);
  ASSERT_TRUE(one->next());
  EXPECT_EQ(*one->batch_labels(), (std::vector<int64_t>{0}));
}

TEST(ImageFolder, LimitSpreadsOverTheClasses) {
  // Three images in each of two classes; two samples are files 0 and 3, one of each class
  // (the first two files would both be class 0).
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "ocs_image_folder_limit";
  fs::remove_all(dir);
  for (const char* cls : {"a", "b"}) {
    fs::create_directories(dir / cls);
    for (const char* name : {"1.png", "2.png", "3.png"})
      fs::copy_file(fs::path(kFolder) / "cat/c.png", dir / cls / name);
  }
  auto source = make_sample_source({"images:" + dir.string() + ",resize=12"}, graph_with_input({-1, 3, 10, 10}), 2);
  ASSERT_TRUE(source->next());
  EXPECT_EQ(*source->batch_labels(), (std::vector<int64_t>{0, 1}));
  fs::remove_all(dir);
}

TEST(ImageFolder, ClassesFileGivesTheLabelOrder) {
  const std::filesystem::path list = std::filesystem::temp_directory_path() / "ocs_image_folder_classes.txt";
  { std::ofstream(list) << "dog\n\ncat\nbird\n"; }
  ImageFolderOptions options = parse_image_folder_spec(kFolder + ",resize=12,classes=" + list.string(),
                                                       graph_with_input({-1, 3, 10, 10}));
  ImageFolderSource source(options, "image", 1000, 32, false);
  EXPECT_EQ(source.classes(), (std::vector<std::string>{"dog", "cat", "bird"}));
  ASSERT_TRUE(source.next());
  EXPECT_EQ(*source.batch_labels(), (std::vector<int64_t>{1, 0, 0}));
  { std::ofstream(list) << "dog\n"; }
  EXPECT_THROW(ImageFolderSource(parse_image_folder_spec(kFolder + ",classes=" + list.string(),
                                                         graph_with_input({-1, 3, 10, 10})),
                                 "image", 1000, 32, false),
               UserError);
  std::filesystem::remove(list);
}

TEST(ImageFolder, SpecDefaultsFollowTheModel) {
  const ImagePreprocess pre = parse_image_folder_spec(kFolder, graph_with_input({1, 3, 224, 224})).preprocess;
  EXPECT_EQ(pre.resize, 256);
  EXPECT_EQ(pre.crop_height, 224);
  EXPECT_EQ(pre.mean, (std::vector<float>{0.485f, 0.456f, 0.406f}));
  const ImagePreprocess bgr = parse_image_folder_spec(kFolder + ",bgr", graph_with_input({1, 3, 32, 32})).preprocess;
  EXPECT_EQ(bgr.resize, 36);  // 32 * 256 / 224
  EXPECT_EQ(bgr.crop_width, 32);
  EXPECT_EQ(bgr.mean, (std::vector<float>{0.406f, 0.456f, 0.485f}));
  const ImagePreprocess gray = parse_image_folder_spec(kFolder + ",gray,mean=0.5,std=0.25,resize=40,crop=28",
                                                       graph_with_input({-1, 1, -1, -1})).preprocess;
  EXPECT_TRUE(gray.gray);
  EXPECT_EQ(gray.mean, (std::vector<float>{0.5f}));
  EXPECT_EQ(gray.crop_height, 28);
  EXPECT_EQ(gray.resize, 40);
}

// The UserError message for `spec` on a [1, 3, 10, 10] model, or "".
std::string spec_error(const std::string& spec, Shape shape = {1, 3, 10, 10}) {
  try {
    parse_image_folder_spec(spec, graph_with_input(std::move(shape)));
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

TEST(ImageFolder, BadSpecsNameTheKey) {
  EXPECT_NE(spec_error(kFolder + ",size=3").find("unknown key 'size'"), std::string::npos);
  EXPECT_NE(spec_error(kFolder + ",resize=-4").find("resize=-4"), std::string::npos);
  EXPECT_NE(spec_error(kFolder + ",resize=abc").find("resize=abc"), std::string::npos);
  EXPECT_NE(spec_error(kFolder + ",resize=8").find("resize=8"), std::string::npos);  // below the crop
  EXPECT_NE(spec_error(kFolder + ",crop=12").find("crop=12"), std::string::npos);  // model takes 10
  EXPECT_NE(spec_error(kFolder + ",mean=0.1/0.2").find("mean has 2 values"), std::string::npos);
  EXPECT_NE(spec_error(kFolder + ",std=0.1/x/0.2").find("std=0.1/x/0.2"), std::string::npos);
  EXPECT_NE(spec_error(kFolder + ",std=0").find("std=0"), std::string::npos);
  EXPECT_NE(spec_error(kFolder + ",bgr=1").find("'bgr'"), std::string::npos);
  EXPECT_NE(spec_error(kFolder + ",crop").find("'crop'"), std::string::npos);
  EXPECT_NE(spec_error(kFolder + ",resize=12,resize=14").find("'resize'"), std::string::npos);
  EXPECT_NE(spec_error(kFolder + ",gray").find("gray"), std::string::npos);  // model takes 3 channels
  EXPECT_NE(spec_error(kFolder, {1, 1, 10, 10}).find("add ',gray'"), std::string::npos);
  EXPECT_NE(spec_error(kFolder, {1, 10, 10}).find("rank 3"), std::string::npos);
  EXPECT_NE(spec_error("").find("names no folder"), std::string::npos);
  EXPECT_THROW(make_sample_source({"images:" + kFolder + "/no_such_dir"}, graph_with_input({1, 3, 10, 10}), 10),
               UserError);
}

}  // namespace
}  // namespace ocs
