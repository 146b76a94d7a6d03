// Runs a stateful model over a stream of fixed-size chunks, carrying state outputs back to
// state inputs (Silero VAD: h <- hn, c <- cn), as a voice-activity detector is run on live audio.
//
// Per chunk k the model sees: the audio input = samples [k * chunk, (k + 1) * chunk) shaped
// [1, chunk] (or [chunk] when the input is declared with rank 1); each state input = the paired
// output of chunk k - 1 (zeros of the input's declared shape, unknown dims as 1, for chunk 0);
// each fixed input (sr=16000) = that number, fed only while the model still has the input
// (a model specialized with --fix-input no longer does). A last partial chunk is dropped.
#pragma once

#include "engine/session.h"
#include "data/sample_source.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ocs {

struct StreamOptions {
  int64_t chunk = 512;
  std::string audio_input;  // "" = the graph's first float input that is not a state
  std::vector<std::pair<std::string, std::string>> states;  // input name <- output name
  std::map<std::string, std::string> fixed;                 // input name -> one number
  std::string output;       // the per-chunk score ("" = the graph's first output)
};

// Parses "--state IN=OUT" items.
std::vector<std::pair<std::string, std::string>> parse_stream_states(const std::vector<std::string>& specs);

class StreamRunner {
 public:
  // Checks the names against the graph (UserError naming the option and the model's inputs or
  // outputs). The graph is shared with the session.
  StreamRunner(std::shared_ptr<const Graph> graph, StreamOptions options, SessionOptions session = {});

  // The feed for the next chunk (`samples` points at `chunk` floats), with the current state.
  Feed next_feed(const float* samples) const;
  // Runs one chunk, updates the state and returns the score output (its first element).
  float step(const float* samples);
  // Back to zero state.
  void reset();
  int64_t chunk() const { return options_.chunk; }

 private:
  std::shared_ptr<const Graph> graph_;
  StreamOptions options_;
  Session session_;
  std::string audio_input_;
  Shape audio_shape_;
  std::map<std::string, Tensor> fixed_;           // only inputs the graph has
  std::map<std::string, Tensor> state_;           // input name -> current value
  std::map<std::string, size_t> state_output_;    // input name -> output index
  size_t score_output_ = 0;
};

// Scores of every whole chunk of `audio`.
std::vector<float> stream_scores(StreamRunner& runner, const std::vector<float>& audio);

// Fidelity of a stream's scores against a reference stream's (same chunks).
struct StreamFidelity {
  double mean_abs_diff = 0;
  double max_abs_diff = 0;
  double decision_agreement = 0;  // fraction of chunks where (p >= threshold) agrees
  double reference_positive = 0;  // fraction of chunks the reference calls speech
  int64_t chunks = 0;
};
StreamFidelity compare_stream_scores(const std::vector<float>& scores, const std::vector<float>& reference,
                                     double threshold = 0.5);

}  // namespace ocs
