// Layout-aware oneDNN kernels (see dnnl_layout.h for the design). Every kernel caches one plan
// per incoming memory desc (primitive, reorders, weights in the primitive's layout), so a run
// after the first creates no primitive and allocates only from the buffer pool.
#include "kernels/fast/dnnl_layout.h"

#include "kernels/reference/nn_common.h"

#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace ocs {

namespace {

using tag = dnnl::memory::format_tag;
constexpr auto f32 = dnnl::memory::data_type::f32;

// A byte-exact key of a memory desc for plan caches (descs come zero-initialized from oneDNN).
std::string desc_key(const dnnl::memory::desc& desc) {
  return std::string(reinterpret_cast<const char*>(&desc.data), sizeof(desc.data));
}

Shape dims_of(const dnnl::memory::desc& desc) {
  const auto dims = desc.dims();
  return Shape(dims.begin(), dims.end());
}

dnnl::memory::dims to_dims(const std::vector<int64_t>& v) { return dnnl::memory::dims(v.begin(), v.end()); }

// The value as oneDNN memory: its own memory, or a view of its plain tensor.
dnnl::memory memory_of(const DnnlValue& value) {
  if (value.has_memory) return value.memory;
  return dnnl_view(dnnl_plain_desc(value.plain.shape()), value.plain);
}

bool is_float(const DnnlValue& value) { return value.has_memory || value.plain.dtype() == DType::Float32; }

// A reorder between two descs, created once per pair.
dnnl::reorder& cached_reorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
  static std::mutex mutex;
  static std::map<std::string, dnnl::reorder> cache;
  std::lock_guard<std::mutex> lock(mutex);
  const std::string key = desc_key(from) + desc_key(to);
  auto it = cache.find(key);
  if (it == cache.end()) {
    const dnnl::memory from_probe(from, dnnl_cpu_engine(), DNNL_MEMORY_NONE);
    const dnnl::memory to_probe(to, dnnl_cpu_engine(), DNNL_MEMORY_NONE);
    it = cache.emplace(key, dnnl::reorder(from_probe, to_probe)).first;
  }
  return it->second;
}

void reorder_into(const dnnl::memory& from, const dnnl::memory& to) {
  dnnl::memory src = from, dst = to;
  cached_reorder(from.get_desc(), to.get_desc()).execute(dnnl_cpu_stream(), src, dst);
}

// A new value of layout `desc`: a plain Tensor when the layout is plain (so that materializing
// is free), else a pooled oneDNN buffer.
void allocate(const dnnl::memory::desc& desc, DnnlValue& out) {
  const Shape shape = dims_of(desc);
  out = DnnlValue();
  if (desc == dnnl_plain_desc(shape)) {
    out.plain = Tensor(DType::Float32, shape);
    out.memory = dnnl_view(desc, out.plain);
  } else {
    out.owner = dnnl_pool_alloc(desc.get_size());
    out.memory = dnnl::memory(desc, dnnl_cpu_engine(), out.owner.get());
  }
  out.has_memory = true;
}

// A scratch copy of `from` in layout `desc` (pooled; lives as long as the returned owner).
dnnl::memory reordered(const dnnl::memory& from, const dnnl::memory::desc& desc, std::shared_ptr<void>& owner) {
  if (from.get_desc() == desc) return from;
  owner = dnnl_pool_alloc(desc.get_size());
  dnnl::memory to(desc, dnnl_cpu_engine(), owner.get());
  reorder_into(from, to);
  return to;
}

dnnl::algorithm eltwise_algorithm(EltwiseOp::Kind kind) {
  switch (kind) {
    case EltwiseOp::Kind::Relu:
    case EltwiseOp::Kind::LeakyRelu: return dnnl::algorithm::eltwise_relu;
    case EltwiseOp::Kind::Clip: return dnnl::algorithm::eltwise_clip_v2;
    case EltwiseOp::Kind::Sigmoid: return dnnl::algorithm::eltwise_logistic;
    case EltwiseOp::Kind::Tanh: return dnnl::algorithm::eltwise_tanh;
    case EltwiseOp::Kind::HardSwish: return dnnl::algorithm::eltwise_hardswish;
    case EltwiseOp::Kind::Linear: return dnnl::algorithm::eltwise_linear;
  }
  return dnnl::algorithm::eltwise_relu;
}

