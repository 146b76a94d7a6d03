#include "io/wav.h"

#include "core/error.h"
#include "io/atomic_file.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ocs {
namespace {

constexpr char kConvert[] = "convert it with e.g. `sox IN -b 16 OUT.wav` or `ffmpeg -i IN -c:a pcm_s16le OUT.wav`";

uint32_t read_u32(const std::string& b, size_t at) {
  return static_cast<uint32_t>(static_cast<uint8_t>(b[at])) | static_cast<uint32_t>(static_cast<uint8_t>(b[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<uint8_t>(b[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<uint8_t>(b[at + 3])) << 24;
}

uint16_t read_u16(const std::string& b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) | static_cast<uint8_t>(b[at + 1]) << 8);
}

void put_u32(std::string& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_u16(std::string& b, uint16_t v) {
  b.push_back(static_cast<char>(v & 0xff));
  b.push_back(static_cast<char>(v >> 8));
}

}  // namespace

WavAudio parse_wav(const std::string& bytes, const std::string& origin) {
  if (bytes.size() < 12 || bytes.compare(0, 4, "RIFF") != 0 || bytes.compare(8, 4, "WAVE") != 0)
    user_error("'{}' is not a WAV file (no RIFF/WAVE header); {}", origin, kConvert);
  WavAudio audio;
  int64_t bits = 0;
  bool have_format = false;
  size_t at = 12;
  while (at + 8 <= bytes.size()) {
    const std::string id = bytes.substr(at, 4);
    const size_t size = read_u32(bytes, at + 4);
    const size_t body = at + 8;
    if (id == "fmt ") {
      if (size < 16 || body + size > bytes.size()) user_error("'{}': the WAV format chunk is truncated", origin);
      uint16_t format = read_u16(bytes, body);
      audio.channels = read_u16(bytes, body + 2);
      audio.sample_rate = read_u32(bytes, body + 4);
      bits = read_u16(bytes, body + 14);
      // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
      if (format == 0xFFFE && size >= 26) format = read_u16(bytes, body + 24);
      if (format != 1)
        user_error("'{}' holds WAV format {} (1 = PCM is read; 3 is float); {}", origin, format, kConvert);
      if (bits != 16) user_error("'{}' holds {}-bit samples; only 16-bit PCM is read; {}", origin, bits, kConvert);
      if (audio.channels != 1 && audio.channels != 2)
        user_error("'{}' has {} channels; only mono and stereo are read; {}", origin, audio.channels, kConvert);
      if (audio.sample_rate <= 0) user_error("'{}' declares a sample rate of {}", origin, audio.sample_rate);
      have_format = true;
    } else if (id == "data") {
      if (!have_format) user_error("'{}': the WAV data chunk comes before the format chunk", origin);
      // A streaming writer may leave the size at 0 or 0xFFFFFFFF: read to the end then.
      size_t length = size == 0 || size == 0xFFFFFFFFu || body + size > bytes.size() ? bytes.size() - body : size;
      if (size != 0 && size != 0xFFFFFFFFu && body + size > bytes.size())
        user_error("'{}' is truncated: the data chunk declares {} bytes, {} are present", origin, size, bytes.size() - body);
      const size_t frame = static_cast<size_t>(2 * audio.channels);
      const size_t frames = length / frame;
      audio.samples.resize(frames);
      for (size_t f = 0; f < frames; ++f) {
        float sum = 0;
        for (int64_t c = 0; c < audio.channels; ++c)
          sum += static_cast<float>(static_cast<int16_t>(read_u16(bytes, body + f * frame + 2 * c)));
        audio.samples[f] = sum / (32768.0f * static_cast<float>(audio.channels));
      }
      return audio;
    }
    at = body + size + (size & 1);  // chunks are padded to an even size
  }
  user_error("'{}' has no {} chunk; the WAV file is truncated or not PCM audio", origin,
             have_format ? "data" : "format");
}

WavAudio read_wav(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) user_error("cannot open the audio file '{}'", path.string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return parse_wav(bytes.str(), path.string());
}

void write_wav(const std::filesystem::path& path, const std::vector<float>& samples, int64_t sample_rate) {
  std::string b = "RIFF";
  const uint32_t data_bytes = static_cast<uint32_t>(2 * samples.size());
  put_u32(b, 36 + data_bytes);
  b += "WAVEfmt ";
  put_u32(b, 16);
  put_u16(b, 1);  // PCM
  put_u16(b, 1);  // mono
  put_u32(b, static_cast<uint32_t>(sample_rate));
  put_u32(b, static_cast<uint32_t>(2 * sample_rate));
  put_u16(b, 2);
  put_u16(b, 16);
  b += "data";
  put_u32(b, data_bytes);
  for (float x : samples) {
    const float clipped = std::clamp(x, -1.0f, 1.0f);
    put_u16(b, static_cast<uint16_t>(static_cast<int16_t>(std::clamp(std::lround(clipped * 32768.0f), -32768L, 32767L))));
  }
  write_file_atomically(path, [&](std::ofstream& out) { out.write(b.data(), static_cast<std::streamsize>(b.size())); });
}

std::vector<float> resample(const std::vector<float>& samples, int64_t from_rate, int64_t to_rate) {
  if (from_rate <= 0 || to_rate <= 0) user_error("cannot resample from {} Hz to {} Hz", from_rate, to_rate);
  if (from_rate == to_rate || samples.empty()) return samples;
  std::vector<float> out;
  if (from_rate % to_rate == 0) {
    const size_t factor = static_cast<size_t>(from_rate / to_rate);
    for (size_t start = 0; start + factor <= samples.size(); start += factor) {
      double sum = 0;
      for (size_t k = 0; k < factor; ++k) sum += samples[start + k];
      out.push_back(static_cast<float>(sum / static_cast<double>(factor)));
    }
    return out;
  }
  const size_t count = static_cast<size_t>(static_cast<double>(samples.size()) * to_rate / from_rate);
  out.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const double position = static_cast<double>(i) * from_rate / to_rate;
    const size_t left = std::min(static_cast<size_t>(position), samples.size() - 1);
    const size_t right = std::min(left + 1, samples.size() - 1);
    const double weight = position - static_cast<double>(left);
    out[i] = static_cast<float>((1 - weight) * samples[left] + weight * samples[right]);
  }
  return out;
}

}  // namespace ocs
