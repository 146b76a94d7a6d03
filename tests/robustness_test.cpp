// Regression tests for failures found on third-party models (issue 9, classes 3 to 7), each on
// a structure built here: output names too long for a file, layers inside If branches whose
// weights are the outer graph's initializers, rank-0 and batch-on-axis-1 inputs fed from arrays,
// models that are already quantized, and fidelity / progress / fixed inputs of `ocs eval`.
#include "analysis/integer_layers.h"
#include "analysis/subgraph_layers.h"
#include "analysis/weight_stats.h"
#include "data/sample_source.h"
#include "engine/session.h"
#include "eval/metric.h"
#include "eval/replay_source.h"
#include "eval/sample_source_spec.h"
#include "eval/topk_fidelity.h"
#include "io/atomic_file.h"
#include "io/name_hash.h"
#include "io/npy.h"
#include "io/wav.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"
#include "recipe/quantizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ocs {
namespace {
namespace fs = std::filesystem;
using namespace ocs::testing;

// A fresh folder per test (tests may run in parallel processes).
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/ocs_robust_XXXXXX";
    if (!::mkdtemp(pattern)) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Outcome {
  int exit_code = -1;
  std::string said;  // stdout and stderr together
};

// Runs the built `ocs` binary.
Outcome run_ocs(const std::vector<std::string>& args, const fs::path& dir) {
  auto quote = [](const std::string& arg) {
    std::string out = "'";
    for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
  };
  const fs::path said = dir / "said.txt";
  std::string command = quote(OCS_BINARY);
  for (const auto& a : args) {
    command += ' ';  // not " " + quote(a): GCC 12 warns falsely (-Wrestrict) on that
    command += quote(a);
  }
  command += " > " + quote(said.string()) + " 2>&1";
  const int status = std::system(command.c_str());
  Outcome outcome;
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  outcome.said = read_text(said);
  return outcome;
}

void save(const onnx::ModelProto& m, const fs::path& path) {
  std::ofstream out(path, std::ios::binary);
  out << serialize(m);
}

onnx::AttributeProto* graph_attribute(onnx::NodeProto& n, const std::string& key) {
  auto* a = n.add_attribute();
  a->set_name(key);
  a->set_type(onnx::AttributeProto::GRAPH);
  return a;
}

// ---- 3: output names too long for a file --------------------------------------------------

TEST(Robustness, Fnv1aMatchesThePublishedTestVectors) {
  // From the FNV reference (Noll): the empty string is the offset basis.
  EXPECT_EQ(fnv1a_64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a_64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a_64("foobar"), 0x85944171f73967e8ull);
}

TEST(Robustness, LongOutputNamesAreShortenedWithAHash) {
  EXPECT_EQ(npy_file_name("conv/out:0"), "conv%2Fout%3A0.npy");  // short names: escaping only
  const std::string json_name(150, '{');                           // escapes to 450 bytes
  const std::string file = npy_file_name(json_name);
  EXPECT_LE(file.size(), kShortenedPrefix + 1 + 16 + 4);
  EXPECT_EQ(file, escape_file_name(json_name).substr(0, 180) + "~" + fmt::format("{:016x}", fnv1a_64(json_name)) + ".npy");
  // Names that differ only past the prefix get different files.
  EXPECT_NE(npy_file_name(json_name + "a"), npy_file_name(json_name + "b"));
  // The cut never splits a %XX: 179 kept bytes, then '/' -> "%2F" at bytes 179..181.
  const std::string split = std::string(179, 'a') + std::string(40, '/');
  const std::string cut = npy_file_name(split);
  EXPECT_EQ(cut.substr(0, cut.find('~')), std::string(179, 'a'));
}

TEST(Robustness, AtomicWritesTakeAnyNameTheFileSystemTakes) {
  TempDir dir;
  const fs::path path = dir.path() / (std::string(250, 'n') + ".x");  // 252 bytes: the temp name would be 268
  write_file_atomically(path, [](std::ofstream& out) { out << "data"; });
  EXPECT_EQ(read_text(path), "data");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);  // no temp left
  try {
    write_file_atomically(dir.path() / std::string(256, 'n'), [](std::ofstream& out) { out << "data"; });
    ADD_FAILURE() << "a 256-byte file name was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("255"), std::string::npos) << e.what();
  }
}