float eltwise_alpha(const EltwiseOp& op) { return op.kind == EltwiseOp::Kind::Relu ? 0.0f : op.alpha; }

bool is_reference_impl(const std::string& impl) { return impl.rfind("ref", 0) == 0; }

// ---- Conv + post-ops --------------------------------------------------------------------------

class LayoutConv final : public LayoutKernel {
 public:
  LayoutConv(const Node& node, Tensor weights, Tensor bias, std::vector<PostOp> post_ops)
      : node_(node), weights_(std::move(weights)), bias_(std::move(bias)), post_ops_(std::move(post_ops)) {
    for (const PostOp& p : post_ops_) has_sum_ = has_sum_ || p.sum;
  }

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    DnnlValue& x = *inputs[0];
    if (!x.defined() || !is_float(x)) return false;
    const dnnl::memory src = memory_of(x);
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string key = desc_key(src.get_desc());
    auto it = plans_.find(key);
    if (it == plans_.end()) it = plans_.emplace(key, build_plan(src.get_desc())).first;
    if (!it->second) return false;
    Plan& plan = *it->second;
    DnnlValue* sum = has_sum_ ? inputs.back() : nullptr;
    if (sum && (!sum->defined() || !is_float(*sum) || sum->shape() != plan.y_shape)) return false;

    std::shared_ptr<void> src_owner;
    const dnnl::memory src_ready = reordered(src, plan.src_md, src_owner);
    allocate(plan.dst_md, output);
    if (sum) reorder_into(memory_of(*sum), output.memory);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src_ready},
                                               {DNNL_ARG_WEIGHTS, plan.weights},
                                               {DNNL_ARG_DST, output.memory}};
    if (bias_.defined()) args[DNNL_ARG_BIAS] = plan.bias;
    plan.primitive.execute(dnnl_cpu_stream(), args);
    dnnl_cpu_stream().wait();
    return true;
  }

 private:
  struct Plan {
    dnnl::convolution_forward primitive;
    dnnl::memory::desc src_md, dst_md;
    dnnl::memory weights, bias;
    Shape y_shape;
  };

  std::optional<Plan> build_plan(const dnnl::memory::desc& incoming) {
    const Shape x_shape = dims_of(incoming);
    const Tensor& w = weights_;
    if (x_shape.size() != 4 || w.rank() != 4) return std::nullopt;
    const int64_t group = node_.attr_int("group", 1);
    const int64_t in_channels = x_shape[1];
    const int64_t out_channels = w.dim(0);
    if (group < 1 || in_channels % group != 0 || out_channels % group != 0 || w.dim(1) * group != in_channels)
      return std::nullopt;
    const Shape kernel = nn_spatial_dims(w.shape());
    if (node_.attr_ints("kernel_shape", kernel) != kernel) return std::nullopt;
    const WindowGeometry g = nn_window_geometry(node_, nn_spatial_dims(x_shape), kernel, false);
    for (int64_t d : g.output)
      if (d < 1) return std::nullopt;
    if (bias_.defined() && (bias_.rank() != 1 || bias_.dim(0) != out_channels)) return std::nullopt;

    Plan plan;
    plan.y_shape = {x_shape[0], out_channels, g.output[0], g.output[1]};
    // ONNX W [M, C/group, kh, kw] is exactly oneDNN's [G, M/G, C/G, kh, kw] in row-major order.
    Shape weight_dims = group == 1 ? Shape{out_channels, in_channels}
                                   : Shape{group, out_channels / group, in_channels / group};
    weight_dims.insert(weight_dims.end(), kernel.begin(), kernel.end());
    const dnnl::memory::desc bias_md = bias_.defined() ? dnnl_plain_desc({out_channels}) : dnnl::memory::desc();
    std::vector<int64_t> dilates;  // oneDNN counts dilation from 0
    for (int64_t d : g.dilations) dilates.push_back(d - 1);

    dnnl::post_ops ops;
    for (const PostOp& p : post_ops_) {
      if (p.sum) ops.append_sum(1.0f);
      else ops.append_eltwise(1.0f, eltwise_algorithm(p.eltwise.kind), eltwise_alpha(p.eltwise), p.eltwise.beta);
    }
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);

    auto make_pd = [&](const dnnl::memory::desc& src_md) {
      dnnl::convolution_forward::desc desc(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md,
          dnnl::memory::desc(dnnl_dims(weight_dims), f32, tag::any), bias_md,
          dnnl::memory::desc(dnnl_dims(plan.y_shape), f32, tag::any), to_dims(g.strides), to_dims(dilates),
          to_dims(g.pads_begin), to_dims(g.pads_end));
      return dnnl::convolution_forward::primitive_desc(desc, attr, dnnl_cpu_engine());
    };
    std::optional<dnnl::convolution_forward::primitive_desc> pd;
    try {
      // Keep the producer's layout when a fast implementation takes it as is; else let oneDNN
      // choose (and reorder the input into its choice).
      if (incoming != dnnl_plain_desc(x_shape)) {
        try {
          pd = make_pd(incoming);
          if (is_reference_impl(pd->impl_info_str())) pd.reset();
        } catch (const dnnl::error&) {
          pd.reset();
        }
      }
      if (!pd) pd = make_pd(dnnl::memory::desc(dnnl_dims(x_shape), f32, tag::any));
    } catch (const dnnl::error&) {
      return std::nullopt;
    }
    plan.src_md = pd->src_desc();
    plan.dst_md = pd->dst_desc();
    plan.primitive = dnnl::convolution_forward(*pd);
    plan.weights = dnnl_reorder_now(dnnl_view(dnnl_plain_desc(weight_dims), weights_), pd->weights_desc());
    if (bias_.defined()) plan.bias = dnnl_view(bias_md, bias_);
    return plan;
  }

  const Node& node_;
  const Tensor weights_, bias_;  // graph constants or their scaled copies (shared buffers)
  const std::vector<PostOp> post_ops_;
  bool has_sum_ = false;
  std::mutex mutex_;
  std::unordered_map<std::string, std::optional<Plan>> plans_;
};

