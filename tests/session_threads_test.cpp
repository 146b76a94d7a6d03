// A session's thread count is its own: creating and running a Session with `threads` leaves the
// caller's OpenMP setting as it was (engine/session.cpp, ScopedThreads), so a library call
// changes no state of the process (include/ocs/ocs.h).
#include "engine/session.h"
#include "onnx/onnx_io.h"
#include "test_util.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <filesystem>

namespace ocs {
namespace {

TEST(SessionThreads, CallerOpenMpSettingIsRestored) {
  const int before = omp_get_max_threads();
  omp_set_num_threads(3);
  auto graph = std::make_shared<const Graph>(
      import_onnx_file(std::filesystem::path(OCS_SOURCE_DIR) / "tests" / "data" / "small_cnn.onnx"));
  for (int threads : {1, 2}) {
    Session session(graph, {false, threads});
    EXPECT_EQ(omp_get_max_threads(), 3) << "after creating a session of " << threads << " threads";
    session.run({{"input", Tensor(DType::Float32, {1, 1, 28, 28})}});
    EXPECT_EQ(omp_get_max_threads(), 3) << "after running a session of " << threads << " threads";
  }
  omp_set_num_threads(before);
}

}  // namespace
}  // namespace ocs
