// WAV reading (io/wav.h): 16-bit PCM mono and stereo, extra chunks, and clear errors for what is
// not read; resampling by an integer factor and by linear interpolation.
#include "core/error.h"
#include "io/wav.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <unistd.h>

namespace ocs {
namespace {

void put(std::string& b, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// A RIFF/WAVE file with the given format fields, an extra LIST chunk (odd size, padded) before
// the data, and `frames` as raw little-endian 16-bit samples.
std::string wav_bytes(int format, int channels, int rate, int bits, const std::vector<int16_t>& frames) {
  std::string body = "WAVE";
  body += "fmt ";
  put(body, 16, 4);
  put(body, format, 2);
  put(body, channels, 2);
  put(body, rate, 4);
  put(body, rate * channels * bits / 8, 4);
  put(body, channels * bits / 8, 2);
  put(body, bits, 2);
  body += "LIST";
  put(body, 3, 4);
  body += "abc";
  body.push_back('\0');  // pad byte
  body += "data";
  put(body, 2 * frames.size(), 4);
  for (int16_t s : frames) put(body, static_cast<uint16_t>(s), 2);
  std::string file = "RIFF";
  put(file, body.size(), 4);
  return file + body;
}

TEST(Wav, ReadsMonoAndAveragesStereo) {
  const WavAudio mono = parse_wav(wav_bytes(1, 1, 16000, 16, {0, 16384, -32768, 32767}), "mono.wav");
  EXPECT_EQ(mono.sample_rate, 16000);
  EXPECT_EQ(mono.channels, 1);
  EXPECT_EQ(mono.samples, (std::vector<float>{0.0f, 0.5f, -1.0f, 32767.0f / 32768.0f}));
  const WavAudio stereo = parse_wav(wav_bytes(1, 2, 48000, 16, {16384, 0, -16384, -16384}), "stereo.wav");
  EXPECT_EQ(stereo.channels, 2);
  EXPECT_EQ(stereo.samples, (std::vector<float>{0.25f, -0.5f}));
}

TEST(Wav, UnsupportedFilesAreUserErrorsNamingTheFile) {
  auto message = [](const std::string& bytes) {
    try {
      parse_wav(bytes, "clip.wav");
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("not a wav file at all").find("clip.wav"), std::string::npos);
  EXPECT_NE(message(wav_bytes(1, 1, 16000, 8, {})).find("8-bit"), std::string::npos);
  EXPECT_NE(message(wav_bytes(3, 1, 16000, 32, {})).find("format 3"), std::string::npos);
  EXPECT_NE(message(wav_bytes(1, 6, 16000, 16, {})).find("6 channels"), std::string::npos);
  std::string truncated = wav_bytes(1, 1, 16000, 16, {1, 2, 3, 4});
  truncated.resize(truncated.size() - 4);
  EXPECT_NE(message(truncated).find("truncated"), std::string::npos);
  EXPECT_THROW(read_wav("/nonexistent/clip.wav"), UserError);
}

TEST(Wav, WriteThenReadRoundTrips) {
  const auto path = std::filesystem::temp_directory_path() / ("ocs_wav_test_" + std::to_string(::getpid()) + ".wav");
  write_wav(path, {0.0f, 0.25f, -0.5f, 2.0f}, 22050);  // 2.0 clips to full scale
  const WavAudio audio = read_wav(path);
  EXPECT_EQ(audio.sample_rate, 22050);
  EXPECT_EQ(audio.samples, (std::vector<float>{0.0f, 0.25f, -0.5f, 32767.0f / 32768.0f}));
  std::filesystem::remove(path);
}

TEST(Wav, ResamplesByAveragingOrInterpolating) {
  // 48 kHz -> 16 kHz averages groups of 3 (a trailing partial group is dropped).
  EXPECT_EQ(resample({3, 6, 9, 1, 1, 1, 5}, 48000, 16000), (std::vector<float>{6, 1}));
  // 8 kHz -> 16 kHz interpolates halfway between neighbours.
  EXPECT_EQ(resample({0, 2, 4}, 8000, 16000), (std::vector<float>{0, 1, 2, 3, 4, 4}));
  EXPECT_EQ(resample({1, 2}, 16000, 16000), (std::vector<float>{1, 2}));
  EXPECT_THROW(resample({1}, 0, 16000), UserError);
}

}  // namespace
}  // namespace ocs