// ---- Pooling ----------------------------------------------------------------------------------

enum class PoolKind { Max, Average, GlobalAverage };

class LayoutPool final : public LayoutKernel {
 public:
  LayoutPool(const Node& node, PoolKind kind) : node_(node), kind_(kind) {}

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    DnnlValue& x = *inputs[0];
    if (!x.defined() || !is_float(x)) return false;
    const dnnl::memory src = memory_of(x);
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string key = desc_key(src.get_desc());
    auto it = plans_.find(key);
    if (it == plans_.end()) it = plans_.emplace(key, build_plan(src.get_desc())).first;
    if (!it->second) return false;
    Plan& plan = *it->second;
    allocate(plan.dst_md, output);
    plan.primitive.execute(dnnl_cpu_stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, output.memory}});
    dnnl_cpu_stream().wait();
    return true;
  }

 private:
  struct Plan {
    dnnl::pooling_v2_forward primitive;
    dnnl::memory::desc dst_md;
  };

  // The geometry mapping follows dnnl_pool.cpp (same limits, same end padding for ceil_mode).
  std::optional<Plan> build_plan(const dnnl::memory::desc& incoming) const {
    const Shape x_shape = dims_of(incoming);
    if (x_shape.size() != 4 || shape_numel(x_shape) == 0) return std::nullopt;
    const Shape spatial = nn_spatial_dims(x_shape);
    WindowGeometry g;
    dnnl::algorithm algorithm = dnnl::algorithm::pooling_max;
    if (kind_ == PoolKind::GlobalAverage) {
      g.input = g.kernel = spatial;
      g.output.assign(spatial.size(), 1);
      g.strides.assign(spatial.size(), 1);
      g.dilations.assign(spatial.size(), 1);
      g.pads_begin.assign(spatial.size(), 0);
      g.pads_end.assign(spatial.size(), 0);
      algorithm = dnnl::algorithm::pooling_avg_exclude_padding;
    } else {
      if (!node_.has_attr("kernel_shape")) return std::nullopt;
      const Shape kernel = node_.attr("kernel_shape").ints;
      if (kernel.size() != 2) return std::nullopt;
      g = nn_window_geometry(node_, spatial, kernel, node_.attr_int("ceil_mode", 0) != 0);
      if (kind_ == PoolKind::Average)
        algorithm = node_.attr_int("count_include_pad", 0) != 0 ? dnnl::algorithm::pooling_avg_include_padding
                                                               : dnnl::algorithm::pooling_avg_exclude_padding;
    }
    std::vector<int64_t> pad_end(g.spatial_rank());
    for (size_t i = 0; i < g.spatial_rank(); ++i) {
      if (g.output[i] < 1) return std::nullopt;
      const int64_t needed = (g.output[i] - 1) * g.strides[i] + g.dilated_kernel(i) - g.input[i] - g.pads_begin[i];
      pad_end[i] = std::max(g.pads_end[i], needed);
      const int64_t span = g.input[i] + g.pads_begin[i] + pad_end[i] - g.dilated_kernel(i);
      if (span < 0 || span / g.strides[i] + 1 != g.output[i]) return std::nullopt;
      if (pad_end[i] > g.pads_end[i] && algorithm == dnnl::algorithm::pooling_avg_include_padding)
        return std::nullopt;
      if (g.pads_begin[i] >= g.dilated_kernel(i) || pad_end[i] >= g.dilated_kernel(i)) return std::nullopt;
    }
    const Shape y_shape = {x_shape[0], x_shape[1], g.output[0], g.output[1]};
    std::vector<int64_t> dilates;
    for (int64_t d : g.dilations) dilates.push_back(d - 1);
    try {
      dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm, incoming,
                                          dnnl::memory::desc(dnnl_dims(y_shape), f32, tag::any),
                                          to_dims(g.strides), to_dims(g.kernel), to_dims(dilates),
                                          to_dims(g.pads_begin), to_dims(pad_end));
      dnnl::pooling_v2_forward::primitive_desc pd(desc, dnnl_cpu_engine());
      return Plan{dnnl::pooling_v2_forward(pd), pd.dst_desc()};
    } catch (const dnnl::error&) {
      return std::nullopt;
    }
  }

  const Node& node_;
  const PoolKind kind_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::optional<Plan>> plans_;
};

