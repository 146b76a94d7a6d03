// The "wav:FILE,key=value,..." spec of --calib / --data: consecutive chunks of a WAV file fed to
// a streaming model (eval/stream_runner.h), one chunk per batch.
//
//   wav:FILE[,chunk=512][,rate=HZ][,input=NAME][,state=IN:OUT ...][,fix=NAME:VALUE ...]
//
//   chunk  samples per chunk (default 512); a last partial chunk is dropped
//   rate   resample the file to HZ first (io/wav.h; default: the file's rate)
//   input  the audio input (default: the first float input that is not a state)
//   state  a state input and the output that feeds it on the next chunk (Silero: state=h:hn,
//          state=c:cn). The state each chunk sees is the one the *float* model (the graph the
//          source is made for) carries over the stream, so the calibrated graph sees realistic
//          states, as in deployment, and not zeros.
//   fix    an input held at one number (Silero: fix=sr:16000), as `ocs stream --fix`. It is in
//          every batch; `ocs quantize --fix-input sr=16000` turns sr into a constant and then
//          drops it from the batches.
#pragma once

#include "data/sample_source.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ocs {

std::unique_ptr<SampleSource> make_wav_source(const std::string& spec, const Graph& graph, int64_t limit);

// The fix=NAME:VALUE items of the wav: specs among `specs` (input -> number): `ocs eval` feeds
// them to a --reference model that still has the input when the evaluated model does not.
std::map<std::string, std::string> wav_fixed_inputs(const std::vector<std::string>& specs);

}  // namespace ocs