TEST(Robustness, FileWriteErrorsCarryTheSystemsReason) {
  if (!fs::is_directory("/proc")) GTEST_SKIP() << "no /proc";
  // Nobody, root included, can create a file in /proc: the kernel answers ENOENT.
  const fs::path path = "/proc/ocs_robustness_test.npy";
  errno = 0;
  std::ofstream probe(path);
  const std::string reason = std::strerror(errno);
  ASSERT_FALSE(probe);
  try {
    write_npy(path, Tensor::scalar<float>(1.0f));
    ADD_FAILURE() << "writing into /proc succeeded";
  } catch (const UserError& e) {
    const std::string said = e.what();
    EXPECT_NE(said.find(reason), std::string::npos) << said;
    EXPECT_NE(said.find(path.string()), std::string::npos) << said;
    EXPECT_EQ(said.find("writable?"), std::string::npos) << said;
  }
  const Graph graph = import_onnx_bytes(serialize(add_mul_model()), ".", "add mul");
  try {
    export_onnx_file(graph, "/proc/ocs_robustness_test.onnx", false);
    ADD_FAILURE() << "exporting into /proc succeeded";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
  }
}

// y = Identity(x) under a long JSON-like name, z = Neg(x) under a short one.
TEST(Robustness, RunWritesOutputsWithVeryLongNames) {
  TempDir dir;
  const std::string long_name = "{\"name\": \"" + std::string(200, 'v') + "\", \"kind\": \"scores/probabilities\"}";
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {2, 3});
  *g->add_output() = value_info(long_name, {2, 3});
  *g->add_output() = value_info("z", {2, 3});
  *g->add_node() = node("Identity", {"x"}, {long_name}, "copy");
  *g->add_node() = node("Neg", {"x"}, {"z"}, "negate");
  save(m, dir.path() / "m.onnx");
  const Tensor x = Tensor::from_vector<float>({2, 3}, {1, -2, 3, -4, 5, -6});
  write_npy(dir.path() / "x.npy", x);
  const Outcome r = run_ocs({"run", (dir.path() / "m.onnx").string(), "--input", "x=" + (dir.path() / "x.npy").string(),
                             "--output-dir", (dir.path() / "out").string()},
                            dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.said;
  const fs::path file = dir.path() / "out" / npy_file_name(long_name);
  ASSERT_TRUE(fs::exists(file)) << r.said;
  EXPECT_EQ(read_npy(file).to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(read_npy(dir.path() / "out" / "z.npy").to_vector<float>(), (std::vector<float>{-1, 2, -3, 4, -5, 6}));
  EXPECT_NE(r.said.find(file.string()), std::string::npos) << "the run should say where the output went: " << r.said;
}

// ---- 4: layers inside If branches ------------------------------------------------------------

// x [1, 4] -> MatMul(x, w_top) -> h [1, 4]; If(flag): then MatMul(h, w_then), else MatMul(h,
// w_else), both weights top-level initializers (outer-scope values in the branches).
onnx::ModelProto if_branch_layers_model() {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 4});
  *g->add_input() = value_info("flag", {}, onnx::TensorProto::BOOL);
  *g->add_output() = value_info("y", {1, 3});
  std::vector<float> top(16), then_w(12), else_w(12);
  for (size_t i = 0; i < top.size(); ++i) top[i] = 0.1f * static_cast<float>(i) - 0.7f;
  for (size_t i = 0; i < then_w.size(); ++i) then_w[i] = 0.25f * static_cast<float>(i % 5) - 0.5f;
  for (size_t i = 0; i < else_w.size(); ++i) else_w[i] = -0.125f * static_cast<float>(i);
  then_w[7] = 3.5f;  // the then branch's largest |w|, on input channel 7 / 3 = 1 (w is [K=4, N=3])
  tensor_to_proto(Tensor::from_vector<float>({4, 4}, top), "w_top", g->add_initializer());
  tensor_to_proto(Tensor::from_vector<float>({4, 3}, then_w), "w_then", g->add_initializer());
  tensor_to_proto(Tensor::from_vector<float>({4, 3}, else_w), "w_else", g->add_initializer());
  *g->add_node() = node("MatMul", {"x", "w_top"}, {"h"}, "top_fc");
  auto n = node("If", {"flag"}, {"y"}, "pick");
  for (const char* branch : {"then", "else"}) {
    onnx::GraphProto b;
    b.set_name(branch);
    const std::string out = std::string(branch) + "_y";
    *b.add_node() = node("MatMul", {"h", "w_" + std::string(branch)}, {out}, std::string(branch) + "_fc");
    *b.add_output() = value_info(out, {1, 3});
    *graph_attribute(n, std::string(branch) + "_branch")->mutable_g() = b;
  }
  *g->add_node() = n;
  return m;
}

