// Every command on models whose node names are all empty, all alike, or whose value names need
// escaping (ir/node_names.h): nothing may depend on the names a model brings. The model is our
// Fashion-MNIST ResNet with its names rewritten; the data are random arrays (no dataset needed).
#include "io/npy.h"
#include "io/wav.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"
#include "ort_runner.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <set>
#include <sys/wait.h>
#include <unistd.h>

namespace ocs {
namespace {
using namespace ocs::testing;
namespace fs = std::filesystem;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

onnx::ModelProto load_proto(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromIstream(&in)) << path;
  return m;
}

void save_proto(const onnx::ModelProto& m, const fs::path& path) {
  std::ofstream out(path, std::ios::binary);
  ASSERT_TRUE(m.SerializeToOstream(&out));
}

// Renames value `from` to `to` everywhere in the main graph.
void rename_value(onnx::GraphProto& g, const std::string& from, const std::string& to) {
  for (auto& n : *g.mutable_node()) {
    for (auto& in : *n.mutable_input()) if (in == from) in = to;
    for (auto& out : *n.mutable_output()) if (out == from) out = to;
  }
  for (auto& v : *g.mutable_input()) if (v.name() == from) v.set_name(to);
  for (auto& v : *g.mutable_output()) if (v.name() == from) v.set_name(to);
}

Tensor random_images(int64_t n, uint32_t seed) { return random_tensor({n, 1, 28, 28}, seed); }

struct Variant {
  const char* label;
  const char* node_name;  // every node gets this name
  const char* input;      // the graph input's new name
  const char* output;     // the graph output's new name
};

class CliNodeIdentity : public ::testing::TestWithParam<Variant> {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / fmt::format("ocs_names_{}_{}", getpid(), GetParam().label);
    fs::remove_all(root_);
    fs::create_directories(root_);
    onnx::ModelProto m = load_proto(fs::path(OCS_SOURCE_DIR) / "models" / "fashion_resnet.onnx");
    auto* g = m.mutable_graph();
    for (auto& n : *g->mutable_node()) n.set_name(GetParam().node_name);
    input_ = GetParam().input;
    rename_value(*g, g->input(0).name(), input_);
    rename_value(*g, g->output(0).name(), GetParam().output);
    model_ = root_ / "model.onnx";
    save_proto(m, model_);
    write_npy(root_ / "x.npy", random_images(8, 1));
    write_npy(root_ / "calib.npy", random_images(16, 2));
  }
  void TearDown() override { fs::remove_all(root_); }

