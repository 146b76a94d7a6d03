// JPEG bytes -> decode_image as stored, as gray and as RGB. The seed corpus holds only
// JPEG files; decode_image picks the decoder by the first bytes, so the fuzzer can still
// wander into the other format.
#include "fuzz_util.h"
#include "core/memory_budget.h"
#include "io/image.h"

// Images larger than 2 MiB of pixels are refused by the memory budget before decoding: large
// images take the same code paths as small ones, only seconds longer each in the decoder.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ocs::set_memory_limit(2 << 20);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes = ocs::fuzz::bytes_of(data, size);
  for (int channels : {0, 1, 3})
    ocs::fuzz::expect_user_errors_only([&] { ocs::decode_image(bytes, "fuzz.jpeg", channels); });
  return 0;
}
