// PP-OCRv4 recognition end to end on the committed text-line set (tests/data/text_lines),
// against ONNX Runtime. scripts/make_golden.sh (case ppocr_rec_lines) writes, in
// $OCS_CACHE/golden/ppocr_rec_lines/:
//   inputs/x.npy                  the first 20 lines preprocessed in NumPy as PaddleOCR does
//   expected/softmax_11.tmp_0.npy ONNX Runtime's output for them, [20, 40, 6625]
// Checks, in order:
//   1. ocs' text-lines reader gives the same input tensor as the NumPy preprocessing
//      (|difference| <= 1e-6: float32 vs float64-then-rounded arithmetic of (x/255-0.5)/0.5);
//   2. the engine's output, greedy-CTC-decoded with the key file, gives exactly the strings
//      that ONNX Runtime's output decodes to with the same decoder;
//   3. those strings are good OCR: CER against the labels below 5% (the whole set of 600
//      lines measures about 1%), so the preprocessing is what the model was trained on;
//   4. `ocs eval --data text-lines:... --metric cer --limit 20 --json` reports the same CER
//      and line accuracy as 2. and 3. computed here.
// Skips when the golden files or the model are absent, fails instead when OCS_REQUIRE_REAL_MODELS
// is set (CI makes them first and sets it).
#include "engine/session.h"
#include "eval/ctc.h"
#include "eval/text_lines.h"
#include "eval/text_metrics.h"
#include "io/npy.h"
#include "onnx/onnx_io.h"
#include "ort_runner.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <unistd.h>

namespace ocs {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kLines = 20;

std::string read_model_path(const fs::path& file) {
  std::ifstream in(file);
  std::string model;
  std::getline(in, model);
  return model;
}

TEST(OcrEndToEnd, PpOcrV4RecDecodesLikeOnnxRuntime) {
  const fs::path golden = testing::ocs_cache() / "golden" / "ppocr_rec_lines";
  const fs::path keys_file = testing::ocs_cache() / "models" / "ppocr_keys_v1.txt";
  if (!fs::exists(golden / ".stamp") || !fs::exists(keys_file))
    OCS_SKIP_OR_FAIL("no golden files in " << golden << " or no " << keys_file
                     << " (run scripts/fetch_models.sh and scripts/make_golden.sh)");
  const std::string model = read_model_path(golden / "model");
  if (!fs::exists(model)) OCS_SKIP_OR_FAIL(model << " is missing (run scripts/fetch_models.sh)");
  const fs::path lines_dir = fs::path(OCS_SOURCE_DIR) / "tests" / "data" / "text_lines";

  // 1. The reader against NumPy's preprocessing.
  const Tensor want_input = read_npy(golden / "inputs" / "x.npy");
  ASSERT_EQ(want_input.shape(), (Shape{kLines, 3, 48, 320}));
  auto graph = std::make_shared<const Graph>(import_onnx_file(model));
  auto source = make_text_line_source("text-lines:" + lines_dir.string(), *graph, kLines);
  ASSERT_EQ(source->size(), kLines);
  std::vector<std::string> labels;
  Tensor input(DType::Float32, want_input.shape());
  int64_t filled = 0;
  const int64_t sample = 3 * 48 * 320;
  while (auto feed = source->next()) {
    const Tensor& x = feed->at("x");
    std::copy(x.data<float>(), x.data<float>() + x.numel(), input.data<float>() + filled * sample);
    filled += x.dim(0);
    labels.insert(labels.end(), source->batch_texts()->begin(), source->batch_texts()->end());
  }
  ASSERT_EQ(filled, kLines);
  EXPECT_TRUE(testing::tensors_close(input, want_input, 1e-6))
      << "the text-lines reader differs from the NumPy preprocessing";

  // 2. Decoded text: ocs' engine vs ONNX Runtime, through the same decoder.
  Session session(graph);
  const std::vector<Tensor> outputs = session.run({{"x", input}});
  const Tensor ort_output = read_npy(golden / "expected" / "softmax_11.tmp_0.npy");
  ASSERT_EQ(outputs.at(0).shape(), ort_output.shape());
  const CtcDecoder decoder(read_ctc_keys(keys_file), ort_output.dim(2), keys_file.string());
  const std::vector<std::string> ours = decoder.decode(outputs.at(0));
  const std::vector<std::string> theirs = decoder.decode(ort_output);
  ASSERT_EQ(ours.size(), static_cast<size_t>(kLines));
  for (int64_t i = 0; i < kLines; ++i)
    EXPECT_EQ(ours[static_cast<size_t>(i)], theirs[static_cast<size_t>(i)])
        << "line " << i << " (label '" << labels[static_cast<size_t>(i)] << "')";

  // 3. And the text is right, mostly.
  TextAccuracy accuracy;
  for (int64_t i = 0; i < kLines; ++i) accuracy.add(theirs[static_cast<size_t>(i)], labels[static_cast<size_t>(i)]);
  EXPECT_LT(accuracy.cer(), 0.05) << "ONNX Runtime's text is far from the labels: preprocessing?";

  // 4. The CLI reports the same numbers.
  const fs::path json = fs::temp_directory_path() / ("ocs_ocr_eval_" + std::to_string(::getpid()) + ".json");
  const fs::path log = json.string() + ".log";
  const std::string command = fmt::format(
      "'{}' eval '{}' --data 'text-lines:{}' --metric cer --keys '{}' --limit {} --threads 2 "
      "--json '{}' >'{}' 2>&1", OCS_BINARY, model, lines_dir.string(), keys_file.string(), kLines,
      json.string(), log.string());
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const auto result = nlohmann::json::parse(std::ifstream(json));
  EXPECT_DOUBLE_EQ(result.at("cer").get<double>(), accuracy.cer());
  EXPECT_DOUBLE_EQ(result.at("line_accuracy").get<double>(), accuracy.line_accuracy());
  EXPECT_EQ(result.at("lines").get<int64_t>(), kLines);
  fs::remove(json);
  fs::remove(log);
}

}  // namespace
}  // namespace ocs