// ---- Binary -----------------------------------------------------------------------------------

class LayoutBinary final : public LayoutKernel {
 public:
  LayoutBinary(dnnl::algorithm algorithm, bool commutative) : algorithm_(algorithm), commutative_(commutative) {}

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    if (inputs.size() != 2 || !inputs[0]->defined() || !inputs[1]->defined()) return false;
    if (!is_float(*inputs[0]) || !is_float(*inputs[1])) return false;
    Shape a = inputs[0]->shape(), b = inputs[1]->shape();
    if (a.size() != 4 || b.size() > 4 || shape_numel(a) == 0 || shape_numel(b) == 0) return false;
    b.insert(b.begin(), 4 - b.size(), 1);
    // The full-shape operand goes first; the other may only have size-1 axes where they differ.
    size_t full = 0;
    if (a != b) {
      bool b_fits_a = true, a_fits_b = true;
      for (size_t i = 0; i < 4; ++i) {
        b_fits_a = b_fits_a && (b[i] == a[i] || b[i] == 1);
        a_fits_b = a_fits_b && (a[i] == b[i] || a[i] == 1);
      }
      if (b_fits_a) full = 0;
      else if (a_fits_b && commutative_ && inputs[1]->shape().size() == 4) full = 1;
      else return false;
    }
    DnnlValue& src0 = *inputs[full];
    DnnlValue& src1 = *inputs[1 - full];
    const dnnl::memory m0 = memory_of(src0);
    const Shape s1 = full == 0 ? b : a;
    // A full-shape second operand is brought into the first one's layout; a broadcasting one is
    // small and read plain.
    dnnl::memory m1;
    std::shared_ptr<void> m1_owner;
    if (s1 == dims_of(m0.get_desc())) {
      m1 = reordered(memory_of(src1), m0.get_desc(), m1_owner);
    } else {
      const Tensor& plain1 = dnnl_materialize(src1);
      m1 = dnnl_view(dnnl_plain_desc(s1), plain1);
    }
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string key = desc_key(m0.get_desc()) + desc_key(m1.get_desc());
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      std::optional<dnnl::binary> primitive;
      try {
        dnnl::binary::desc desc(algorithm_, m0.get_desc(), m1.get_desc(), m0.get_desc());
        primitive = dnnl::binary(dnnl::binary::primitive_desc(desc, dnnl_cpu_engine()));
      } catch (const dnnl::error&) {
      }
      it = plans_.emplace(key, primitive).first;
    }
    if (!it->second) return false;
    allocate(m0.get_desc(), output);
    it->second->execute(dnnl_cpu_stream(), {{DNNL_ARG_SRC_0, m0}, {DNNL_ARG_SRC_1, m1}, {DNNL_ARG_DST, output.memory}});
    dnnl_cpu_stream().wait();
    return true;
  }

 private:
  const dnnl::algorithm algorithm_;
  const bool commutative_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::optional<dnnl::binary>> plans_;
};

