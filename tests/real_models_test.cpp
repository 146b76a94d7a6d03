// Real models against ONNX Runtime: `ocs run` on the golden inputs that scripts/make_golden.sh
// made in $OCS_CACHE/golden/<case>/ (PP-OCRv4 det/rec, PP-OCR cls, the small torch CNN, Silero
// VAD at 16 and 8 kHz), compared with ONNX Runtime 1.30's outputs.
//
// Metric, per output: max |got - want| <= 1e-4 * max |want|. It is relative to the output's
// own scale, so it means the same for a sigmoid map in [0, 1] and for logits in the hundreds,
// and it is a max (not a mean): one wrong pixel of a 640x640 map fails it. 1e-4 leaves room for
// float32 summation-order differences through ~100 layers (ONNX Runtime agrees with PyTorch on
// the small CNN to 6e-8 absolute) while any real kernel bug is orders of magnitude larger.
// Integer and bool outputs must match exactly.
//
// Skips, with a message, when the golden files are absent (run scripts/make_golden.sh) and while
// ocs still lacks an op a model uses (`ocs run` says "does not implement"); both are failures
// when OCS_REQUIRE_REAL_MODELS is set (CI).
#include "engine/session.h"
#include "io/npy.h"
#include "onnx/onnx_io.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

namespace ocs {
namespace {

namespace fs = std::filesystem;

constexpr double kRelativeTolerance = 1e-4;

fs::path golden_root() { return testing::ocs_cache() / "golden"; }

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Inverse of escape_file_name (the golden file names are escaped tensor names).
std::string unescape_file_name(const std::string& escaped) {
  if (escaped == "%") return "";
  std::string out;
  for (size_t i = 0; i < escaped.size(); ++i) {
    if (escaped[i] == '%' && i + 2 < escaped.size()) {
      out += static_cast<char>(std::stoi(escaped.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += escaped[i];
    }
  }
  return out;
}

// Empty when `got` matches `want` under the metric above; otherwise what differs.
std::string compare_outputs(const Tensor& got, const Tensor& want) {
  const testing::Difference d = testing::compare_tensors(got, want);
  if (!d.comparable()) return d.broken;
  const bool exact = want.dtype() != DType::Float32 && want.dtype() != DType::Float64;
  // An all-zero reference still gets a small absolute allowance.
  const double allowed = exact ? 0.0 : std::max(kRelativeTolerance * d.max_expected, 1e-7);
  if (d.max_abs <= allowed) return "";
  const std::vector<double> g = got.to_double_vector(), w = want.to_double_vector();
  double error_energy = 0, want_energy = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    error_energy += (g[i] - w[i]) * (g[i] - w[i]);
    want_energy += w[i] * w[i];
  }
  return fmt::format("{} exceeds {:.3g} (= {} x max |want|); NMSE {:.3g}", d.describe(), allowed,
                     kRelativeTolerance, want_energy > 0 ? error_energy / want_energy : error_energy);
}

TEST(RealModelsCompare, MetricAcceptsSmallAndRejectsLargeErrors) {
  const Tensor want = Tensor::from_vector<float>({4}, {0.5f, -100.0f, 3.0f, 0.0f});
  EXPECT_EQ(compare_outputs(want, want), "");
  // 1e-4 * 100 = 1e-2 allowed anywhere, even on the small elements.
  EXPECT_EQ(compare_outputs(Tensor::from_vector<float>({4}, {0.509f, -100.0f, 3.0f, 0.0f}), want),
            "");
  EXPECT_NE(compare_outputs(Tensor::from_vector<float>({4}, {0.52f, -100.0f, 3.0f, 0.0f}), want)
                .find("flat index 0"),
            std::string::npos);
  EXPECT_NE(compare_outputs(Tensor::from_vector<float>({4}, {0.5f, NAN, 3.0f, 0.0f}), want), "");
  EXPECT_NE(compare_outputs(Tensor::from_vector<float>({2, 2}, {0.5f, -100.0f, 3.0f, 0.0f}), want)
                .find("shape"),
            std::string::npos);
  EXPECT_NE(compare_outputs(Tensor::from_vector<int64_t>({2}, {1, 2}),
                            Tensor::from_vector<int64_t>({2}, {1, 3})),
            "");
  EXPECT_EQ(unescape_file_name(escape_file_name("softmax_11.tmp_0")), "softmax_11.tmp_0");
  EXPECT_EQ(unescape_file_name(escape_file_name("a/b:c%")), "a/b:c%");
  EXPECT_EQ(unescape_file_name(escape_file_name(".x")), ".x");
  EXPECT_EQ(unescape_file_name(escape_file_name("")), "");
}

class RealModels : public ::testing::TestWithParam<const char*> {};

TEST_P(RealModels, OcsRunMatchesOnnxRuntime) {
  const std::string name = GetParam();
  const fs::path dir = golden_root() / name;
  if (!fs::exists(dir / ".stamp") || !fs::exists(dir / "model"))
    OCS_SKIP_OR_FAIL("no golden files in " << dir << " (run scripts/fetch_models.sh and scripts/make_golden.sh)");
  std::string model = read_text(dir / "model");
  while (!model.empty() && (model.back() == '\n' || model.back() == '\r')) model.pop_back();
  if (!fs::exists(model))
    OCS_SKIP_OR_FAIL("model " << model << " named in " << dir / "model" << " is missing (run scripts/fetch_models.sh)");

  std::string command = std::string(OCS_BINARY) + " run " + shell_quote(model);
  for (const auto& entry : fs::directory_iterator(dir / "inputs")) {
    if (entry.path().extension() != ".npy") continue;
    const std::string input = unescape_file_name(entry.path().stem().string());
    command += " -i " + shell_quote(input + "=" + entry.path().string());
  }
  const fs::path out_dir = fs::temp_directory_path() /
                           ("ocs_real_models_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(out_dir);
  const fs::path log = out_dir.string() + ".log";
  command += " -o " + shell_quote(out_dir.string()) + " --threads 2 >" +
             shell_quote(log.string()) + " 2>&1";
  const int status = std::system(command.c_str());
  const std::string output = read_text(log);
  fs::remove(log);
  if (status != 0 && output.find("does not implement") != std::string::npos) {
    fs::remove_all(out_dir);
    OCS_SKIP_OR_FAIL(name << ": ocs does not implement every op of " << model << " yet:\n" << output.substr(0, 2000));
  }
  ASSERT_EQ(status, 0) << command << "\n" << output;

  std::set<std::string> expected_files;
  for (const auto& entry : fs::directory_iterator(dir / "expected")) {
    const std::string file = entry.path().filename().string();
    expected_files.insert(file);
    const fs::path got_path = out_dir / file;
    if (!fs::exists(got_path)) {
      ADD_FAILURE() << name << ": ocs wrote no " << got_path;
      continue;
    }
    const std::string mismatch = compare_outputs(read_npy(got_path), read_npy(entry.path()));
    EXPECT_EQ(mismatch, "") << name << " output '"
                            << unescape_file_name(entry.path().stem().string()) << "'";
  }
  for (const auto& entry : fs::directory_iterator(out_dir))
    EXPECT_TRUE(expected_files.count(entry.path().filename().string()))
        << name << ": ocs wrote an output ONNX Runtime did not: " << entry.path();
  fs::remove_all(out_dir);
}

// Import -> export -> import -> run gives outputs identical to the first import's, bit for bit,
// and ONNX Runtime runs the exported file to the same golden outputs.
TEST_P(RealModels, ExportRoundTripIsIdenticalAndRunsInOnnxRuntime) {
  const std::string name = GetParam();
  const fs::path dir = golden_root() / name;
  if (!fs::exists(dir / ".stamp") || !fs::exists(dir / "model"))
    OCS_SKIP_OR_FAIL("no golden files in " << dir << " (run scripts/fetch_models.sh and scripts/make_golden.sh)");
  std::string model = read_text(dir / "model");
  while (!model.empty() && (model.back() == '\n' || model.back() == '\r')) model.pop_back();
  if (!fs::exists(model))
    OCS_SKIP_OR_FAIL("model " << model << " named in " << dir / "model" << " is missing (run scripts/fetch_models.sh)");
  std::map<std::string, Tensor> inputs;
  for (const auto& entry : fs::directory_iterator(dir / "inputs"))
    if (entry.path().extension() == ".npy")
      inputs[unescape_file_name(entry.path().stem().string())] = read_npy(entry.path());

  Graph first = import_onnx_file(model);
  const std::string bytes = export_onnx_bytes(first);
  auto original = std::make_shared<const Graph>(std::move(first));
  auto again = std::make_shared<const Graph>(import_onnx_bytes(bytes, ".", "exported " + name));
  auto want = Session(original).run(inputs);
  auto got = Session(again).run(inputs);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].shape(), want[i].shape());
    ASSERT_EQ(got[i].nbytes(), want[i].nbytes());
    EXPECT_EQ(std::memcmp(got[i].raw(), want[i].raw(), got[i].nbytes()), 0) << name << " output " << i;
  }

