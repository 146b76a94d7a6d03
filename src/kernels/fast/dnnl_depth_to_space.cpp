#include "kernels/fast/dnnl_depth_to_space.h"

#include "core/memory_budget.h"

namespace ocs {
namespace {

// The output [N, C, H*K, W*K] is the plain 6-D array [N, C, H, K, W, K]; the input holds element
// (n, c, h, i, w, j) at channel (i K + j) C + c (DCR) or c K^2 + i K + j (CRD). A oneDNN reorder
// from the input viewed with those strides to the plain 6-D array is the whole op.
class LayoutDepthToSpace final : public LayoutKernel {
 public:
  LayoutDepthToSpace(int64_t block, bool crd) : block_(block), crd_(crd) {}

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    DnnlValue& x = *inputs[0];
    if (!x.defined() || !dnnl_value_is_float(x)) return false;
    const Shape in = x.shape();
    const int64_t k = block_;
    if (in.size() != 4 || shape_numel(in) == 0 || in[1] % (k * k) != 0) return false;
    const int64_t n = in[0], c = in[1] / (k * k), h = in[2], w = in[3];
    const Shape out = {n, c, h * k, w * k};
    if (!memory_fits(shape_numel(out) * sizeof(float))) return false;  // the reference kernel refuses it by name
    std::shared_ptr<void> plain_owner;
    const dnnl::memory src = dnnl_reordered(dnnl_memory_of(x), dnnl_plain_desc(in), plain_owner);
    const std::vector<int64_t> strides = crd_ ? std::vector<int64_t>{in[1] * h * w, k * k * h * w, w, k * h * w, 1, h * w}
                                              : std::vector<int64_t>{in[1] * h * w, h * w, w, k * c * h * w, 1, c * h * w};
    const Shape six = {n, c, h, k, w, k};
    const dnnl::memory from(dnnl_strided_desc(six, strides), dnnl_cpu_engine(), src.get_data_handle());
    dnnl_allocate_value(dnnl_plain_desc(out), output);
    const dnnl::memory to(dnnl_plain_desc(six), dnnl_cpu_engine(), output.memory.get_data_handle());
    dnnl_reorder_into(from, to);
    dnnl_cpu_stream().wait();
    return true;
  }

 private:
  const int64_t block_;
  const bool crd_;
};

}  // namespace

std::unique_ptr<LayoutKernel> dnnl_make_layout_depth_to_space(const Node& node, int64_t opset) {
  const int64_t block = node.attr_int("blocksize", 0);
  const std::string mode = opset >= 11 ? node.attr_string("mode", "DCR") : "DCR";
  if (block < 1 || (mode != "DCR" && mode != "CRD")) return nullptr;
  return std::make_unique<LayoutDepthToSpace>(block, mode == "CRD");
}

}  // namespace ocs