TEST(Robustness, InspectListsBranchLayersWithOuterScopeWeights) {
  const Graph graph = import_onnx_bytes(serialize(if_branch_layers_model()), ".", "if branch layers");
  const auto stats = collect_weight_stats(graph, 2);
  ASSERT_EQ(stats.size(), 3u);
  EXPECT_EQ(stats[0].node, "top_fc");
  EXPECT_EQ(stats[0].subgraph, "");
  // Branches in attribute order: else_branch, then then_branch.
  EXPECT_EQ(stats[1].node, "else_fc");
  EXPECT_DOUBLE_EQ(stats[1].max_abs, 0.125 * 11);
  EXPECT_EQ(stats[2].node, "then_fc");
  EXPECT_EQ(stats[2].weight, "w_then");
  EXPECT_EQ(stats[2].subgraph, "If 'pick' then_branch");
  EXPECT_EQ(stats[2].shape, (Shape{4, 3}));
  EXPECT_DOUBLE_EQ(stats[2].max_abs, 3.5);
  ASSERT_FALSE(stats[2].top_channels.empty());
  EXPECT_EQ(stats[2].top_channels[0].channel, 2);  // flat index 7 of [4, 3] is row 2
  EXPECT_NE(weight_stats_table(stats).find("inside If/Loop bodies"), std::string::npos);
  const auto layers = find_subgraph_layers(graph);
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].weight, "w_else");
  EXPECT_EQ(layers[0].where, "If 'pick' else_branch");
  EXPECT_EQ(layers[1].weight, "w_then");
}

TEST(Robustness, QuantizeReportsBranchLayersAsLeftFloat) {
  const Graph graph = import_onnx_bytes(serialize(if_branch_layers_model()), ".", "if branch layers");
  QuantizeOptions options;
  options.activation_bits = 0;  // weights only: no calibration data needed
  options.keep_first_last_float = false;
  const QuantizeResult result = quantize_model(graph, options, nullptr);
  int branch_rows = 0;
  for (const auto& row : result.report["layers"]) {
    const std::string name = row["node"];
    if (name != "then_fc" && name != "else_fc") continue;
    ++branch_rows;
    EXPECT_FALSE(row["quantized"].get<bool>());
    EXPECT_NE(row["left_float"].get<std::string>().find("--fix-input"), std::string::npos) << row.dump();
  }
  EXPECT_EQ(branch_rows, 2);
  EXPECT_EQ(result.report["model"]["layers_left_float"].get<int64_t>(), 2);
  EXPECT_NE(quantize_report_table(result.report).find("inside If 'pick' then_branch"), std::string::npos);
}

// ---- 5: rank-0 inputs and samples on another axis ------------------------------------------

