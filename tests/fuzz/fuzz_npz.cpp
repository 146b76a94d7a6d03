// .npz bytes -> read_npz. read_npz only takes a path, so the bytes go through a scratch file.
#include "fuzz_util.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = ocs::fuzz::write_scratch("input.npz", ocs::fuzz::bytes_of(data, size));
  ocs::fuzz::expect_user_errors_only([&] { ocs::read_npz(path); });
  return 0;
}
