// WAV audio for the streaming tools (`ocs stream`, the wav: calibration source): RIFF/WAVE files
// with 16-bit PCM samples (format 1, or WAVE_FORMAT_EXTENSIBLE with the PCM sub-format), mono or
// stereo. Samples become float in [-1, 1) (x / 32768); stereo is averaged to mono. Anything
// else (8/24/32-bit, float, compressed, more channels, a truncated file) is a UserError naming
// the file and saying how to convert it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ocs {

struct WavAudio {
  int64_t sample_rate = 0;
  int64_t channels = 0;        // in the file; `samples` is always mono
  std::vector<float> samples;  // mono, [-1, 1)
};

WavAudio read_wav(const std::filesystem::path& path);
WavAudio parse_wav(const std::string& bytes, const std::string& origin);
// 16-bit PCM mono; samples are clipped to [-1, 1] and rounded.
void write_wav(const std::filesystem::path& path, const std::vector<float>& samples, int64_t sample_rate);

// Resamples mono audio. An integer factor down (48 kHz -> 16 kHz) averages each group of
// `from / to` samples (a box filter: crude, but it keeps most aliasing out); any other ratio
// interpolates linearly between neighbours. Equal rates return the input.
std::vector<float> resample(const std::vector<float>& samples, int64_t from_rate, int64_t to_rate);

}  // namespace ocs
