// The body of the two image targets (fuzz_png.cpp, fuzz_jpeg.cpp): the bytes go to decode_image
// as stored, as gray and as RGB. decode_image picks the decoder by the first bytes, so each
// target can wander into the other format; they differ in their seed corpus and in `kOrigin`,
// the file name the messages carry, which the including file defines before including this.
//
// Images larger than 2 MiB of pixels are refused by the memory budget before decoding
// (src/io/image.cpp): a large image takes the same code paths as a small one, only seconds
// longer each in the decoder (docs/FUZZING.md).
#pragma once

#include "core/memory_budget.h"
#include "fuzz_util.h"
#include "io/image.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ocs::set_memory_limit(2 << 20);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes = ocs::fuzz::bytes_of(data, size);
  for (int channels : {0, 1, 3})
    ocs::fuzz::expect_user_errors_only([&] { ocs::decode_image(bytes, kOrigin, channels); });
  return 0;
}
