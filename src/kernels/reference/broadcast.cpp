#include "kernels/reference/broadcast.h"

#include "core/memory_budget.h"

#include <algorithm>

namespace ocs {

std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t k = 0; k < rank; ++k) {
    int64_t da = k < a.size() ? a[a.size() - 1 - k] : 1;
    int64_t db = k < b.size() ? b[b.size() - 1 - k] : 1;
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[rank - 1 - k] = da == 1 ? db : da;
  }
  return out;
}

std::vector<int64_t> broadcast_index_map(const Shape& in, const Shape& out) {
  // Built before the output it serves is allocated (MatMul's batch, Gemm's C): check it first.
  const int64_t count = shape_numel(out);
  const uint64_t bytes = static_cast<uint64_t>(count) > UINT64_MAX / sizeof(int64_t)
                             ? UINT64_MAX : static_cast<uint64_t>(count) * sizeof(int64_t);
  check_allocation(bytes,
                   fmt::format("an index map broadcasting {} to {}", shape_str(in), shape_str(out)));
  std::vector<int64_t> map(static_cast<size_t>(count));
  broadcast_for_each(in, out, [&](int64_t o, int64_t i) { map[o] = i; });
  return map;
}

}  // namespace ocs
