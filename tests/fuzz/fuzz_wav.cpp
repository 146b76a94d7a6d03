// WAV bytes -> parse_wav, then resampling as `ocs stream` and the wav: source do.
#include "fuzz_util.h"
#include "io/wav.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ocs::fuzz::expect_user_errors_only([&] {
    ocs::WavAudio audio = ocs::parse_wav(ocs::fuzz::bytes_of(data, size), "fuzz.wav");
    ocs::resample(audio.samples, audio.sample_rate, 16000);
  });
  return 0;
}
