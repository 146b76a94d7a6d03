// Streaming Silero VAD v4 (eval/stream_runner.h) against ONNX Runtime running the same chunk
// loop (scripts/ort_stream.js), on a deterministic 10 s signal: vowel-like harmonic "speech"
// with syllable envelopes and pitch glides, near-silence and white noise: 312 chunks of 512
// samples, each carrying the state (h, c) of the previous one.
//
// Metric: max over chunks of |p_ocs - p_ort| <= 1e-4 (p is a probability in [0, 1]). One
// inference of Silero agrees with ORT to about 1e-6 (float32 summation order in the convolutions
// and LSTM, tests/real_models_test.cpp); the LSTM state is carried through saturating gates
// (sigmoid, tanh), which do not amplify such differences from chunk to chunk, so a 100x margin
// over a single step still catches any real error (a state not carried, a wrong chunk, a kernel
// bug), which moves p by 1e-2 or more.
//
// Skips when the model or ONNX Runtime is missing (scripts/fetch_models.sh); fails instead when
// OCS_REQUIRE_REAL_MODELS is set (CI).
#include "eval/stream_runner.h"
#include "io/npy.h"
#include "io/wav.h"
#include "onnx/onnx_io.h"
#include "ort_runner.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <unistd.h>

namespace ocs {
namespace {
using namespace ocs::testing;

constexpr int64_t kRate = 16000;
constexpr int64_t kChunk = 512;
constexpr double kTolerance = 1e-4;

// 10 s: per second, one of speech-like / silence / noise in a fixed pattern.
std::vector<float> make_signal() {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const char* pattern = "SSN-SS-NSS";  // S speech-like, N white noise, - near silence
  std::vector<float> x;
  double phase = 0;
  for (int second = 0; pattern[second]; ++second) {
    for (int64_t i = 0; i < kRate; ++i) {
      const double t = static_cast<double>(i) / kRate;
      float sample = 0.001f * normal(rng);  // room tone
      if (pattern[second] == 'S') {
        // Pitch 110-190 Hz gliding; harmonics shaped by two formant-like peaks; 4 Hz syllables.
        const double pitch = 150 + 40 * std::sin(2 * M_PI * 0.7 * (second + t));
        phase += 2 * M_PI * pitch / kRate;
        double voiced = 0;
        for (int k = 1; k <= 25; ++k) {
          const double f = k * pitch;
          const double gain = std::exp(-std::pow((f - 700) / 250, 2)) + 0.6 * std::exp(-std::pow((f - 1800) / 400, 2)) + 0.05;
          voiced += gain * std::sin(k * phase);
        }
        const double syllable = std::pow(std::max(0.0, std::sin(2 * M_PI * 4 * t)), 0.5);
        sample += static_cast<float>(0.05 * syllable * voiced);
      } else if (pattern[second] == 'N') {
        sample += 0.05f * normal(rng);
      }
      x.push_back(sample);
    }
  }
  return x;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

TEST(StreamVad, SileroStreamMatchesOnnxRuntime) {
  const auto model = ocs_cache() / "models" / "silero_vad.onnx";
  if (!std::filesystem::exists(model) || !ort_available())
    OCS_SKIP_OR_FAIL("Silero VAD or ONNX Runtime is missing (run scripts/fetch_models.sh)");
  const std::vector<float> audio = make_signal();
  const auto dir = std::filesystem::temp_directory_path() / ("ocs_stream_vad_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  // Through 16-bit PCM, as `ocs stream --audio x.wav` reads it; ORT reads the same file.
  write_wav(dir / "signal.wav", audio, kRate);
  const std::vector<float> pcm = read_wav(dir / "signal.wav").samples;
  ASSERT_EQ(pcm.size(), audio.size());

  StreamOptions options;
  options.chunk = kChunk;
  options.states = {{"h", "hn"}, {"c", "cn"}};
  options.fixed = {{"sr", "16000"}};
  StreamRunner runner(std::make_shared<const Graph>(import_onnx_file(model)), options);
  const std::vector<float> ours = stream_scores(runner, pcm);
  ASSERT_GE(ours.size(), 100u);

  const std::string command =
      fmt::format("node {} --chunk {} --state h=hn --state c=cn --fix sr=16000 {} {} {} >{} 2>&1",
                  shell_quote(std::string(OCS_SOURCE_DIR) + "/scripts/ort_stream.js"), kChunk,
                  shell_quote(model.string()), shell_quote((dir / "signal.wav").string()),
                  shell_quote((dir / "ort.npy").string()), shell_quote((dir / "ort.log").string()));
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const std::vector<float> theirs = read_npy(dir / "ort.npy").to_vector<float>();
  ASSERT_EQ(theirs.size(), ours.size());

  const Difference d = compare_values(ours, theirs);
  int64_t speech = 0;
  for (float p : theirs) speech += p >= 0.5f;
  RecordProperty("max_abs_diff", std::to_string(d.max_abs));
  std::printf("stream of %zu chunks: %s; ORT calls %lld chunks speech\n", ours.size(), d.describe().c_str(),
              static_cast<long long>(speech));
  EXPECT_TRUE(close_enough(d, kTolerance, 0)) << "flat index = chunk; actual: ocs, expected: ORT";
  // The signal is only a useful test if both decisions occur.
  EXPECT_GT(speech, 0);
  EXPECT_LT(speech, static_cast<int64_t>(ours.size()));

  // State matters: without carrying it, the scores differ (the test would notice a lost state).
  std::vector<float> stateless;
  for (size_t i = 1; i < ours.size(); ++i) {
    runner.reset();
    stateless.push_back(runner.step(pcm.data() + i * kChunk));
  }
  const Difference moved = compare_values(stateless, std::vector<float>(ours.begin() + 1, ours.end()));
  EXPECT_TRUE(moved.comparable()) << moved.broken;
  EXPECT_GT(moved.max_abs, 1e-2);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ocs
