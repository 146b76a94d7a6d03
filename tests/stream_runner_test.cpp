// The streaming runner and the wav: calibration source on a toy stateful model whose answer is
// known: y = ReduceSum(x) + s, s' = y (a running sum of the audio), score = y.
#include "core/error.h"
#include "eval/sample_source_spec.h"
#include "eval/stream_runner.h"
#include "io/wav.h"
#include "model_builder.h"
#include "onnx/onnx_io.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

namespace ocs {
namespace {
using namespace ocs::testing;

// x [1, 4] float, s [1, 1] float, gain int64 scalar (must be fed; unused by the maths but a
// fixed input like Silero's sr): y = ReduceSum(x, keepdims) + s; outputs y and s_next = y.
std::shared_ptr<const Graph> running_sum_model() {
  onnx::ModelProto m = model(13);
  auto* g = m.mutable_graph();
  *g->add_input() = value_info("x", {1, 4});
  *g->add_input() = value_info("s", {1, 1});
  *g->add_input() = value_info("gain", {}, onnx::TensorProto::INT64);
  *g->add_output() = value_info("y", {1, 1});
  *g->add_output() = value_info("s_next", {1, 1});
  *g->add_output() = value_info("gain_out", {});
  tensor_to_proto(Tensor::from_vector<int64_t>({1}, {1}), "axes", g->add_initializer());
  *g->add_node() = node("ReduceSum", {"x", "axes"}, {"total"}, "sum");
  *g->add_node() = node("Add", {"total", "s"}, {"y"}, "add_state");
  *g->add_node() = node("Identity", {"y"}, {"s_next"}, "carry");
  *g->add_node() = node("Identity", {"gain"}, {"gain_out"}, "keep_gain");
  return std::make_shared<const Graph>(import_onnx_bytes(serialize(m), ".", "running sum"));
}

StreamOptions running_sum_options() {
  StreamOptions options;
  options.chunk = 4;
  options.states = {{"s", "s_next"}};
  options.fixed = {{"gain", "3"}};
  return options;
}

TEST(StreamRunner, CarriesStateFromChunkToChunk) {
  StreamRunner runner(running_sum_model(), running_sum_options());
  const std::vector<float> audio = {1, 1, 1, 1, 2, 2, 2, 2, 0, 0, 0, 1, 9};  // the last 9 is a partial chunk
  EXPECT_EQ(stream_scores(runner, audio), (std::vector<float>{4, 12, 13}));
  runner.reset();
  EXPECT_EQ(runner.step(audio.data()), 4.0f);
}

TEST(StreamRunner, NamesAreCheckedAgainstTheModel) {
  StreamOptions options = running_sum_options();
  options.states = {{"nope", "s_next"}};
  EXPECT_THROW(StreamRunner(running_sum_model(), options), UserError);
  options.states = {{"s", "nope"}};
  EXPECT_THROW(StreamRunner(running_sum_model(), options), UserError);
  options = running_sum_options();
  options.fixed.clear();  // gain is neither audio, state nor fixed
  EXPECT_THROW(StreamRunner(running_sum_model(), options), UserError);
  EXPECT_THROW(parse_stream_states({"h"}), UserError);
}

TEST(StreamRunner, ComparesTwoStreams) {
  const StreamFidelity f = compare_stream_scores({0.1f, 0.6f, 0.9f, 0.4f}, {0.1f, 0.4f, 0.8f, 0.4f});
  EXPECT_EQ(f.chunks, 4);
  EXPECT_NEAR(f.mean_abs_diff, 0.075, 1e-7);
  EXPECT_NEAR(f.max_abs_diff, 0.2, 1e-7);
  EXPECT_DOUBLE_EQ(f.decision_agreement, 0.75);  // chunk 1 flips
  EXPECT_DOUBLE_EQ(f.reference_positive, 0.25);
}

TEST(StreamRunner, WavSourceFeedsTheStateTheFloatModelCarries) {
  const auto path = std::filesystem::temp_directory_path() / ("ocs_stream_runner_" + std::to_string(::getpid()) + ".wav");
  write_wav(path, {0.5f, 0.5f, 0.5f, 0.5f, 0.25f, 0.25f, 0.25f, 0.25f, 0, 0, 0, 0}, 16000);
  const auto graph = running_sum_model();
  auto source = make_sample_source({"wav:" + path.string() + ",chunk=4,state=s:s_next,fix=gain:3"}, *graph, 100);
  EXPECT_EQ(source->size(), 3);
  std::vector<float> states;
  while (auto feed = source->next()) {
    states.push_back(feed->at("s").to_vector<float>()[0]);
    EXPECT_EQ(feed->at("gain").to_vector<int64_t>(), (std::vector<int64_t>{3}));
    EXPECT_EQ(feed->at("x").shape(), (Shape{1, 4}));
  }
  EXPECT_EQ(states, (std::vector<float>{0, 2, 3}));  // the state before each chunk
  source->rewind();
  EXPECT_EQ(source->next()->at("s").to_vector<float>()[0], 0.0f);
  EXPECT_THROW(make_sample_source({"wav:" + path.string() + ",bogus=1"}, *graph, 100), UserError);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ocs
