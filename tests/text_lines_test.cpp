// The text-lines reader: spec parsing, labels.tsv errors, padding and normalisation on the
// committed set, and the bilinear resize on an exact 2x downscale (each output pixel is then
// the mean of a 2x2 input block, rounded: half-pixel centres put the source point midway).
#include "core/error.h"
#include "eval/text_lines.h"
#include "io/image.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace ocs {
namespace {

namespace fs = std::filesystem;

const fs::path kLinesDir = fs::path(OCS_SOURCE_DIR) / "tests" / "data" / "text_lines";

// A graph with one image input of the given shape (-1 = dynamic); the reader only reads inputs.
Graph image_input_graph(Shape shape) {
  Graph graph;
  Value input;
  input.name = "x";
  input.dtype = DType::Float32;
  input.shape = std::move(shape);
  graph.inputs.push_back(graph.add_value(std::move(input)));
  return graph;
}

float normalised(uint8_t value) { return (static_cast<float>(value) / 255.0f - 0.5f) / 0.5f; }

TEST(TextLines, PadsNormalisedLinesToTheWidthWithTheirTexts) {
  const Graph graph = image_input_graph({-1, 3, -1, -1});
  auto source = make_text_line_source("text-lines:" + kLinesDir.string() + ",width=400", graph, 3);
  EXPECT_EQ(source->size(), 3);
  auto feed = source->next();
  ASSERT_TRUE(feed);
  const Tensor& x = feed->at("x");
  ASSERT_EQ(x.shape(), (Shape{3, 3, 48, 400}));
  EXPECT_EQ(*source->batch_texts(), (std::vector<std::string>{
                                        "In the beginning God", "created the heaven and",
                                        "And the earth was without"}));
  // Line 0 as stored (48 high, narrower than 400): the same value in all three channels, then 0.
  const Image image = read_image(kLinesDir / "0000.png", 1);
  ASSERT_EQ(image.height, 48);
  ASSERT_LT(image.width, 400);
  const float* data = x.data<float>();
  for (int64_t c = 0; c < 3; ++c)
    for (int64_t y = 0; y < 48; ++y)
      for (int64_t col = 0; col < 400; ++col) {
        const float want = col < image.width ? normalised(image.pixels[static_cast<size_t>(y * image.width + col)]) : 0.0f;
        ASSERT_EQ(data[(c * 48 + y) * 400 + col], want) << "c " << c << " y " << y << " x " << col;
      }
  EXPECT_FALSE(source->next());
  source->rewind();
  EXPECT_TRUE(source->next());
}

TEST(TextLines, ResizesToTheModelHeightKeepingTheAspectRatio) {
  const Image image = read_image(kLinesDir / "0000.png", 1);
  ASSERT_EQ(image.width % 2, 0) << "the test needs an even width";
  // A 1-channel model with height 24: the line is halved in both directions.
  const Graph graph = image_input_graph({1, 1, 24, -1});
  auto source = make_text_line_source("text-lines:" + kLinesDir.string(), graph, 1);
  auto feed = source->next();
  ASSERT_TRUE(feed);
  const Tensor& x = feed->at("x");
  ASSERT_EQ(x.shape(), (Shape{1, 1, 24, 320}));
  const int64_t half_width = image.width / 2;
  auto in = [&](int64_t y, int64_t col) { return image.pixels[static_cast<size_t>(y * image.width + col)]; };
  for (int64_t y = 0; y < 24; ++y)
    for (int64_t col = 0; col < 320; ++col) {
      float want = 0.0f;
      if (col < half_width) {
        const int sum = in(2 * y, 2 * col) + in(2 * y, 2 * col + 1) + in(2 * y + 1, 2 * col) + in(2 * y + 1, 2 * col + 1);
        want = normalised(static_cast<uint8_t>(std::lround(sum / 4.0)));
      }
      ASSERT_EQ(x.data<float>()[y * 320 + col], want) << "y " << y << " x " << col;
    }
}

TEST(TextLines, SqueezesLinesLongerThanTheWidth) {
  const Graph graph = image_input_graph({-1, 3, 48, -1});
  auto source = make_text_line_source("text-lines:" + kLinesDir.string() + ",width=100", graph, 1);
  const Tensor x = source->next()->at("x");
  ASSERT_EQ(x.shape(), (Shape{1, 3, 48, 100}));
  // Dark text somewhere in the last columns: the whole line was squeezed in, not cut.
  float darkest_right = 1.0f;
  for (int64_t y = 0; y < 48; ++y)
    for (int64_t col = 90; col < 100; ++col) darkest_right = std::min(darkest_right, x.data<float>()[y * 100 + col]);
  EXPECT_LT(darkest_right, 0.0f);
}

TEST(TextLines, ReportsBadSpecsAndLabels) {
  const Graph dynamic = image_input_graph({-1, 3, -1, -1});
  EXPECT_THROW(make_text_line_source("text-lines:" + kLinesDir.string() + ",width=abc", dynamic, 10), UserError);
  EXPECT_THROW(make_text_line_source("text-lines:" + kLinesDir.string() + ",width=0", dynamic, 10), UserError);
  EXPECT_THROW(make_text_line_source("text-lines:", dynamic, 10), UserError);
  const Graph fixed_width = image_input_graph({-1, 3, 48, 320});
  EXPECT_THROW(make_text_line_source("text-lines:" + kLinesDir.string() + ",width=400", fixed_width, 10), UserError);
  EXPECT_THROW(make_text_line_source("text-lines:" + kLinesDir.string(), image_input_graph({-1, 4, 48, -1}), 10), UserError);
  EXPECT_THROW(make_text_line_source("text-lines:" + kLinesDir.string(), image_input_graph({-1, 48, -1}), 10), UserError);

  const fs::path dir = fs::temp_directory_path() / ("ocs_text_lines_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  try {
    make_text_line_source("text-lines:" + dir.string(), dynamic, 10);
    ADD_FAILURE() << "expected a UserError for a folder without labels.tsv";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("labels.tsv"), std::string::npos) << e.what();
  }
  std::ofstream(dir / "labels.tsv") << "a.png\tfine\nno tab here\n";
  try {
    make_text_line_source("text-lines:" + dir.string(), dynamic, 10);
    ADD_FAILURE() << "expected a UserError for a line without a tab";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("labels.tsv:2"), std::string::npos) << e.what();
  }
  // A missing image is reported when its batch is read, naming the file.
  std::ofstream(dir / "labels.tsv") << "missing.png\ttext\n";
  auto source = make_text_line_source("text-lines:" + dir.string(), dynamic, 10);
  try {
    source->next();
    ADD_FAILURE() << "expected a UserError for a missing image";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.png"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

TEST(TextLines, FixedBatchModelsGetWholeBatches) {
  auto source = make_text_line_source("text-lines:" + kLinesDir.string(), image_input_graph({4, 3, 48, -1}), 10);
  EXPECT_EQ(source->size(), 8);
  EXPECT_EQ(source->next()->at("x").dim(0), 4);
}

}  // namespace
}  // namespace ocs
