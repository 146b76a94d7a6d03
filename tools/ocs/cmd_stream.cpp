#include "commands.h"
#include "eval/stream_runner.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "io/wav.h"
#include "onnx/onnx_io.h"
#include "data/fixed_inputs.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

namespace ocs::cli {
namespace fs = std::filesystem;

namespace {

// A .wav file (16-bit PCM) or a 1-D float32 .npy of samples.
std::vector<float> read_audio(const std::string& path, int64_t rate) {
  if (fs::path(path).extension() == ".npy") {
    const Tensor t = read_npy(path);
    if (t.dtype() != DType::Float32 || t.rank() != 1)
      user_error("--audio '{}' must hold a 1-D float32 array of samples, not {} {}", path, dtype_name(t.dtype()),
                 shape_str(t.shape()));
    if (rate > 0) user_error("--rate needs a .wav file (a .npy holds no sample rate): resample '{}' yourself", path);
    return t.to_vector<float>();
  }
  WavAudio audio = read_wav(path);
  return rate > 0 ? resample(audio.samples, audio.sample_rate, rate) : std::move(audio.samples);
}

}  // namespace

Action add_stream_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("stream", "Run a stateful model (a voice-activity detector) over audio chunk by chunk, "
                                           "carrying its state; optionally compare with a float model");
  struct Options {
    std::string model, audio, reference, output, json, audio_input, output_name;
    std::vector<std::string> states, fixed;
    int64_t chunk = 512, rate = 0;
    double threshold = 0.5;
    int threads = 1;
    bool force = false;
  };
  auto opt = std::make_shared<Options>();
  cmd->add_option("model", opt->model, "ONNX model")->required();
  cmd->add_option("--audio", opt->audio, "audio: 16-bit PCM .wav (mono or stereo) or a 1-D float32 .npy")->required();
  cmd->add_option("--chunk", opt->chunk, "samples per chunk (default 512); a last partial chunk is dropped");
  cmd->add_option("--state", opt->states, "INPUT=OUTPUT: the output feeds that input on the next chunk (Silero: h=hn c=cn); zeros first");
  cmd->add_option("--fix", opt->fixed, "NAME=VALUE: an input held at one number (Silero: sr=16000); ignored by a model that no longer has it");
  cmd->add_option("--rate", opt->rate, "resample the .wav to this rate first (default: as is)");
  cmd->add_option("--reference", opt->reference, "float model run on the same chunks (its own state): prints the fidelity");
  cmd->add_option("--threshold", opt->threshold, "speech decision threshold for the agreement (default 0.5)");
  cmd->add_option("--output", opt->output, "CSV of per-chunk scores: chunk,start_sample,score[,reference]");
  cmd->add_option("--json", opt->json, "fidelity summary as JSON");
  cmd->add_option("--audio-input", opt->audio_input, "the audio input (default: the first float input not a state)");
  cmd->add_option("--output-name", opt->output_name, "the score output (default: the first output)");
  cmd->add_option("--threads", opt->threads, "threads per model (default 1: chunks are small)");
  cmd->add_flag("--force", opt->force, "overwrite --output / --json");
  return [opt]() {
    for (const auto& path : {opt->output, opt->json})
      if (!path.empty() && fs::exists(path) && !opt->force) user_error("'{}' already exists; pass --force to overwrite it", path);
    StreamOptions options;
    options.chunk = opt->chunk;
    options.audio_input = opt->audio_input;
    options.output = opt->output_name;
    options.states = parse_stream_states(opt->states);
    options.fixed = parse_fixed_values(opt->fixed, "--fix");
    SessionOptions session;
    session.threads = opt->threads;
    const std::vector<float> audio = read_audio(opt->audio, opt->rate);

    StreamRunner runner(std::make_shared<const Graph>(import_onnx_file(opt->model)), options, session);
    const std::vector<float> scores = stream_scores(runner, audio);
    if (scores.empty()) user_error("'{}' holds {} samples, less than one chunk of {}", opt->audio, audio.size(), opt->chunk);
    std::vector<float> reference;
    if (!opt->reference.empty()) {
      StreamRunner float_runner(std::make_shared<const Graph>(import_onnx_file(opt->reference)), options, session);
      reference = stream_scores(float_runner, audio);
    }
    if (!opt->output.empty())
      write_file_atomically(opt->output, [&](std::ofstream& out) {
        out << "chunk,start_sample,score" << (reference.empty() ? "" : ",reference") << "\n";
        for (size_t i = 0; i < scores.size(); ++i) {
          out << fmt::format("{},{},{:.9g}", i, i * static_cast<size_t>(opt->chunk), scores[i]);
          if (!reference.empty()) out << fmt::format(",{:.9g}", reference[i]);
          out << "\n";
        }
      });
    int64_t positive = 0;
    for (float p : scores) positive += p >= opt->threshold;
    std::cout << fmt::format("{} chunks of {} samples; {:.2f}% at or above {}\n", scores.size(), opt->chunk,
                             100.0 * static_cast<double>(positive) / static_cast<double>(scores.size()), opt->threshold);
    nlohmann::json summary = {{"model", opt->model}, {"audio", opt->audio}, {"chunks", scores.size()},
                              {"chunk", opt->chunk}, {"threshold", opt->threshold}};
    if (!reference.empty()) {
      const StreamFidelity f = compare_stream_scores(scores, reference, opt->threshold);
      std::cout << fmt::format("against {}: mean |p - p_ref| {:.6f}, max {:.6f}, decision agreement {:.2f}% "
                               "(reference speech {:.2f}%), {} chunks\n",
                               opt->reference, f.mean_abs_diff, f.max_abs_diff, 100.0 * f.decision_agreement,
                               100.0 * f.reference_positive, f.chunks);
      summary["reference"] = opt->reference;
      summary["mean_abs_diff"] = f.mean_abs_diff;
      summary["max_abs_diff"] = f.max_abs_diff;
      summary["decision_agreement"] = f.decision_agreement;
      summary["reference_positive"] = f.reference_positive;
    }
    if (!opt->json.empty())
      write_file_atomically(opt->json, [&](std::ofstream& out) { out << summary.dump(2) << "\n"; });
    return 0;
  };
}

}  // namespace ocs::cli
