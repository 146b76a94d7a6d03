// Runs the built `ocs` binary on broken and hostile inputs made in a temporary folder. Every
// case must end as a user error (exit code 2) whose message names the file, tensor or node at
// fault, leave its input files byte for byte unchanged, and write no output files.
#include "core/tensor.h"
#include "io/npy.h"
#include "model_builder.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

namespace ocs {
namespace {
namespace fs = std::filesystem;
using namespace ocs::testing;

struct Outcome {
  int exit_code = -1;
  std::string said;  // stdout and stderr together
};

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// y = Conv(x, w), x [1, 1, 8, 8], w [2, 1, 3, 3] all ones (or `weight`).
onnx::ModelProto conv_model(const Tensor* weight = nullptr, const std::string& op = "Conv",
                            const std::string& domain = "") {
  onnx::ModelProto m = model(13);
  if (!domain.empty()) {
    auto* opset = m.add_opset_import();
    opset->set_domain(domain);
    opset->set_version(1);
  }
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 1, 8, 8});
  *g->add_output() = value_info("y", {1, 2, 6, 6});
  const Tensor ones = Tensor::from_vector<float>({2, 1, 3, 3}, std::vector<float>(18, 1.0f));
  tensor_to_proto(weight ? *weight : ones, "w", g->add_initializer());
  auto n = node(op, {"x", "w"}, {"y"}, "the_node");
  n.set_domain(domain);
  *g->add_node() = n;
  return m;
}

onnx::ModelProto external_model(const std::string& location) {
  onnx::ModelProto m = conv_model();
  auto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_raw_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  for (auto [key, value] : {std::pair<std::string, std::string>{"location", location},
                            {"offset", "0"}, {"length", "72"}}) {
    auto* entry = w->add_external_data();
    entry->set_key(key);
    entry->set_value(value);
  }
  return m;
}

class CliBadInputs : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ocs_cli_bad_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    models_ = root_ / "models";
    fs::create_directories(models_);
    secret_ = root_ / "secret.bin";
    std::string secret_bytes;
    for (int i = 0; i < 8; ++i) secret_bytes += "TOPSECRET";
    write_file(secret_, secret_bytes);
    good_ = models_ / "good.onnx";
    write_file(good_, serialize(conv_model()));
    x_ok_ = root_ / "x_ok.npy";
    write_npy(x_ok_, Tensor::from_vector<float>({1, 1, 8, 8}, std::vector<float>(64, 1.0f)));
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(root_, fs::perms::owner_all, fs::perm_options::add, ec);
    for (const auto& entry : fs::recursive_directory_iterator(root_, ec))
      fs::permissions(entry.path(), fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(root_, ec);
  }

  fs::path model_file(const std::string& name, const std::string& bytes) {
    fs::path p = models_ / name;
    write_file(p, bytes);
    return p;
  }

  Outcome ocs(const std::vector<std::string>& args) {
    const fs::path out = root_ / "said.txt";
    std::string command = quote(OCS_BINARY);
    for (const auto& a : args) command += " " + quote(a);
    command += " > " + quote(out.string()) + " 2>&1";
    const int status = std::system(command.c_str());
    Outcome outcome;
    outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    outcome.said = read_file(out);
    fs::remove(out);
    return outcome;
  }

  // Runs `ocs run MODEL --input x=INPUT --output-dir OUT` (and, unless `run_only`, `ocs inspect
  // MODEL`) and checks the contract: exit 2, each of `mentions` in the message, nothing leaked,
  // the inputs unchanged and no output file written.
  void expect_user_error(const std::string& label, const fs::path& model_path, const fs::path& input,
                         const std::vector<std::string>& mentions, bool run_only = false,
                         const fs::path& out_dir = {}) {
    SCOPED_TRACE(label);
    const fs::path out = out_dir.empty() ? root_ / "out" : out_dir;
    std::map<fs::path, std::string> before;
    for (const fs::path& p : {model_path, input, secret_})
      if (fs::exists(p) && fs::is_regular_file(p)) before[p] = read_file(p);
    std::vector<std::vector<std::string>> commands = {
        {"run", model_path.string(), "--input", "x=" + input.string(), "--output-dir", out.string()}};
    if (!run_only) commands.push_back({"inspect", model_path.string()});
    for (const auto& command : commands) {
      const Outcome r = ocs(command);
      SCOPED_TRACE(command[0] + " said: " + r.said);
      EXPECT_EQ(r.exit_code, 2);
      EXPECT_NE(r.said.find("error: "), std::string::npos);
      EXPECT_EQ(r.said.find("TOPSECRET"), std::string::npos);
      EXPECT_EQ(r.said.find("bug in ocs"), std::string::npos);
      for (const auto& m : mentions) {
        if (command[0] == "run" || m != input.filename().string()) {
          EXPECT_NE(r.said.find(m), std::string::npos) << "message should mention " << m;
        }
      }
    }
    for (const auto& [p, bytes] : before) EXPECT_EQ(read_file(p), bytes) << p << " changed";
    std::error_code ec;
    if (fs::is_directory(out, ec))
      for (const auto& entry : fs::directory_iterator(out, ec))
        ADD_FAILURE() << "output written: " << entry.path();
  }

  fs::path root_, models_, secret_, good_, x_ok_;
};