// y = x * s + ReduceSum(state) (s a rank-0 input; state [2, 1, 4] with its batch on axis 1).
onnx::ModelProto scaled_state_model() {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 3});
  *g->add_input() = value_info("s", {});
  *g->add_input() = value_info("state", {2, 1, 4});
  *g->add_output() = value_info("y", {1, 3});
  *g->add_node() = node("Mul", {"x", "s"}, {"xs"}, "scale");
  auto sum = node("ReduceSum", {"state"}, {"total"}, "sum_state");
  auto* keep = sum.add_attribute();
  keep->set_name("keepdims");
  keep->set_type(onnx::AttributeProto::INT);
  keep->set_i(0);
  *g->add_node() = sum;
  *g->add_node() = node("Add", {"xs", "total"}, {"y"}, "add_state");
  return m;
}

TEST(Robustness, ArraysFeedRankZeroInputsAndStatesBatchedOnAxisOne) {
  TempDir dir;
  const Graph graph = import_onnx_bytes(serialize(scaled_state_model()), ".", "scaled state");
  std::vector<float> xs(9), states(2 * 3 * 4);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<float>(i) - 4.0f;
  for (size_t i = 0; i < states.size(); ++i) states[i] = 0.5f * static_cast<float>(i);
  write_npz(dir.path() / "data.npz", {{"x", Tensor::from_vector<float>({3, 3}, xs)},
                                      {"s", Tensor::scalar<float>(2.0f)},
                                      {"state", Tensor::from_vector<float>({2, 3, 4}, states)}});
  auto source = make_sample_source({(dir.path() / "data.npz").string() + ",axis=state:1"}, graph, 100);
  ASSERT_EQ(source->size(), 3);
  Session session(std::make_shared<const Graph>(graph));
  int64_t sample = 0;
  while (auto feed = source->next()) {
    ASSERT_EQ(source->samples_in(*feed), 1);
    const auto y = session.run(*feed)[0].to_vector<float>();
    // Closed form: state sample k is states[a][k][c] = 0.5 * (a * 12 + k * 4 + c).
    double total = 0;
    for (int a = 0; a < 2; ++a)
      for (int c = 0; c < 4; ++c) total += 0.5 * (a * 12 + sample * 4 + c);
    for (int j = 0; j < 3; ++j) EXPECT_DOUBLE_EQ(y[j], 2.0 * xs[sample * 3 + j] + total) << "sample " << sample;
    ++sample;
  }
  EXPECT_EQ(sample, 3);

  // axis=none: one state for every sample.
  write_npy(dir.path() / "state.npy", Tensor::from_vector<float>({2, 1, 4}, std::vector<float>(8, 1.0f)));
  write_npy(dir.path() / "x.npy", Tensor::from_vector<float>({3, 3}, xs));
  write_npy(dir.path() / "s.npy", Tensor::scalar<float>(-1.0f));
  auto fixed = make_sample_source({"x=" + (dir.path() / "x.npy").string(), "s=" + (dir.path() / "s.npy").string(),
                                   "state=" + (dir.path() / "state.npy").string() + ",axis=none"},
                                  graph, 100);
  EXPECT_EQ(fixed->size(), 3);
  for (int64_t k = 0; auto feed = fixed->next(); ++k)
    EXPECT_FLOAT_EQ(session.run(*feed)[0].to_vector<float>()[0], -xs[k * 3] + 8.0f);

  // Samples stacked for a rank-0 input are refused with the rule.
  write_npy(dir.path() / "s3.npy", Tensor::from_vector<float>({3}, {1, 2, 3}));
  try {
    make_sample_source({"x=" + (dir.path() / "x.npy").string(), "s=" + (dir.path() / "s3.npy").string(),
                        "state=" + (dir.path() / "state.npy").string() + ",axis=none"},
                       graph, 100);
    ADD_FAILURE() << "a [3] array for a rank-0 input was accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("rank-0 array"), std::string::npos) << e.what();
  }
  EXPECT_THROW(make_sample_source({(dir.path() / "data.npz").string() + ",axis=nothing:1"}, graph, 100), UserError);
  // A model specialized with --fix-input s=2 has no input s: the rank-0 array is skipped, but
  // an array with samples that feeds no input is still an error.
  Graph specialized = graph;
  specialized.inputs.erase(specialized.inputs.begin() + 1);
  specialized.values[specialized.find_value("s")].constant = Tensor::scalar<float>(2.0f);
  auto skipped = make_sample_source({(dir.path() / "data.npz").string() + ",axis=state:1"}, specialized, 100);
  EXPECT_EQ(skipped->next()->count("s"), 0u);
  Graph no_state = graph;
  no_state.inputs.erase(no_state.inputs.begin() + 2);
  no_state.values[no_state.find_value("state")].constant = Tensor(DType::Float32, {2, 1, 4});
  EXPECT_THROW(make_sample_source({(dir.path() / "data.npz").string() + ",axis=state:1"}, no_state, 100), UserError);
}

