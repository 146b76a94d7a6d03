// Text-line images with transcripts, for text recognizers (PP-OCR rec and the like):
//   DIR/labels.tsv   one "FILE<TAB>TEXT" per line (FILE relative to DIR, TEXT in UTF-8)
//   DIR/FILE         PNG or JPEG images of single text lines
// scripts/make_text_lines.py writes such a folder (tests/data/text_lines).
//
// Preprocessing is PaddleOCR's resize_norm_img for its CTC recognizers:
//   - height H = the model input's height (48 for PP-OCRv3/v4 rec when the model leaves it
//     dynamic); width = min(ceil(H * w / h), W) where W is the batch width (the spec's width=,
//     default 320, or the model's fixed width): the aspect ratio is kept unless the line is
//     longer than W, in which case it is squeezed to W. Images already of that size are used
//     as they are; others are resized bilinearly (half-pixel centres, as OpenCV's INTER_LINEAR,
//     the result rounded to 8 bits as OpenCV does for 8-bit images);
//   - x -> (x / 255 - 0.5) / 0.5, in [-1, 1];
//   - 3 channels in B, G, R order (PaddleOCR reads images with OpenCV, which gives BGR; gray
//     images have three equal channels), or 1 gray channel for a 1-channel model;
//   - right-padded with 0 (after normalisation, so mid-gray) to W: every sample of every batch
//     is [C, H, W].
#pragma once

#include "data/sample_source.h"

#include <filesystem>
#include <string>
#include <vector>

namespace ocs {

struct TextLineOptions {
  int64_t height = 48;
  int64_t width = 320;
  int64_t channels = 3;  // 1 (gray) or 3 (BGR)
};

struct TextLine {
  std::filesystem::path image;
  std::string text;
};

// Reads DIR/labels.tsv. UserError naming the file and line for a line without a tab, and for
// a folder without labels.
std::vector<TextLine> read_text_line_labels(const std::filesystem::path& dir);

// One line image -> normalised [channels, height, options.width] floats, written to `out`.
void text_line_tensor(const std::filesystem::path& image, const TextLineOptions& options, float* out);

class TextLineSource : public SampleSource {
 public:
  // The first `limit` lines of labels.tsv, `batch` lines per batch, for model input
  // `input_name`; with whole_batches, fewer lines so that every batch is full (for models with
  // a fixed batch size). UserError when that leaves no line.
  TextLineSource(const std::filesystem::path& dir, std::string input_name, TextLineOptions options,
                 int64_t limit, int64_t batch, bool whole_batches = false);
  std::optional<Feed> next() override;
  int64_t size() const override { return static_cast<int64_t>(lines_.size()); }
  void rewind() override { position_ = 0; }
  const std::vector<std::string>* batch_texts() const override { return &batch_texts_; }

 private:
  std::string input_name_;
  TextLineOptions options_;
  std::vector<TextLine> lines_;
  std::vector<std::string> batch_texts_;
  int64_t batch_ = 1;
  int64_t position_ = 0;
};

// A source for the spec "text-lines:DIR[,width=W]" feeding `graph`'s single image input
// [N, C, H, W]: C, H and W are taken from the input where it fixes them (a width= that
// disagrees with a fixed width is a UserError), else C = 3, H = 48, W = width= or 320.
std::unique_ptr<SampleSource> make_text_line_source(const std::string& spec, const Graph& graph,
                                                    int64_t limit);

}  // namespace ocs