TEST_F(CliBadInputs, BrokenModelFiles) {
  const std::string good_bytes = read_file(good_);
  expect_user_error("empty file", model_file("empty.onnx", ""), x_ok_, {"empty.onnx", "empty"});
  std::mt19937 rng(1234);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng() & 0xFF);
  expect_user_error("random bytes", model_file("random.onnx", noise), x_ok_, {"random.onnx"});
  expect_user_error("truncated", model_file("trunc.onnx", good_bytes.substr(0, good_bytes.size() / 2)),
                    x_ok_, {"trunc.onnx"});
  expect_user_error("missing model", models_ / "nope.onnx", x_ok_, {"nope.onnx"});
  expect_user_error("folder as model", models_, x_ok_, {models_.string()});
}

TEST_F(CliBadInputs, BrokenModelContents) {
  expect_user_error("unknown op",
                    model_file("unknown.onnx", serialize(conv_model(nullptr, "FrobnicateOp", "com.example"))),
                    x_ok_, {"FrobnicateOp", "the_node"}, /*run_only=*/true);
  std::vector<float> weights(18, 1.0f);
  weights[4] = std::nanf("");
  const Tensor nan_weight = Tensor::from_vector<float>({2, 1, 3, 3}, weights);
  expect_user_error("NaN weight", model_file("nan.onnx", serialize(conv_model(&nan_weight))), x_ok_,
                    {"'w'", "NaN", "nan.onnx"}, /*run_only=*/true);
  onnx::ModelProto huge = conv_model();
  auto* w = huge.mutable_graph()->mutable_initializer(0);
  w->clear_dims();
  for (int64_t d : {int64_t{1} << 20, int64_t{1} << 20, int64_t{1} << 10, int64_t{1}}) w->add_dims(d);
  expect_user_error("dims without data", model_file("huge.onnx", serialize(huge)), x_ok_,
                    {"'w'", "huge.onnx"});
  // A node reading a value nothing defines.
  onnx::ModelProto dangling = conv_model();
  dangling.mutable_graph()->mutable_node(0)->set_input(1, "ghost");
  expect_user_error("undefined value", model_file("dangling.onnx", serialize(dangling)), x_ok_,
                    {"ghost", "dangling.onnx"});
}

TEST_F(CliBadInputs, ExternalDataOutsideTheModelFolder) {
  expect_user_error("external ../", model_file("ext_rel.onnx", serialize(external_model("../secret.bin"))),
                    x_ok_, {"'w'", "../secret.bin"});
  expect_user_error("external absolute",
                    model_file("ext_abs.onnx", serialize(external_model(secret_.string()))), x_ok_,
                    {"'w'", secret_.string()});
  // A symlink inside the folder that points outside it.
  fs::create_symlink(secret_, models_ / "link.bin");
  expect_user_error("external symlink", model_file("ext_link.onnx", serialize(external_model("link.bin"))),
                    x_ok_, {"'w'", "link.bin"});
  expect_user_error("external missing", model_file("ext_missing.onnx", serialize(external_model("absent.bin"))),
                    x_ok_, {"'w'", "absent.bin"});
}