// ---- Element-wise chain -----------------------------------------------------------------------

class LayoutEltwise final : public LayoutKernel {
 public:
  explicit LayoutEltwise(std::vector<EltwiseOp> ops) : ops_(std::move(ops)) {}

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    DnnlValue& x = *inputs[0];
    if (!x.defined() || !is_float(x)) return false;
    const Shape shape = x.shape();
    if (shape.empty() || shape.size() > 6 || shape_numel(shape) == 0) return false;
    const dnnl::memory src = memory_of(x);
    std::lock_guard<std::mutex> lock(mutex_);
    const std::string key = desc_key(src.get_desc());
    auto it = plans_.find(key);
    if (it == plans_.end()) {
      std::optional<std::vector<dnnl::eltwise_forward>> chain(std::in_place);
      try {
        for (const EltwiseOp& op : ops_) {
          dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, eltwise_algorithm(op.kind),
                                           src.get_desc(), eltwise_alpha(op), op.beta);
          chain->emplace_back(dnnl::eltwise_forward::primitive_desc(desc, dnnl_cpu_engine()));
        }
      } catch (const dnnl::error&) {
        chain.reset();
      }
      it = plans_.emplace(key, std::move(chain)).first;
    }
    if (!it->second) return false;
    allocate(src.get_desc(), output);
    dnnl::memory from = src;
    for (auto& primitive : *it->second) {  // the first reads the input, the rest work in place
      primitive.execute(dnnl_cpu_stream(), {{DNNL_ARG_SRC, from}, {DNNL_ARG_DST, output.memory}});
      from = output.memory;
    }
    dnnl_cpu_stream().wait();
    return true;
  }

 private:
  const std::vector<EltwiseOp> ops_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::optional<std::vector<dnnl::eltwise_forward>>> plans_;
};

// ---- Buffer pool ------------------------------------------------------------------------------

struct BufferPool {
  std::mutex mutex;
  std::multimap<size_t, void*> free;  // by size in bytes
};

BufferPool& buffer_pool() {
  static BufferPool* pool = new BufferPool();  // never destroyed: buffers may outlive statics
  return *pool;
}

}  // namespace

Shape DnnlValue::shape() const { return has_memory ? dims_of(memory.get_desc()) : plain.shape(); }

const Tensor& dnnl_materialize(DnnlValue& value) {
  if (value.plain.defined()) return value.plain;
  OCS_CHECK(value.has_memory, "materializing a value that was never computed");
  Tensor plain(DType::Float32, dims_of(value.memory.get_desc()));
  reorder_into(value.memory, dnnl_view(dnnl_plain_desc(plain.shape()), plain));
  dnnl_cpu_stream().wait();
  value.plain = std::move(plain);
  return value.plain;
}

std::shared_ptr<void> dnnl_pool_alloc(size_t bytes) {
  BufferPool& pool = buffer_pool();
  void* buffer = nullptr;
  {
    std::lock_guard<std::mutex> lock(pool.mutex);
    auto it = pool.free.find(bytes);
    if (it != pool.free.end()) {
      buffer = it->second;
      pool.free.erase(it);
    }
  }
  if (!buffer) {
    buffer = std::aligned_alloc(64, (std::max<size_t>(bytes, 1) + 63) / 64 * 64);
    OCS_CHECK(buffer, "out of memory allocating {} bytes", bytes);
  }
  return std::shared_ptr<void>(buffer, [bytes](void* p) {
    BufferPool& pool = buffer_pool();
    std::lock_guard<std::mutex> lock(pool.mutex);
    pool.free.emplace(bytes, p);
  });
}