// ---- 6: models that are already quantized ---------------------------------------------------

// DynamicQuantizeLinear(x) -> ConvInteger(xq, w uint8, xz) -> Cast float; and a QDQ Conv whose
// weight is DequantizeLinear(int8 constant).
onnx::ModelProto integer_model() {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 1, 4, 4});
  *g->add_output() = value_info("y", {1, 2, 3, 3});
  *g->add_output() = value_info("z", {1, 2, 3, 3});
  std::vector<uint8_t> w(8, 130);
  tensor_to_proto(Tensor::from_vector<uint8_t>({2, 1, 2, 2}, w), "w_int", g->add_initializer());
  tensor_to_proto(Tensor::from_vector<int8_t>({2, 1, 2, 2}, std::vector<int8_t>(8, -3)), "w_q", g->add_initializer());
  tensor_to_proto(Tensor::scalar<float>(0.5f), "w_scale", g->add_initializer());
  *g->add_node() = node("DynamicQuantizeLinear", {"x"}, {"xq", "xs", "xz"}, "quantize_x");
  *g->add_node() = node("ConvInteger", {"xq", "w_int", "xz"}, {"acc"}, "conv_int");
  auto cast = node("Cast", {"acc"}, {"y"}, "to_float");
  auto* to = cast.add_attribute();
  to->set_name("to");
  to->set_type(onnx::AttributeProto::INT);
  to->set_i(onnx::TensorProto::FLOAT);
  *g->add_node() = cast;
  *g->add_node() = node("DequantizeLinear", {"w_q", "w_scale"}, {"w_deq"}, "dequantize_w");
  *g->add_node() = node("Conv", {"x", "w_deq"}, {"z"}, "qdq_conv");
  return m;
}

TEST(Robustness, IntegerLayersAreListedAndQuantizeRefusesThem) {
  const Graph graph = import_onnx_bytes(serialize(integer_model()), ".", "integer model");
  const auto layers = find_integer_layers(graph);
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].op_type, "ConvInteger");
  EXPECT_EQ(layers[0].weight, "w_int");
  EXPECT_EQ(layers[0].dtype, DType::UInt8);
  EXPECT_EQ(layers[0].shape, (Shape{2, 1, 2, 2}));
  EXPECT_EQ(layers[1].op_type, "Conv (QDQ)");
  EXPECT_EQ(layers[1].dtype, DType::Int8);
  try {
    refuse_quantized_model(graph, "int.onnx");
    ADD_FAILURE() << "an integer model was not refused";
  } catch (const UserError& e) {
    const std::string said = e.what();
    EXPECT_NE(said.find("already quantized: 2 integer layers (ConvInteger 'conv_int'"), std::string::npos) << said;
  }
  const Graph float_graph = import_onnx_bytes(serialize(if_branch_layers_model()), ".", "float model");
  EXPECT_TRUE(find_integer_layers(float_graph).empty());
  EXPECT_NO_THROW(refuse_quantized_model(float_graph, "float.onnx"));
}