  // Runs ocs with `args`; returns its exit code and keeps what it said in said_.
  int ocs(const std::vector<std::string>& args) {
    std::string command = shell_quote(OCS_BINARY);
    for (const auto& a : args) command += " " + shell_quote(a);
    command += " > " + shell_quote((root_ / "said.txt").string()) + " 2>&1";
    const int status = std::system(command.c_str());
    std::ifstream in(root_ / "said.txt");
    said_.assign(std::istreambuf_iterator<char>(in), {});
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string feed(const std::string& file) const { return input_ + "=" + (root_ / file).string(); }
  std::vector<std::string> quantize(const std::string& out, std::vector<std::string> extra) const {
    std::vector<std::string> args = {"quantize", model_.string(), (root_ / out).string(), "--calib",
                                     feed("calib.npy"), "--calib-samples", "16", "--force"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  Tensor run_ours(const fs::path& model, const std::string& dir) {
    EXPECT_EQ(ocs({"run", model.string(), "--input", feed("x.npy"), "--output-dir", (root_ / dir).string()}), 0) << said_;
    return read_npy(root_ / dir / (escape_file_name(GetParam().output) + ".npy"));
  }

  fs::path root_, model_;
  std::string input_, said_;
};

void expect_unique_node_names(const fs::path& path) {
  onnx::ModelProto m = load_proto(path);
  std::set<std::string> names;
  for (const auto& n : m.graph().node()) {
    EXPECT_FALSE(n.name().empty()) << path;
    EXPECT_TRUE(names.insert(n.name()).second) << path << ": node name '" << n.name() << "' repeated";
  }
}

TEST_P(CliNodeIdentity, EveryCommandWorks) {
  ASSERT_EQ(ocs({"inspect", model_.string()}), 0) << said_;
  EXPECT_NE(said_.find("Conv"), std::string::npos) << said_;
  const Tensor float_out = run_ours(model_, "float_out");

  for (const auto& [file, extra] : std::vector<std::pair<std::string, std::vector<std::string>>>{
           {"qdq.onnx", {"--wbits", "6", "--abits", "8", "--ocs-ratio", "0.02"}},
           {"weights.onnx", {"--wbits", "6", "--abits", "0", "--ocs-ratio", "0.05", "--per-channel"}},
           {"act_ocs.onnx", {"--wbits", "8", "--abits", "8", "--act-ocs-ratio", "0.05", "--quantize-first-last"}}}) {
    SCOPED_TRACE(file);
    ASSERT_EQ(ocs(quantize(file, extra)), 0) << said_;
    expect_unique_node_names(root_ / file);
    const Tensor q = run_ours(root_ / file, file + "_out");
    EXPECT_EQ(q.shape(), float_out.shape());
  }
  ASSERT_EQ(ocs({"eval", (root_ / "qdq.onnx").string(), "--data", feed("x.npy"), "--reference", model_.string(),
                 "--per-layer"}), 0) << said_;
  EXPECT_NE(said_.find("SQNR"), std::string::npos) << said_;

  // A generated or deduplicated name is a name like any other: --exclude takes it.
  const Graph imported = import_onnx_file(model_);
  std::string second_conv;
  int convs = 0;
  for (const Node& n : imported.nodes)
    if (n.op_type == "Conv" && ++convs == 2) second_conv = n.name;
  ASSERT_EQ(ocs(quantize("excluded.onnx", {"--exclude", second_conv, "--report", (root_ / "r.json").string()})), 0) << said_;
  std::ifstream report(root_ / "r.json");
  const std::string text((std::istreambuf_iterator<char>(report)), {});
  EXPECT_NE(text.find("\"" + second_conv + "\""), std::string::npos);
  EXPECT_NE(text.find("--exclude"), std::string::npos);

  ASSERT_EQ(ocs({"sweep", model_.string(), "--calib", feed("calib.npy"), "--calib-samples", "16", "--data",
                 feed("x.npy"), "--metric", "fidelity", "--wbits", "8,6", "--ocs-ratio", "0,0.02", "--wclip", "max",
                 "--output-dir", (root_ / "sweep").string()}), 0) << said_;
  EXPECT_TRUE(fs::exists(root_ / "sweep" / "results.csv"));
}

// The split-float export is the float network with channels split: equal to the original, in
// our engine and in ONNX Runtime (which refuses two nodes of one name).
TEST_P(CliNodeIdentity, SplitFloatEqualsTheOriginal) {
  ASSERT_EQ(ocs(quantize("split.onnx", {"--format", "split-float", "--ocs-ratio", "0.1", "--act-ocs-ratio", "0.05"})), 0) << said_;
  expect_unique_node_names(root_ / "split.onnx");
  const Tensor original = run_ours(model_, "orig_out");
  const Tensor split = run_ours(root_ / "split.onnx", "split_out");
  EXPECT_TRUE(tensors_close(split, original, 1e-5, 1e-4));
  if (!ort_available()) OCS_SKIP_OR_FAIL("onnxruntime-node not found in " << ocs_cache() / "ort");
  const Graph graph = import_onnx_file(root_ / "split.onnx");
  EXPECT_TRUE(tensors_close(run_ort(graph, {{input_, read_npy(root_ / "x.npy")}}, root_ / "ort"), original, 1e-5, 1e-4));
}

// ocs stream on a stateful model whose nodes are unnamed: y = ReduceSum(x) + s, s' = y.
TEST(CliNodeIdentityStream, UnnamedStreamingModel) {
  const fs::path root = fs::temp_directory_path() / fmt::format("ocs_names_stream_{}", getpid());
  fs::create_directories(root);
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 4});
  *g->add_input() = value_info("s", {1, 1});
  *g->add_output() = value_info("y", {1, 1});
  *g->add_output() = value_info("s_next", {1, 1});
  tensor_to_proto(Tensor::from_vector<int64_t>({1}, {1}), "axes", g->add_initializer());
  *g->add_node() = node("ReduceSum", {"x", "axes"}, {"total"}, "");
  *g->add_node() = node("Add", {"total", "s"}, {"y"}, "");
  *g->add_node() = node("Identity", {"y"}, {"s_next"}, "");
  save_proto(m, root / "m.onnx");
  write_wav(root / "a.wav", std::vector<float>(64, 0.25f), 16000);
  const std::string command = fmt::format("{} stream {} --audio {} --chunk 4 --state s=s_next --output {} > {} 2>&1",
                                          shell_quote(OCS_BINARY), shell_quote((root / "m.onnx").string()),
                                          shell_quote((root / "a.wav").string()), shell_quote((root / "scores.csv").string()),
                                          shell_quote((root / "said.txt").string()));
  const int status = std::system(command.c_str());
  std::ifstream said(root / "said.txt");
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << std::string(std::istreambuf_iterator<char>(said), {});
  std::ifstream scores(root / "scores.csv");
  const std::string text((std::istreambuf_iterator<char>(scores)), {});
  EXPECT_NE(text.find('\n'), std::string::npos) << text;
  fs::remove_all(root);
}

INSTANTIATE_TEST_SUITE_P(Names, CliNodeIdentity,
                         ::testing::Values(Variant{"unnamed", "", "input", "output"},
                                           Variant{"all_alike", "n", "input", "output"},
                                           Variant{"escaped", "", "image:0/ in", "logits/out:0 %"}),
                         [](const auto& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace ocs