// The constant behind `id`: a constant value, or the output of Identity nodes over one (torch
// exports weights used twice through Identity). nullptr otherwise.
static const Tensor* constant_behind(const Graph& graph, ValueId id) {
  for (int hops = 0; hops < 8 && id != kNoValue; ++hops) {
    const Value& value = graph.values.at(static_cast<size_t>(id));
    if (value.constant) return &*value.constant;
    if (value.outer_scope) return nullptr;
    const std::optional<NodeId> producer = graph.producer(id);
    if (!producer) return nullptr;
    const Node& node = graph.nodes[*producer];
    if (!node.domain.empty() || node.op_type != "Identity" || node.inputs.size() != 1) return nullptr;
    id = node.inputs[0];
  }
  return nullptr;
}

std::unique_ptr<LayoutKernel> dnnl_make_layout_conv(const Node& conv, const Graph& graph,
                                                    std::vector<PostOp> post_ops, float scale, float shift) {
  if (!dnnl_input_may_be_float(conv, graph, 0) || conv.inputs.size() < 2) return nullptr;
  const Tensor* weights = constant_behind(graph, conv.inputs[1]);
  if (!weights) return nullptr;
  const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] != kNoValue;
  const Tensor* bias = has_bias ? constant_behind(graph, conv.inputs[2]) : nullptr;
  if (has_bias && !bias) return nullptr;
  const Tensor& w = *weights;
  Tensor b = has_bias ? *bias : Tensor();
  if (w.dtype() != DType::Float32 || w.rank() != 4 || (has_bias && b.dtype() != DType::Float32)) return nullptr;
  const int64_t rank = dnnl_input_rank(conv, graph, 0);
  if (rank != -1 && rank != 4) return nullptr;
  if (has_bias && (b.rank() != 1 || b.numel() != w.dim(0))) return nullptr;
  if (scale != 1.0f || shift != 0.0f) {
    // (W * x + B) * scale + shift == (scale W) * x + (scale B + shift), per output channel.
    Tensor scaled_w = w.clone();
    for (float& v : scaled_w.span<float>()) v *= scale;
    Tensor shifted_b(DType::Float32, {w.dim(0)});
    float* out = shifted_b.data<float>();
    for (int64_t m = 0; m < w.dim(0); ++m) out[m] = (has_bias ? b.data<float>()[m] * scale : 0.0f) + shift;
    return std::make_unique<LayoutConv>(conv, scaled_w, shifted_b, std::move(post_ops));
  }
  return std::make_unique<LayoutConv>(conv, w, b, std::move(post_ops));
}

std::unique_ptr<LayoutKernel> dnnl_make_layout_pool(const Node& node, const Graph& graph) {
  if (!dnnl_input_may_be_float(node, graph, 0)) return nullptr;
  const int64_t rank = dnnl_input_rank(node, graph, 0);
  if (rank != -1 && rank != 4) return nullptr;
  if (node.op_type == "MaxPool") {
    if (node.outputs.size() > 1 && node.outputs[1] != kNoValue) return nullptr;
    if (node.attr_int("storage_order", 0) != 0) return nullptr;
    return std::make_unique<LayoutPool>(node, PoolKind::Max);
  }
  if (node.op_type == "AveragePool") return std::make_unique<LayoutPool>(node, PoolKind::Average);
  if (node.op_type == "GlobalAveragePool") return std::make_unique<LayoutPool>(node, PoolKind::GlobalAverage);
  return nullptr;
}

std::unique_ptr<LayoutKernel> dnnl_make_layout_binary(const Node& node) {
  if (node.inputs.size() != 2) return nullptr;
  if (node.op_type == "Add") return std::make_unique<LayoutBinary>(dnnl::algorithm::binary_add, true);
  if (node.op_type == "Mul") return std::make_unique<LayoutBinary>(dnnl::algorithm::binary_mul, true);
  if (node.op_type == "Sub") return std::make_unique<LayoutBinary>(dnnl::algorithm::binary_sub, false);
  if (node.op_type == "Div") return std::make_unique<LayoutBinary>(dnnl::algorithm::binary_div, false);
  return nullptr;
}

std::unique_ptr<LayoutKernel> dnnl_make_layout_eltwise(std::vector<EltwiseOp> ops) {
  if (ops.empty()) return nullptr;
  return std::make_unique<LayoutEltwise>(std::move(ops));
}

}  // namespace ocs
