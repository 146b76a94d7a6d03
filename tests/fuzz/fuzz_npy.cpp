// .npy bytes -> parse_npy (and the bfloat16 reinterpretation the CLI applies to inputs).
#include "fuzz_util.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ocs::fuzz::expect_user_errors_only([&] {
    ocs::Tensor t = ocs::parse_npy(ocs::fuzz::bytes_of(data, size), "fuzz.npy");
    ocs::npy_input_as(t, ocs::DType::BFloat16);
  });
  return 0;
}
