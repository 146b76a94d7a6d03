#include "eval/wav_source.h"

#include "core/error.h"
#include "eval/stream_runner.h"
#include "io/wav.h"

#include <charconv>

namespace ocs {
namespace {

int64_t parse_count(const std::string& spec, const std::string& key, const std::string& value) {
  int64_t result = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), result);
  if (error != std::errc() || end != value.data() + value.size() || result <= 0)
    user_error("data '{}': {}={} must be a positive whole number", spec, key, value);
  return result;
}

std::pair<std::string, std::string> parse_pair(const std::string& spec, const std::string& key, const std::string& value) {
  const auto colon = value.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == value.size())
    user_error("data '{}': {}={} must be NAME:{} (e.g. {})", spec, key, value, key == "state" ? "OUTPUT" : "VALUE",
               key == "state" ? "state=h:hn" : "fix=sr:16000");
  return {value.substr(0, colon), value.substr(colon + 1)};
}

class WavChunkSource : public SampleSource {
 public:
  WavChunkSource(std::vector<float> audio, std::unique_ptr<StreamRunner> runner, int64_t limit)
      : audio_(std::move(audio)), runner_(std::move(runner)) {
    count_ = std::min<int64_t>(limit, static_cast<int64_t>(audio_.size()) / runner_->chunk());
  }

  std::optional<Feed> next() override {
    if (position_ >= count_) return std::nullopt;
    const float* samples = audio_.data() + position_ * runner_->chunk();
    Feed feed = runner_->next_feed(samples);
    runner_->step(samples);  // the float model carries the state to the next chunk
    ++position_;
    return feed;
  }
  int64_t size() const override { return count_; }
  int64_t samples_in(const Feed&) const override { return 1; }  // one chunk; a state [2, 1, 64] sorts first
  void rewind() override {
    position_ = 0;
    runner_->reset();
  }

 private:
  std::vector<float> audio_;
  std::unique_ptr<StreamRunner> runner_;
  int64_t count_ = 0;
  int64_t position_ = 0;
};

}  // namespace

std::map<std::string, std::string> wav_fixed_inputs(const std::vector<std::string>& specs) {
  std::map<std::string, std::string> fixed;
  for (const auto& spec : specs) {
    if (spec.rfind("wav:", 0) != 0) continue;
    for (size_t start = spec.find(','); start != std::string::npos;) {
      const size_t comma = spec.find(',', start + 1);
      const std::string part = spec.substr(start + 1, comma == std::string::npos ? std::string::npos : comma - start - 1);
      start = comma;
      if (part.rfind("fix=", 0) == 0) fixed.insert(parse_pair(spec, "fix", part.substr(4)));
    }
  }
  return fixed;
}

std::unique_ptr<SampleSource> make_wav_source(const std::string& spec, const Graph& graph, int64_t limit) {
  std::vector<std::string> parts;
  for (size_t start = 4;;) {  // after "wav:"
    const size_t comma = spec.find(',', start);
    parts.push_back(spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (parts[0].empty()) user_error("data '{}' must name a WAV file: wav:FILE[,chunk=512][,state=IN:OUT][,fix=NAME:VALUE]", spec);
  StreamOptions options;
  int64_t rate = 0;
  for (size_t i = 1; i < parts.size(); ++i) {
    const auto eq = parts[i].find('=');
    const std::string key = parts[i].substr(0, eq);
    const std::string value = eq == std::string::npos ? "" : parts[i].substr(eq + 1);
    if (key == "chunk") options.chunk = parse_count(spec, key, value);
    else if (key == "rate") rate = parse_count(spec, key, value);
    else if (key == "input") options.audio_input = value;
    else if (key == "state") options.states.push_back(parse_pair(spec, key, value));
    else if (key == "fix") {
      auto [name, number] = parse_pair(spec, key, value);
      options.fixed[name] = number;
    } else {
      user_error("data '{}': unknown key '{}' (wav takes chunk, rate, input, state, fix)", spec, key);
    }
  }
  WavAudio audio = read_wav(parts[0]);
  std::vector<float> samples = rate > 0 ? resample(audio.samples, audio.sample_rate, rate) : std::move(audio.samples);
  auto runner = std::make_unique<StreamRunner>(std::make_shared<const Graph>(graph), options);
  if (static_cast<int64_t>(samples.size()) < runner->chunk())
    user_error("'{}' holds {} samples, less than one chunk of {}", parts[0], samples.size(), runner->chunk());
  return std::make_unique<WavChunkSource>(std::move(samples), std::move(runner), limit);
}

}  // namespace ocs