TEST(Robustness, CliInspectAndQuantizeOnAQuantizedModel) {
  TempDir dir;
  const fs::path in = dir.path() / "int.onnx", out = dir.path() / "out.onnx";
  save(integer_model(), in);
  const Outcome inspect = run_ocs({"inspect", in.string()}, dir.path());
  EXPECT_EQ(inspect.exit_code, 0) << inspect.said;
  EXPECT_NE(inspect.said.find("ConvInteger"), std::string::npos) << inspect.said;
  EXPECT_NE(inspect.said.find("uint8"), std::string::npos) << inspect.said;
  EXPECT_NE(inspect.said.find("already quantized: 2 integer layers"), std::string::npos) << inspect.said;
  const Outcome quantize = run_ocs({"quantize", in.string(), out.string(), "--abits", "0"}, dir.path());
  EXPECT_EQ(quantize.exit_code, 2) << quantize.said;
  EXPECT_NE(quantize.said.find("already quantized"), std::string::npos) << quantize.said;
  EXPECT_NE(quantize.said.find("quantize the float model instead"), std::string::npos) << quantize.said;
  EXPECT_FALSE(fs::exists(out));
}

// A model whose only quantizable layers sit in If branches: the refusal says how to reach them
// (the flag names themselves: Quantizer.NoLayerLeftNamesTheRealFlags).
TEST(Robustness, NoLayerLeftPointsToFixInputForBranchLayers) {
  const Graph graph = import_onnx_bytes(serialize(if_branch_layers_model()), ".", "if branch layers");
  QuantizeOptions options;
  options.activation_bits = 0;
  options.exclude = {"top_fc"};
  try {
    quantize_model(graph, options, nullptr);
    ADD_FAILURE() << "nothing to quantize was accepted";
  } catch (const UserError& e) {
    const std::string said = e.what();
    EXPECT_NE(said.find("--fix-input"), std::string::npos) << said;
  }
}

// ---- 7: eval: single-value outputs, progress on wav data, fixed inputs of the reference ---

TEST(Robustness, FidelityOfSingleValueOutputsHasNoTop1Agreement) {
  auto metric = make_metric("fidelity", {});
  const std::vector<Tensor> scores = {Tensor::from_vector<float>({2, 1}, {0.25f, 0.75f})};
  const std::vector<Tensor> nearby = {Tensor::from_vector<float>({2, 1}, {0.25f, 0.5f})};
  const Graph graph = import_onnx_bytes(serialize(scaled_state_model()), ".", "any");
  ArraySampleSource none(graph, {{"x", Tensor(DType::Float32, {1, 3})}, {"s", Tensor::scalar<float>(1)},
                                 {"state", Tensor(DType::Float32, {2, 1, 4})}}, 1, 32, {{"state", kNoSampleAxis}});
  metric->add({scores, scores, none});
  metric->add({nearby, scores, none});
  const nlohmann::json result = metric->result();
  EXPECT_FALSE(result.contains("top1_agreement")) << result.dump();
  EXPECT_DOUBLE_EQ(result["max_abs_diff"].get<double>(), 0.25);
  // signal 2 * (0.25^2 + 0.75^2) = 1.25, noise 0.25^2.
  EXPECT_NEAR(result["sqnr_db"].get<double>(), 10 * std::log10(1.25 / 0.0625), 1e-9);
  EXPECT_NE(metric->summary().find("top-1 agreement n/a"), std::string::npos) << metric->summary();
  // [N, C] outputs still have it.
  Fidelity rows;
  rows.add(Tensor::from_vector<float>({1, 2}, {1, 2}), Tensor::from_vector<float>({1, 2}, {0, 3}));
  EXPECT_TRUE(rows.top1_defined());
  EXPECT_DOUBLE_EQ(rows.top1_agreement(), 1.0);
}