TEST_F(CliBadInputs, BrokenInputs) {
  const fs::path x_shape = root_ / "x_shape.npy";
  write_npy(x_shape, Tensor::from_vector<float>({1, 3, 5, 5}, std::vector<float>(75, 1.0f)));
  expect_user_error("wrong input shape", good_, x_shape, {"'x'", "[1, 3, 5, 5]"}, true);
  const fs::path x_int = root_ / "x_int.npy";
  write_npy(x_int, Tensor::from_vector<int32_t>({1, 1, 8, 8}, std::vector<int32_t>(64, 1)));
  expect_user_error("wrong dtype", good_, x_int, {"'x'", "float32", "int32"}, true);
  const fs::path garbage = root_ / "x_garbage.npy";
  write_file(garbage, "\x93NUMPY garbage");
  expect_user_error("garbage .npy", good_, garbage, {"x_garbage.npy"}, true);
  const fs::path truncated = root_ / "x_trunc.npy";
  const std::string full = serialize_npy(Tensor::from_vector<float>({1, 1, 8, 8}, std::vector<float>(64, 1.0f)));
  write_file(truncated, full.substr(0, full.size() - 10));
  expect_user_error("truncated .npy", good_, truncated, {"x_trunc.npy"}, true);
  const fs::path empty = root_ / "x_empty.npy";
  write_file(empty, "");
  expect_user_error("empty .npy", good_, empty, {"x_empty.npy"}, true);
  expect_user_error("missing .npy", good_, root_ / "nope.npy", {"nope.npy"}, true);

  // An input the model does not have, and one it needs but was not given.
  Outcome unknown = ocs({"run", good_.string(), "--input", "x=" + x_ok_.string(), "--input",
                         "z=" + x_ok_.string(), "--output-dir", (root_ / "out").string()});
  EXPECT_EQ(unknown.exit_code, 2) << unknown.said;
  EXPECT_NE(unknown.said.find("'z'"), std::string::npos) << unknown.said;
  Outcome missing = ocs({"run", good_.string(), "--output-dir", (root_ / "out").string()});
  EXPECT_EQ(missing.exit_code, 2) << missing.said;
  EXPECT_NE(missing.said.find("'x'"), std::string::npos) << missing.said;
  EXPECT_FALSE(fs::exists(root_ / "out" / "y.npy"));
}

TEST_F(CliBadInputs, OutputFolderProblems) {
  // The output "folder" is a file: refused, and the file is left alone.
  const fs::path file = root_ / "not_a_folder";
  write_file(file, "keep me");
  expect_user_error("output dir is a file", good_, x_ok_, {file.string()}, true, file);
  EXPECT_EQ(read_file(file), "keep me");

  // The output folder cannot be written to. root ignores permission bits, so there the test
  // uses /proc/self, a folder nobody can create files in.
  fs::path locked = root_ / "locked";
  if (::geteuid() != 0) {
    fs::create_directories(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
  } else {
    locked = "/proc/self";
  }
  const Outcome r = ocs({"run", good_.string(), "--input", "x=" + x_ok_.string(), "--output-dir",
                         locked.string()});
  EXPECT_EQ(r.exit_code, 2) << r.said;
  EXPECT_NE(r.said.find(locked.string()), std::string::npos) << r.said;
  EXPECT_FALSE(fs::exists(locked / "y.npy"));

  // A folder named like the output file is in the way: an error naming it, and no temporary
  // file is left behind.
  const fs::path out = root_ / "blocked";
  fs::create_directories(out / "y.npy");
  const Outcome blocked = ocs({"run", good_.string(), "--input", "x=" + x_ok_.string(),
                               "--output-dir", out.string()});
  EXPECT_EQ(blocked.exit_code, 2) << blocked.said;
  EXPECT_NE(blocked.said.find("y.npy"), std::string::npos) << blocked.said;
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(out)) {
    ++entries;
    EXPECT_EQ(entry.path().filename(), "y.npy");
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(CliBadInputs, GoodRunStillWorks) {
  // The fixture's model and input are fine: the contract above is not met by refusing everything.
  const Outcome r = ocs({"run", good_.string(), "--input", "x=" + x_ok_.string(), "--output-dir",
                         (root_ / "out").string()});
  ASSERT_EQ(r.exit_code, 0) << r.said;
  const Tensor y = read_npy(root_ / "out" / "y.npy");
  ASSERT_EQ(y.shape(), (Shape{1, 2, 6, 6}));
  for (float v : y.to_vector<float>()) EXPECT_EQ(v, 9.0f);  // 3x3 ones over ones
}

}  // namespace
}  // namespace ocs
