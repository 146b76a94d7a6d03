#include "eval/stream_runner.h"

#include "core/error.h"
#include "data/fixed_inputs.h"

#include <algorithm>
#include <cmath>

namespace ocs {
namespace {

std::string name_list(const Graph& graph, const std::vector<ValueId>& ids) {
  std::string names;
  for (ValueId id : ids) names += (names.empty() ? "" : ", ") + graph.values[id].name;
  return names;
}

const Value* find_input(const Graph& graph, const std::string& name) {
  for (ValueId id : graph.inputs)
    if (graph.values[id].name == name) return &graph.values[id];
  return nullptr;
}

// Zeros of the input's declared shape, unknown dims as 1 (batch 1).
Tensor zero_state(const Value& input) {
  if (!input.shape) user_error("state input '{}' has no declared shape; the stream cannot start it at zero", input.name);
  Shape shape = *input.shape;
  for (int64_t& d : shape) d = d < 0 ? 1 : d;
  return Tensor(input.dtype, shape);  // zero-filled
}

}  // namespace

std::vector<std::pair<std::string, std::string>> parse_stream_states(const std::vector<std::string>& specs) {
  std::vector<std::pair<std::string, std::string>> states;
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size())
      user_error("--state '{}' must be INPUT=OUTPUT (e.g. h=hn: the output hn feeds the input h of the next chunk)", spec);
    states.emplace_back(spec.substr(0, eq), spec.substr(eq + 1));
  }
  return states;
}

StreamRunner::StreamRunner(std::shared_ptr<const Graph> graph, StreamOptions options, SessionOptions session)
    : graph_(graph), options_(std::move(options)), session_(graph, session) {
  const Graph& g = *graph_;
  const std::string inputs = name_list(g, g.inputs), outputs = name_list(g, g.outputs);
  if (options_.chunk < 1) user_error("--chunk {} must be at least 1 sample", options_.chunk);
  auto output_index = [&](const std::string& name, const std::string& what) {
    for (size_t i = 0; i < g.outputs.size(); ++i)
      if (g.values[g.outputs[i]].name == name) return i;
    user_error("{} '{}': the model has no output '{}'; its outputs are: {}", what, name, name, outputs);
  };
  for (const auto& [in, out] : options_.states) {
    const Value* input = find_input(g, in);
    if (!input) user_error("--state {}={}: the model has no input '{}'; its inputs are: {}", in, out, in, inputs);
    state_output_[in] = output_index(out, "--state " + in + "=" + out + ":");
    state_[in] = zero_state(*input);
  }
  for (const auto& [name, text] : options_.fixed)
    if (const Value* input = find_input(g, name)) fixed_[name] = fixed_input_tensor(*input, text);
  if (!options_.output.empty()) score_output_ = output_index(options_.output, "--output-name");
  audio_input_ = options_.audio_input;
  if (audio_input_.empty()) {
    for (ValueId id : g.inputs) {
      const Value& v = g.values[id];
      if (v.dtype == DType::Float32 && !state_.count(v.name) && !fixed_.count(v.name)) {
        audio_input_ = v.name;
        break;
      }
    }
    if (audio_input_.empty()) user_error("the model has no float input left for the audio; its inputs are: {}", inputs);
  }
  const Value* audio = find_input(g, audio_input_);
  if (!audio) user_error("--audio-input '{}': the model has no such input; its inputs are: {}", audio_input_, inputs);
  if (audio->dtype != DType::Float32) user_error("audio input '{}' must be float32", audio_input_);
  const size_t rank = audio->shape ? audio->shape->size() : 2;
  if (rank != 1 && rank != 2) user_error("audio input '{}' must have rank 1 or 2 ([1, samples]), not {}", audio_input_, rank);
  audio_shape_ = rank == 1 ? Shape{options_.chunk} : Shape{1, options_.chunk};
  for (ValueId id : g.inputs) {
    const std::string& name = g.values[id].name;
    if (name != audio_input_ && !state_.count(name) && !fixed_.count(name))
      user_error("model input '{}' is neither the audio, a --state nor a --fix input; give it with --state {}=OUTPUT "
                 "or --fix {}=VALUE", name, name, name);
  }
}

Feed StreamRunner::next_feed(const float* samples) const {
  Feed feed = fixed_;
  for (const auto& [name, value] : state_) feed[name] = value;
  Tensor audio(DType::Float32, audio_shape_);
  std::copy(samples, samples + options_.chunk, audio.data<float>());
  feed[audio_input_] = std::move(audio);
  return feed;
}

float StreamRunner::step(const float* samples) {
  std::vector<Tensor> outputs = session_.run(next_feed(samples));
  for (auto& [name, index] : state_output_) state_[name] = outputs[index];
  const Tensor& score = outputs[score_output_];
  if (score.numel() < 1) user_error("output '{}' is empty", graph_->values[graph_->outputs[score_output_]].name);
  return static_cast<float>(score.to_double_vector()[0]);
}

void StreamRunner::reset() {
  for (auto& [name, value] : state_) value = Tensor(value.dtype(), value.shape());  // zero-filled
}

std::vector<float> stream_scores(StreamRunner& runner, const std::vector<float>& audio) {
  std::vector<float> scores;
  const size_t chunk = static_cast<size_t>(runner.chunk());
  for (size_t start = 0; start + chunk <= audio.size(); start += chunk) scores.push_back(runner.step(audio.data() + start));
  return scores;
}

StreamFidelity compare_stream_scores(const std::vector<float>& scores, const std::vector<float>& reference,
                                     double threshold) {
  OCS_CHECK(scores.size() == reference.size(), "{} scores against {} reference scores", scores.size(), reference.size());
  StreamFidelity f;
  f.chunks = static_cast<int64_t>(scores.size());
  if (scores.empty()) return f;
  int64_t agree = 0, positive = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    const double diff = std::abs(static_cast<double>(scores[i]) - reference[i]);
    f.mean_abs_diff += diff;
    f.max_abs_diff = std::max(f.max_abs_diff, diff);
    agree += (scores[i] >= threshold) == (reference[i] >= threshold);
    positive += reference[i] >= threshold;
  }
  f.mean_abs_diff /= static_cast<double>(f.chunks);
  f.decision_agreement = static_cast<double>(agree) / static_cast<double>(f.chunks);
  f.reference_positive = static_cast<double>(positive) / static_cast<double>(f.chunks);
  return f;
}

}  // namespace ocs