  const fs::path ort = golden_root().parent_path() / "ort";
  if (!fs::exists(ort / "node_modules" / "onnxruntime-node"))
    OCS_SKIP_OR_FAIL("onnxruntime-node is not installed in " << ort << " (run scripts/fetch_models.sh)");
  const fs::path work = fs::temp_directory_path() / ("ocs_roundtrip_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(work);
  fs::create_directories(work);
  std::ofstream(work / "exported.onnx", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::string command = "node " + shell_quote(std::string(OCS_SOURCE_DIR) + "/scripts/ort_run.js") + " " +
                        shell_quote((work / "exported.onnx").string()) + " " + shell_quote((work / "out").string());
  for (const auto& entry : fs::directory_iterator(dir / "inputs"))
    if (entry.path().extension() == ".npy")
      command += " " + shell_quote(unescape_file_name(entry.path().stem().string()) + "=" + entry.path().string());
  command += " > " + shell_quote((work / "log").string()) + " 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command << "\n" << read_text(work / "log");
  for (const auto& entry : fs::directory_iterator(dir / "expected"))
    EXPECT_EQ(compare_outputs(read_npy(work / "out" / entry.path().filename()), read_npy(entry.path())), "")
        << name << ": ONNX Runtime on the exported model, output " << entry.path().filename();
  fs::remove_all(work);
}

INSTANTIATE_TEST_SUITE_P(Golden, RealModels,
                         ::testing::Values("small_cnn", "ppocr_cls", "ppocr_rec", "ppocr_det",
                                           "silero_vad_16k", "silero_vad_8k"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace ocs
