#include "kernels/fast/dnnl_common.h"

#include <atomic>

namespace ocs {

dnnl::engine& dnnl_cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& dnnl_cpu_stream() {
  // One per thread: `ocs sweep` runs sessions on several threads at once (sweep/runner.cpp).
  thread_local dnnl::stream stream(dnnl_cpu_engine());
  return stream;
}

static std::atomic<int64_t> fallback_count{0};
void dnnl_note_fallback() { ++fallback_count; }

bool dnnl_holds_nan(const float* data, int64_t count) {
  bool found = false;
  for (int64_t i = 0; i < count; ++i) found |= data[i] != data[i];  // no early exit: vectorizes
  return found;
}
int64_t dnnl_fallback_count() { return fallback_count.load(); }

dnnl::memory::dims dnnl_dims(const Shape& shape) { return dnnl::memory::dims(shape.begin(), shape.end()); }

dnnl::memory::desc dnnl_plain_desc(const Shape& shape) {
  return dnnl_strided_desc(shape, shape_strides(shape));
}

dnnl::memory::desc dnnl_plain_desc(const Shape& shape, dnnl::memory::data_type type) {
  const std::vector<int64_t> strides = shape_strides(shape);
  return dnnl::memory::desc(dnnl_dims(shape), type, dnnl::memory::dims(strides.begin(), strides.end()));
}

dnnl::memory::desc dnnl_strided_desc(const Shape& shape, const std::vector<int64_t>& strides) {
  return dnnl::memory::desc(dnnl_dims(shape), dnnl::memory::data_type::f32,
                            dnnl::memory::dims(strides.begin(), strides.end()));
}

dnnl::memory dnnl_view(const dnnl::memory::desc& desc, const Tensor& tensor) {
  // oneDNN takes a non-const handle for every memory; inputs are only read.
  return dnnl::memory(desc, dnnl_cpu_engine(), const_cast<void*>(tensor.raw()));
}

bool dnnl_input_is_constant(const Node& node, const Graph& graph, size_t input) {
  if (input >= node.inputs.size() || node.inputs[input] == kNoValue) return false;
  return graph.values.at(static_cast<size_t>(node.inputs[input])).constant.has_value();
}

bool dnnl_input_may_be_float(const Node& node, const Graph& graph, size_t input) {
  if (input >= node.inputs.size() || node.inputs[input] == kNoValue) return true;
  const DType dtype = graph.values.at(static_cast<size_t>(node.inputs[input])).dtype;
  return dtype == DType::Undefined || dtype == DType::Float32;
}

int64_t dnnl_input_rank(const Node& node, const Graph& graph, size_t input) {
  if (input >= node.inputs.size() || node.inputs[input] == kNoValue) return -1;
  const Value& value = graph.values.at(static_cast<size_t>(node.inputs[input]));
  if (value.constant) return value.constant->rank();
  return value.shape ? static_cast<int64_t>(value.shape->size()) : -1;
}

DnnlStaging::DnnlStaging(const dnnl::memory::desc& user, const dnnl::memory::desc& primitive,
                         bool to_primitive)
    : needed_(user != primitive) {
  if (!needed_) return;
  buffer_ = dnnl::memory(primitive, dnnl_cpu_engine());
  const dnnl::memory user_probe(user, dnnl_cpu_engine(), DNNL_MEMORY_NONE);
  reorder_ = to_primitive ? dnnl::reorder(user_probe, buffer_) : dnnl::reorder(buffer_, user_probe);
}

dnnl::memory DnnlStaging::input(const dnnl::memory& user_memory) {
  if (!needed_) return user_memory;
  dnnl::memory from = user_memory;  // a handle: copies share the buffer
  reorder_.execute(dnnl_cpu_stream(), from, buffer_);
  return buffer_;
}

void DnnlStaging::output_done(const dnnl::memory& user_memory) {
  dnnl::memory to = user_memory;
  if (needed_) reorder_.execute(dnnl_cpu_stream(), buffer_, to);
}

dnnl::memory dnnl_reorder_now(const dnnl::memory& user, const dnnl::memory::desc& primitive_desc) {
  if (user.get_desc() == primitive_desc) return user;
  dnnl::memory out(primitive_desc, dnnl_cpu_engine());
  dnnl::memory from = user;
  dnnl::reorder(from, out).execute(dnnl_cpu_stream(), from, out);
  dnnl_cpu_stream().wait();
  return out;
}

}  // namespace ocs