// A streaming model: p = ReduceMean(input) [1, 1] + 0 * sr; cn = c + 1 (state c [2, 1, 4] sorts
// before "input", as Silero's does). With `with_sr` false, sr is gone (a --fix-input model).
onnx::ModelProto streaming_model(bool with_sr) {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("input", {1, 8});
  *g->add_input() = value_info("c", {2, 1, 4});
  if (with_sr) *g->add_input() = value_info("sr", {}, onnx::TensorProto::INT64);
  *g->add_output() = value_info("p", {1, 1});
  *g->add_output() = value_info("cn", {2, 1, 4});
  tensor_to_proto(Tensor::scalar<float>(1.0f), "one", g->add_initializer());
  *g->add_node() = node("ReduceMean", {"input"}, {with_sr ? "mean" : "p"}, "mean");
  if (with_sr) {
    tensor_to_proto(Tensor::scalar<float>(0.0f), "zero", g->add_initializer());
    auto cast = node("Cast", {"sr"}, {"sr_f"}, "sr_to_float");
    auto* to = cast.add_attribute();
    to->set_name("to");
    to->set_type(onnx::AttributeProto::INT);
    to->set_i(onnx::TensorProto::FLOAT);
    *g->add_node() = cast;
    *g->add_node() = node("Mul", {"sr_f", "zero"}, {"nothing"}, "sr_times_zero");
    *g->add_node() = node("Add", {"mean", "nothing"}, {"p"}, "plus_nothing");
  }
  *g->add_node() = node("Add", {"c", "one"}, {"cn"}, "next_state");
  return m;
}

TEST(Robustness, WavSourcesCountOneSamplePerChunk) {
  TempDir dir;
  std::vector<float> audio(8 * 5);
  for (size_t i = 0; i < audio.size(); ++i) audio[i] = std::sin(0.1f * static_cast<float>(i)) * 0.5f;
  write_wav(dir.path() / "a.wav", audio, 16000);
  const Graph graph = import_onnx_bytes(serialize(streaming_model(true)), ".", "streaming");
  auto source = make_sample_source({"wav:" + (dir.path() / "a.wav").string() + ",chunk=8,state=c:cn,fix=sr:16000"},
                                   graph, 100);
  int64_t counted = 0;
  while (auto feed = source->next()) counted += source->samples_in(*feed);
  EXPECT_EQ(counted, 5);
  EXPECT_EQ(source->size(), 5);
  ReplaySource replay(*source);
  EXPECT_EQ(replay.size(), 5);
}

TEST(Robustness, FeedForModelAddsFixedInputsAndDropsFixedOnes) {
  const Graph with_sr = import_onnx_bytes(serialize(streaming_model(true)), ".", "with sr");
  const Graph without = import_onnx_bytes(serialize(streaming_model(false)), ".", "without sr");
  Feed feed = {{"input", Tensor(DType::Float32, {1, 8})}, {"c", Tensor(DType::Float32, {2, 1, 4})}};
  const Feed completed = feed_for_model(with_sr, feed, {{"sr", "16000"}});
  ASSERT_EQ(completed.count("sr"), 1u);
  EXPECT_EQ(completed.at("sr").dtype(), DType::Int64);
  EXPECT_EQ(completed.at("sr").to_vector<int64_t>(), (std::vector<int64_t>{16000}));
  EXPECT_EQ(feed_for_model(without, completed, {}).count("sr"), 0u);
}

TEST(Robustness, CliEvalOfASpecializedModelAgainstItsFloatReference) {
  TempDir dir;
  std::vector<float> audio(8 * 4);
  for (size_t i = 0; i < audio.size(); ++i) audio[i] = 0.01f * static_cast<float>(i);
  write_wav(dir.path() / "a.wav", audio, 16000);
  save(streaming_model(true), dir.path() / "float.onnx");
  save(streaming_model(false), dir.path() / "fixed.onnx");
  const std::string data = "wav:" + (dir.path() / "a.wav").string() + ",chunk=8,state=c:cn,fix=sr:16000";
  const Outcome r = run_ocs({"eval", (dir.path() / "fixed.onnx").string(), "--data", data, "--reference",
                             (dir.path() / "float.onnx").string(), "--json", (dir.path() / "r.json").string()},
                            dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.said;
  EXPECT_NE(r.said.find("top-1 agreement n/a"), std::string::npos) << r.said;
  EXPECT_EQ(r.said.find("0.00%"), std::string::npos) << r.said;
  const auto result = nlohmann::json::parse(read_text(dir.path() / "r.json"));
  EXPECT_EQ(result["samples"].get<int64_t>(), 4);
  EXPECT_DOUBLE_EQ(result["max_abs_diff"].get<double>(), 0.0);
}

}  // namespace
}  // namespace ocs
