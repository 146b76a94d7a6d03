// Layout-aware oneDNN kernels (see dnnl_layout.h for the design). Every kernel caches one plan
// per incoming memory desc (primitive, reorders, weights in the primitive's layout; PlanCache), so
// a run after the first creates no primitive and allocates only from the buffer pool.
#include "kernels/fast/dnnl_layout.h"

#include "kernels/fast/dnnl_conv_geometry.h"
#include "kernels/fast/dnnl_deconv_patches.h"
#include "kernels/fast/dnnl_post_ops.h"
#include "kernels/fast/plan_cache.h"
#include "kernels/reference/nn_common.h"
#include "core/memory_budget.h"

#include <cmath>
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
using dt = dnnl::memory::data_type;

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

// A reorder between two descs, created once per pair.
dnnl::reorder& cached_reorder(const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
  static PlanCache<std::string, dnnl::reorder> cache;
  const auto lock = cache.lock();
  return *cache.get(desc_key(from) + desc_key(to), [&] {
    const dnnl::memory from_probe(from, dnnl_cpu_engine(), DNNL_MEMORY_NONE);
    const dnnl::memory to_probe(to, dnnl_cpu_engine(), DNNL_MEMORY_NONE);
    return std::optional<dnnl::reorder>(dnnl::reorder(from_probe, to_probe));
  });
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

// True when `blocked` (4-D, one block of all C channels, e.g. nChw16c with C = 16) puts every
// element at the same byte as the dense channels-last `nhwc` of the same dims and type: a
// convolution that reads the plain image writes such a layout, which then needs no reorder.
bool same_bytes_as_channels_last(const dnnl::memory::desc& blocked, const dnnl::memory::desc& nhwc) {
  const dnnl_memory_desc_t& b = blocked.data;
  const dnnl_memory_desc_t& n = nhwc.data;
  if (b.ndims != 4 || n.ndims != 4 || b.data_type != n.data_type || b.format_kind != dnnl_blocked ||
      n.format_kind != dnnl_blocked || b.offset0 != 0 || n.offset0 != 0)
    return false;
  for (int d = 0; d < 4; ++d)
    if (b.dims[d] != n.dims[d] || b.padded_dims[d] != b.dims[d] || n.padded_dims[d] != n.dims[d]) return false;
  const dnnl_blocking_desc_t& bb = b.format_desc.blocking;
  const dnnl_blocking_desc_t& nb = n.format_desc.blocking;
  const dnnl_dim_t c = n.dims[1], h = n.dims[2], w = n.dims[3];
  const bool n_is_nhwc = nb.inner_nblks == 0 && nb.strides[1] == 1 && nb.strides[3] == c && nb.strides[2] == w * c &&
                         nb.strides[0] == h * w * c;
  const bool b_is_one_block = bb.inner_nblks == 1 && bb.inner_idxs[0] == 1 && bb.inner_blks[0] == c &&
                              bb.strides[3] == c && bb.strides[2] == w * c && bb.strides[0] == h * w * c;
  return n_is_nhwc && b_is_one_block;
}

// `from` itself when it has layout `desc` (or the same bytes), else a scratch copy in `desc`
// (pooled; lives as long as the returned owner).
dnnl::memory reordered(const dnnl::memory& from, const dnnl::memory::desc& desc, std::shared_ptr<void>& owner) {
  if (from.get_desc() == desc) return from;
  if (same_bytes_as_channels_last(from.get_desc(), desc))
    return dnnl::memory(desc, dnnl_cpu_engine(), from.get_data_handle());
  owner = dnnl_pool_alloc(desc.get_size());
  dnnl::memory to(desc, dnnl_cpu_engine(), owner.get());
  reorder_into(from, to);
  return to;
}

bool is_reference_impl(const std::string& impl) { return impl.rfind("ref", 0) == 0; }

// What a binary op, a pooling or a resampling computes after its result (RoundTripOps): its
// post-ops, and the destination's type (float32, or the codes' type) and layout.
struct LayerTail {
  std::vector<DnnlPostOp> ops;
  dt type = f32;
  bool int8_view = false;  // uint8 codes with zero point 128 written as int8

  // The destination of `dims`: any layout for float32 (oneDNN follows the source), channels-last
  // codes (what the int8 Convs read in place).
  dnnl::memory::desc destination(const dnnl::memory::dims& dims) const {
    return dnnl::memory::desc(dims, type, type == f32 ? tag::any : tag::nhwc);
  }
};

// The tail of `then` (none without it); nullopt when it is outside oneDNN (another code type or
// zero point, an invalid scale, two post-ops of one algorithm: engine/fusion.h).
std::optional<LayerTail> layer_tail(const std::optional<RoundTripOps>& then) {
  LayerTail tail;
  if (!then) return tail;
  if (!(then->scale > 0.0f) || !std::isfinite(then->scale)) return std::nullopt;
  if (then->type != DType::UInt8 && then->type != DType::Int8) return std::nullopt;
  std::vector<DnnlPostOp>& ops = tail.ops;
  for (const EltwiseOp& e : then->before) dnnl_push_merged(ops, dnnl_post_op(e));
  dnnl_push_merged(ops, dnnl_post_op(EltwiseOp{EltwiseOp::Kind::Linear, 1.0f / then->scale, 0.0f}));
  if (then->codes) {
    // codes = round(x / s) + zero point, saturated by the destination type; the int8 view of
    // uint8 codes with zero point 128 is round(x / s) saturated to int8.
    if (!then->after.empty()) return std::nullopt;
    tail.int8_view = then->type == DType::UInt8 && then->zero_point == 128;
    if (then->zero_point != 0 && !tail.int8_view) return std::nullopt;
    tail.type = then->type == DType::UInt8 && !tail.int8_view ? dt::u8 : dt::s8;
  } else {
    dnnl_push_round_trip(ops, then->scale, then->zero_point, then->type);
    for (const EltwiseOp& e : then->after) dnnl_push_merged(ops, dnnl_post_op(e));
  }
  if (dnnl_repeats_an_algorithm(ops)) return std::nullopt;
  return tail;
}

// ---- Conv + post-ops --------------------------------------------------------------------------

class LayoutConv final : public LayoutKernel {
 public:
  LayoutConv(const Node& node, bool transposed, Tensor weights, Tensor bias, std::vector<PostOp> post_ops)
      : node_(node), transposed_(transposed), weights_(std::move(weights)), bias_(std::move(bias)),
        post_ops_(std::move(post_ops)) {
    for (const PostOp& p : post_ops_) has_sum_ = has_sum_ || p.sum;
  }

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    DnnlValue& x = *inputs[0];
    if (!x.defined() || !dnnl_value_is_float(x)) return false;
    const dnnl::memory src = memory_of(x);
    const auto lock = plans_.lock();
    Plan* found = plans_.get(desc_key(src.get_desc()), [&] { return build_plan(src.get_desc()); });
    if (!found) return false;
    Plan& plan = *found;
    DnnlValue* sum = has_sum_ ? inputs.back() : nullptr;
    if (sum && (!sum->defined() || !dnnl_value_is_float(*sum) || sum->shape() != plan.y_shape)) return false;

    std::shared_ptr<void> src_owner;
    const dnnl::memory src_ready = reordered(src, plan.src_md, src_owner);
    // A sum operand that dies here and already has the output's layout in a pooled buffer (not a
    // user's tensor) becomes the output buffer: the sum post-op then adds in place, no copy.
    if (sum && sum->dies_here && sum->has_memory && sum->owner && sum->memory.get_desc() == plan.dst_md &&
        sum->memory.get_data_handle() != src_ready.get_data_handle()) {
      output = DnnlValue();
      output.owner = sum->owner;
      output.memory = dnnl::memory(plan.dst_md, dnnl_cpu_engine(), output.owner.get());
      output.has_memory = true;
    } else {
      allocate(plan.dst_md, output);
      if (sum) reorder_into(memory_of(*sum), output.memory);
    }
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src_ready},
                                               {DNNL_ARG_WEIGHTS, plan.weights},
                                               {DNNL_ARG_DST, output.memory}};
    if (bias_.defined() && !plan.epilogue) args[DNNL_ARG_BIAS] = plan.bias;
    plan.primitive.execute(dnnl_cpu_stream(), args);
    if (plan.epilogue)
      plan.epilogue->execute(dnnl_cpu_stream(), {{DNNL_ARG_SRC_0, output.memory},
                                                 {DNNL_ARG_SRC_1, plan.bias},
                                                 {DNNL_ARG_DST, output.memory}});
    dnnl_cpu_stream().wait();
    return true;
  }

 private:
  struct Plan {
    dnnl::primitive primitive;
    dnnl::memory::desc src_md, dst_md;
    dnnl::memory weights, bias;
    Shape y_shape;
    // ConvTranspose: the bias and the post-ops run as a second, in-place primitive (bias as a
    // [1, M, 1, 1] operand). oneDNN 2.6's jit deconvolution with a bias or post-ops took 30x
    // longer than without on PP-OCR det's 24-channel 2x2 upsampling (ONEDNN_VERBOSE).
    std::optional<dnnl::binary> epilogue;
    Tensor zero_bias;
  };

  // A primitive and the layouts it chose.
  struct Made {
    dnnl::primitive primitive;
    dnnl::memory::desc src, weights, dst;
    std::string impl;
  };

  std::optional<Plan> build_plan(const dnnl::memory::desc& incoming) {
    const Shape x_shape = dims_of(incoming);
    if (x_shape.size() != 4 || weights_.rank() != 4) return std::nullopt;
    const std::optional<DnnlConvGeometry> g = dnnl_conv_geometry(node_, x_shape, weights_.shape(), transposed_);
    if (!g) return std::nullopt;
    const int64_t out_channels = g->out_channels;
    if (bias_.defined() && (bias_.rank() != 1 || bias_.dim(0) != out_channels)) return std::nullopt;
    const dnnl::primitive_attr attr = post_ops_attr();
    const std::optional<Made> made = choose_primitive(incoming, *g, attr);
    if (!made) return std::nullopt;

    Plan plan;
    plan.y_shape = g->y_shape;
    plan.src_md = made->src;
    plan.dst_md = made->dst;
    plan.primitive = made->primitive;
    plan.weights = dnnl_reorder_now(dnnl_view(dnnl_strided_desc(g->weight_dims, g->weight_strides), weights_),
                                    made->weights);
    if (bias_.defined()) plan.bias = dnnl_view(dnnl_plain_desc({out_channels}), bias_);
    if (transposed_ && (bias_.defined() || !post_ops_.empty()) && !add_epilogue(plan, out_channels, attr))
      return std::nullopt;
    return plan;
  }

  dnnl::primitive_attr post_ops_attr() const {
    dnnl::primitive_attr attr;
    attr.set_post_ops(dnnl_post_ops_of(dnnl_post_ops_from(post_ops_)));
    return attr;
  }

  // Keeps the producer's layout when a fast implementation takes it as is; else lets oneDNN choose
  // (and the input is reordered into its choice). nullopt when oneDNN has no primitive at all.
  std::optional<Made> choose_primitive(const dnnl::memory::desc& incoming, const DnnlConvGeometry& g,
                                       const dnnl::primitive_attr& attr) const {
    const Shape x_shape = dims_of(incoming);
    std::optional<Made> made;
    try {
      // A first layer (up to 4 input channels, an image) reads the plain input as it is: oneDNN's
      // kernel for it writes one block of 16 channels, the same bytes as channels-last for 16
      // outputs (same_bytes_as_channels_last), and the input needs no reorder (docs/PERFORMANCE.md).
      if (incoming != dnnl_plain_desc(x_shape) || x_shape[1] <= 4) {
        try {
          made = make_primitive(incoming, g, attr);
          if (is_reference_impl(made->impl)) made.reset();
        } catch (const dnnl::error&) {
          made.reset();
        }
      }
      if (!made) made = make_primitive(dnnl::memory::desc(dnnl_dims(x_shape), f32, tag::any), g, attr);
    } catch (const dnnl::error&) {
      return std::nullopt;
    }
    return made;
  }

  // The (de)convolution reading `src_md`; throws dnnl::error when oneDNN has none.
  Made make_primitive(const dnnl::memory::desc& src_md, const DnnlConvGeometry& g,
                      const dnnl::primitive_attr& attr) const {
    const dnnl::memory::desc weights_any(dnnl_dims(g.weight_dims), f32, tag::any);
    const dnnl::memory::desc dst_any(dnnl_dims(g.y_shape), f32, tag::any);
    if (!transposed_) {
      const dnnl::memory::desc bias_md = bias_.defined() ? dnnl_plain_desc({g.out_channels}) : dnnl::memory::desc();
      dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                           src_md, weights_any, bias_md, dst_any, g.strides, g.dilates,
                                           g.pads_begin, g.pads_end);
      dnnl::convolution_forward::primitive_desc pd(desc, attr, dnnl_cpu_engine());
      return Made{dnnl::convolution_forward(pd), pd.src_desc(), pd.weights_desc(), pd.dst_desc(), pd.impl_info_str()};
    }
    // Deconvolution without bias or post-ops (they run in the epilogue). Channels-last output: the
    // bias epilogue (binary) has a fast implementation for it, not for channel-padded blocked
    // layouts (ref:any, 40x slower on PP-OCR det).
    auto make_deconv = [&](const dnnl::memory::desc& dst_md) {
      dnnl::deconvolution_forward::desc desc(dnnl::prop_kind::forward_inference,
                                             dnnl::algorithm::deconvolution_direct, src_md, weights_any,
                                             dnnl::memory::desc(), dst_md, g.strides, g.dilates, g.pads_begin,
                                             g.pads_end);
      return dnnl::deconvolution_forward::primitive_desc(desc, dnnl_cpu_engine());
    };
    dnnl::deconvolution_forward::primitive_desc pd;
    try {
      // (One channel: the same bytes as plain, for which the binary's broadcast is 6x faster.)
      pd = make_deconv(dnnl::memory::desc(dnnl_dims(g.y_shape), f32, g.out_channels == 1 ? tag::abcd : tag::acdb));
      if (is_reference_impl(pd.impl_info_str())) pd = make_deconv(dst_any);
    } catch (const dnnl::error&) {
      pd = make_deconv(dst_any);
    }
    return Made{dnnl::deconvolution_forward(pd), pd.src_desc(), pd.weights_desc(), pd.dst_desc(), pd.impl_info_str()};
  }

  // ConvTranspose: the bias ([1, M, 1, 1], zeros when the node has none) and the post-ops as a
  // second, in-place binary primitive. False when this is not mapped (a sum post-op: the nodes
  // then run one by one) or oneDNN has no such primitive.
  bool add_epilogue(Plan& plan, int64_t out_channels, const dnnl::primitive_attr& attr) const {
    if (has_sum_) return false;
    const dnnl::memory::desc channel_md = dnnl_plain_desc({1, out_channels, 1, 1});
    if (bias_.defined()) {
      plan.bias = dnnl_view(channel_md, bias_);
    } else {
      plan.zero_bias = Tensor(DType::Float32, {1, out_channels, 1, 1});
      std::fill_n(plan.zero_bias.data<float>(), out_channels, 0.0f);
      plan.bias = dnnl_view(channel_md, plan.zero_bias);
    }
    try {
      dnnl::binary::desc desc(dnnl::algorithm::binary_add, plan.dst_md, channel_md, plan.dst_md);
      plan.epilogue = dnnl::binary(dnnl::binary::primitive_desc(desc, attr, dnnl_cpu_engine()));
    } catch (const dnnl::error&) {
      return false;
    }
    return true;
  }

  const Node& node_;
  const bool transposed_;        // ConvTranspose (oneDNN deconvolution)
  const Tensor weights_, bias_;  // graph constants or their scaled copies (shared buffers)
  const std::vector<PostOp> post_ops_;
  bool has_sum_ = false;
  PlanCache<std::string, Plan> plans_;  // key: desc_key of each input
};

// ---- Pooling ----------------------------------------------------------------------------------

enum class PoolKind { Max, Average, GlobalAverage };

class LayoutPool final : public LayoutKernel {
 public:
  LayoutPool(const Node& node, PoolKind kind, LayerTail tail = {})
      : node_(node), kind_(kind), tail_(std::move(tail)) {}

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    DnnlValue& x = *inputs[0];
    if (!x.defined() || !dnnl_value_is_float(x)) return false;
    const dnnl::memory src = memory_of(x);
    const auto* data = static_cast<const float*>(src.get_data_handle());
    const auto floats = static_cast<int64_t>(src.get_desc().get_size() / sizeof(float));
    if (kind_ == PoolKind::Max && dnnl_holds_nan(data, floats)) return false;  // the plain path decides
    const auto lock = plans_.lock();
    Plan* found = plans_.get(desc_key(src.get_desc()), [&] { return build_plan(src.get_desc()); });
    if (!found) return false;
    Plan& plan = *found;
    allocate(plan.dst_md, output);
    output.int8_view_of_u8 = tail_.int8_view;
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
                                          tail_.destination(dnnl_dims(y_shape)),
                                          to_dims(g.strides), to_dims(g.kernel), to_dims(dilates),
                                          to_dims(g.pads_begin), to_dims(pad_end));
      dnnl::primitive_attr attr;
      attr.set_post_ops(dnnl_post_ops_of(tail_.ops));
      dnnl::pooling_v2_forward::primitive_desc pd(desc, attr, dnnl_cpu_engine());
      if (!tail_.ops.empty() && is_reference_impl(pd.impl_info_str())) return std::nullopt;
      return Plan{dnnl::pooling_v2_forward(pd), pd.dst_desc()};
    } catch (const dnnl::error&) {
      return std::nullopt;
    }
  }

  const Node& node_;
  const PoolKind kind_;
  const LayerTail tail_;  // a round trip or the codes after the pooling (RoundTripOps)
  PlanCache<std::string, Plan> plans_;  // key: desc_key of each input
};

// ---- Binary -----------------------------------------------------------------------------------

class LayoutBinary final : public LayoutKernel {
 public:
  LayoutBinary(dnnl::algorithm algorithm, bool commutative, LayerTail tail)
      : algorithm_(algorithm), commutative_(commutative), tail_(std::move(tail)) {}

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    if (inputs.size() != 2 || !inputs[0]->defined() || !inputs[1]->defined()) return false;
    if (!dnnl_value_is_float(*inputs[0]) || !dnnl_value_is_float(*inputs[1])) return false;
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
    // small and read plain, and so is one of lower rank (a reorder cannot change the rank).
    dnnl::memory m1;
    std::shared_ptr<void> m1_owner;
    if (src1.shape().size() == 4 && s1 == dims_of(m0.get_desc())) {
      m1 = reordered(memory_of(src1), m0.get_desc(), m1_owner);
    } else {
      const Tensor& plain1 = dnnl_materialize(src1);
      m1 = dnnl_view(dnnl_plain_desc(s1), plain1);
    }
    const auto lock = plans_.lock();
    const dnnl::memory::desc dst_md =
        tail_.type == f32 ? m0.get_desc() : tail_.destination(dnnl_dims(dims_of(m0.get_desc())));
    dnnl::binary* primitive = plans_.get(desc_key(m0.get_desc()) + desc_key(m1.get_desc()), [&] {
      std::optional<dnnl::binary> made;
      try {
        dnnl::binary::desc desc(algorithm_, m0.get_desc(), m1.get_desc(), dst_md);
        dnnl::primitive_attr attr;
        attr.set_post_ops(dnnl_post_ops_of(tail_.ops));
        dnnl::binary::primitive_desc pd(desc, attr, dnnl_cpu_engine());
        if (tail_.type == f32 || !is_reference_impl(pd.impl_info_str())) made = dnnl::binary(pd);
      } catch (const dnnl::error&) {
      }
      return made;
    });
    if (!primitive) return false;
    allocate(dst_md, output);
    output.int8_view_of_u8 = tail_.int8_view;
    primitive->execute(dnnl_cpu_stream(), {{DNNL_ARG_SRC_0, m0}, {DNNL_ARG_SRC_1, m1}, {DNNL_ARG_DST, output.memory}});
    dnnl_cpu_stream().wait();
    return true;
  }

 private:
  const dnnl::algorithm algorithm_;
  const bool commutative_;
  const LayerTail tail_;  // a round trip or the codes after the op (RoundTripOps)
  PlanCache<std::string, dnnl::binary> plans_;  // key: desc_key of both operands
};

// ---- Element-wise chain -----------------------------------------------------------------------

class LayoutEltwise final : public LayoutKernel {
 public:
  explicit LayoutEltwise(std::vector<EltwiseOp> ops) : ops_(std::move(ops)) {}

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    DnnlValue& x = *inputs[0];
    if (!x.defined() || !dnnl_value_is_float(x)) return false;
    const Shape shape = x.shape();
    if (shape.empty() || shape.size() > 6 || shape_numel(shape) == 0) return false;
    const dnnl::memory src = memory_of(x);
    const auto lock = plans_.lock();
    std::vector<dnnl::eltwise_forward>* primitives = plans_.get(desc_key(src.get_desc()), [&] {
      std::optional<std::vector<dnnl::eltwise_forward>> chain(std::in_place);
      try {
        for (const EltwiseOp& op : ops_) {
          dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl_eltwise_algorithm(op.kind),
                                           src.get_desc(), dnnl_eltwise_alpha(op), op.beta);
          chain->emplace_back(dnnl::eltwise_forward::primitive_desc(desc, dnnl_cpu_engine()));
        }
      } catch (const dnnl::error&) {
        chain.reset();
      }
      return chain;
    });
    if (!primitives) return false;
    allocate(src.get_desc(), output);
    dnnl::memory from = src;
    for (auto& primitive : *primitives) {  // the first reads the input, the rest work in place
      primitive.execute(dnnl_cpu_stream(), {{DNNL_ARG_SRC, from}, {DNNL_ARG_DST, output.memory}});
      from = output.memory;
    }
    dnnl_cpu_stream().wait();
    return true;
  }

 private:
  const std::vector<EltwiseOp> ops_;
  PlanCache<std::string, std::vector<dnnl::eltwise_forward>> plans_;  // key: desc_key of the input
};

// ---- Resize (nearest, integer factors) -------------------------------------------------------

// oneDNN's nearest resampling reads src[round((o + 0.5) / k - 0.5)] along an axis upsampled by an
// integer factor k; writing o = k i + j (0 <= j < k), that is src[i]. ONNX's nearest Resize also
// reads src[i] = src[o / k] for integer k in exactly these modes:
//   asymmetric + floor:                floor(i + j / k) = i
//   tf_half_pixel_for_nn + floor:      floor(i + (j + 0.5) / k) = i
//   (pytorch_)half_pixel + round_prefer_floor/ceil: i + (j + 0.5) / k - 0.5 lies strictly within
//                                      0.5 of i, so there is no tie and it rounds to i
// Other modes, fractional or downsampling factors, and resized batch or channel axes decline.
class LayoutResize final : public LayoutKernel {
 public:
  // `scales` (4 values) or `sizes` (4 values): whichever the node gives.
  LayoutResize(std::vector<float> scales, std::vector<int64_t> sizes, LayerTail tail)
      : scales_(std::move(scales)), sizes_(std::move(sizes)), tail_(std::move(tail)) {}

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    DnnlValue& x = *inputs[0];
    if (!x.defined() || !dnnl_value_is_float(x)) return false;
    const Shape in = x.shape();
    if (in.size() != 4 || shape_numel(in) == 0) return false;
    Shape out(4);
    for (size_t a = 0; a < 4; ++a) {
      int64_t factor = 0;
      if (!sizes_.empty()) {
        if (sizes_[a] % in[a] != 0) return false;
        factor = sizes_[a] / in[a];
      } else {
        if (!(scales_[a] >= 1 && scales_[a] < 0x1p31f)) return false;  // the cast below must be defined
        factor = static_cast<int64_t>(scales_[a]);
        if (static_cast<float>(factor) != scales_[a]) return false;
      }
      if (factor < 1 || (a < 2 && factor != 1)) return false;
      if (__builtin_mul_overflow(in[a], factor, &out[a])) return false;
    }
    // Beyond the memory budget: decline, so that the reference kernel refuses it by name.
    if (!memory_fits(shape_bytes(out, sizeof(float)).value_or(UINT64_MAX))) return false;
    const dnnl::memory src = memory_of(x);
    const auto lock = plans_.lock();
    Plan* plan = plans_.get(desc_key(src.get_desc()), [&] {
      std::optional<Plan> made;
      try {
        dnnl::resampling_forward::desc desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::resampling_nearest,
                                            src.get_desc(), tail_.destination(dnnl_dims(out)));
        dnnl::primitive_attr attr;
        attr.set_post_ops(dnnl_post_ops_of(tail_.ops));
        dnnl::resampling_forward::primitive_desc pd(desc, attr, dnnl_cpu_engine());
        if (tail_.ops.empty() || !is_reference_impl(pd.impl_info_str()))
          made = Plan{dnnl::resampling_forward(pd), pd.dst_desc()};
      } catch (const dnnl::error&) {
      }
      return made;
    });
    if (!plan) return false;
    allocate(plan->dst_md, output);
    output.int8_view_of_u8 = tail_.int8_view;
    plan->primitive.execute(dnnl_cpu_stream(), {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, output.memory}});
    dnnl_cpu_stream().wait();
    return true;
  }

 private:
  struct Plan {
    dnnl::resampling_forward primitive;
    dnnl::memory::desc dst_md;
  };
  const std::vector<float> scales_;
  const std::vector<int64_t> sizes_;
  const LayerTail tail_;  // a round trip or the codes after the resampling (RoundTripOps)
  PlanCache<std::string, Plan> plans_;  // key: desc_key of each input
};

// ---- Concat -----------------------------------------------------------------------------------

// With `codes` (a QuantizeLinear after it, RoundTripOps::codes): each input is quantized by a
// reorder (scale 1 / s, the destination type's rounding and saturation) straight into its
// channels of a channels-last codes destination, so the float result is never written.
class LayoutConcat final : public LayoutKernel {
 public:
  struct Codes {
    LayerTail tail;         // the destination type and int8 view
    float to_codes = 1.0f;  // 1 / s
  };
  LayoutConcat(int64_t axis, std::optional<Codes> codes) : axis_(axis), codes_(std::move(codes)) {}

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    if (inputs.empty()) return false;
    std::vector<dnnl::memory> srcs;
    const Shape first = inputs[0]->defined() ? inputs[0]->shape() : Shape{};
    const int64_t rank = static_cast<int64_t>(first.size());
    if (rank != 4) return false;
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    if (axis < 0 || axis >= rank) return false;
    Shape joined = first;
    joined[static_cast<size_t>(axis)] = 0;
    for (DnnlValue* in : inputs) {
      if (!in->defined() || !dnnl_value_is_float(*in)) return false;
      const Shape shape = in->shape();
      if (shape.size() != 4 || shape_numel(shape) == 0) return false;
      for (int64_t a = 0; a < rank; ++a)
        if (a != axis && shape[a] != first[a]) return false;
      joined[static_cast<size_t>(axis)] += shape[static_cast<size_t>(axis)];
      srcs.push_back(memory_of(*in));
    }
    return codes_ ? quantize_into(srcs, axis, joined, output) : concatenate(srcs, axis, output);
  }

 private:
  bool concatenate(const std::vector<dnnl::memory>& srcs, int64_t axis, DnnlValue& output) {
    std::string key;
    std::vector<dnnl::memory::desc> descs;
    for (const dnnl::memory& m : srcs) key += desc_key(m.get_desc()), descs.push_back(m.get_desc());
    const auto lock = plans_.lock();
    Plan* plan = plans_.get(key, [&] {
      std::optional<Plan> made;
      try {
        dnnl::concat::primitive_desc pd(static_cast<int>(axis), descs, dnnl_cpu_engine());
        made = Plan{dnnl::concat(pd), pd.dst_desc()};
      } catch (const dnnl::error&) {
      }
      return made;
    });
    if (!plan) return false;
    allocate(plan->dst_md, output);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DST, output.memory}};
    for (size_t i = 0; i < srcs.size(); ++i) args[DNNL_ARG_MULTIPLE_SRC + static_cast<int>(i)] = srcs[i];
    plan->primitive.execute(dnnl_cpu_stream(), args);
    dnnl_cpu_stream().wait();
    return true;
  }

  bool quantize_into(const std::vector<dnnl::memory>& srcs, int64_t axis, const Shape& joined, DnnlValue& output) {
    const dnnl::memory::desc dst_md = codes_->tail.destination(dnnl_dims(joined));
    std::vector<dnnl::memory::desc> parts;  // each input's place in the destination
    dnnl::memory::dims offsets(4, 0);
    for (const dnnl::memory& m : srcs) {
      const dnnl::memory::dims dims = m.get_desc().dims();
      parts.push_back(dst_md.submemory_desc(dims, offsets));
      offsets[static_cast<size_t>(axis)] += dims[static_cast<size_t>(axis)];
    }
    const auto lock = quantizers_.lock();
    std::vector<dnnl::reorder*> quantizers;
    for (size_t i = 0; i < srcs.size(); ++i) {
      dnnl::reorder* made = quantizers_.get(desc_key(srcs[i].get_desc()) + desc_key(parts[i]), [&] {
        std::optional<dnnl::reorder> r;
        try {
          dnnl::primitive_attr attr;
          attr.set_output_scales(0, {codes_->to_codes});
          r = dnnl::reorder(dnnl::reorder::primitive_desc(dnnl_cpu_engine(), srcs[i].get_desc(), dnnl_cpu_engine(),
                                                          parts[i], attr));
        } catch (const dnnl::error&) {
        }
        return r;
      });
      if (!made) return false;
      quantizers.push_back(made);
    }
    allocate(dst_md, output);
    output.int8_view_of_u8 = codes_->tail.int8_view;
    for (size_t i = 0; i < srcs.size(); ++i) {
      dnnl::memory part(parts[i], dnnl_cpu_engine(), output.memory.get_data_handle());
      dnnl::memory src = srcs[i];
      quantizers[i]->execute(dnnl_cpu_stream(), src, part);
    }
    dnnl_cpu_stream().wait();
    return true;
  }

  struct Plan {
    dnnl::concat primitive;
    dnnl::memory::desc dst_md;
  };
  const int64_t axis_;
  const std::optional<Codes> codes_;
  PlanCache<std::string, Plan> plans_;  // key: desc_key of each input
  PlanCache<std::string, dnnl::reorder> quantizers_;  // key: desc_key of an input and of its place
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
  // float32, or the uint8/int8 codes an int8 Conv writes for the next one (dnnl_int8.h)
  const dnnl::memory::data_type type = value.memory.get_desc().data_type();
  const DType dtype = type == dnnl::memory::data_type::u8   ? DType::UInt8
                      : type == dnnl::memory::data_type::s8 ? DType::Int8
                                                            : DType::Float32;
  Tensor plain(dtype, dims_of(value.memory.get_desc()));
  reorder_into(value.memory, dnnl_view(dnnl_plain_desc(plain.shape(), type), plain));
  dnnl_cpu_stream().wait();
  if (value.int8_view_of_u8) {  // q - 128 back to q: flip the top bit
    Tensor codes(DType::UInt8, plain.shape());
    const auto* from = plain.data<int8_t>();
    auto* to = codes.data<uint8_t>();
    for (int64_t i = 0; i < plain.numel(); ++i) to[i] = static_cast<uint8_t>(from[i]) ^ 0x80u;
    plain = std::move(codes);
  }
  value.plain = std::move(plain);
  return value.plain;
}

dnnl::memory dnnl_memory_of(const DnnlValue& value) { return memory_of(value); }
bool dnnl_value_is_float(const DnnlValue& value) {
  return value.has_memory ? value.memory.get_desc().data_type() == f32 : value.plain.dtype() == DType::Float32;
}
void dnnl_allocate_value(const dnnl::memory::desc& desc, DnnlValue& out) { allocate(desc, out); }
void dnnl_reorder_into(const dnnl::memory& from, const dnnl::memory& to) { reorder_into(from, to); }
dnnl::memory dnnl_reordered(const dnnl::memory& from, const dnnl::memory::desc& desc, std::shared_ptr<void>& owner) {
  return reordered(from, desc, owner);
}

std::shared_ptr<void> dnnl_pool_alloc(size_t bytes) {
  // Values in blocked layouts count against the memory budget while they are handed out, like
  // Tensors (core/memory_budget.h); free buffers kept in the pool for reuse do not.
  if (!memory_fits(bytes)) memory_refuse(bytes, "a oneDNN buffer (a value in blocked layout)");
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
  memory_note_allocated(bytes);
  return std::shared_ptr<void>(buffer, [bytes](void* p) {
    memory_note_released(bytes);
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

// The constant weights (and bias) of a Conv or ConvTranspose dnnl_make_layout_conv accepts.
struct ConvConstants {
  const Tensor* weights = nullptr;
  const Tensor* bias = nullptr;  // nullptr when the node has none
  int64_t out_channels = 0;
};

static std::optional<ConvConstants> conv_constants(const Node& conv, const Graph& graph) {
  const bool transposed = conv.op_type == "ConvTranspose";
  if (!conv.domain.empty() || (conv.op_type != "Conv" && !transposed)) return std::nullopt;
  if (!dnnl_input_may_be_float(conv, graph, 0) || conv.inputs.size() < 2) return std::nullopt;
  ConvConstants c;
  c.weights = constant_behind(graph, conv.inputs[1]);
  if (!c.weights) return std::nullopt;
  const bool has_bias = conv.inputs.size() > 2 && conv.inputs[2] != kNoValue;
  if (has_bias && !(c.bias = constant_behind(graph, conv.inputs[2]))) return std::nullopt;
  const Tensor& w = *c.weights;
  if (w.dtype() != DType::Float32 || w.rank() != 4 || (has_bias && c.bias->dtype() != DType::Float32))
    return std::nullopt;
  const int64_t rank = dnnl_input_rank(conv, graph, 0);
  if (rank != -1 && rank != 4) return std::nullopt;
  const int64_t group = conv.attr_int("group", 1);
  if (group < 1) return std::nullopt;
  c.out_channels = transposed ? w.dim(1) * group : w.dim(0);
  if (c.out_channels < 1 || (has_bias && (c.bias->rank() != 1 || c.bias->numel() != c.out_channels)))
    return std::nullopt;
  return c;
}

int64_t dnnl_layout_conv_channels(const Node& conv, const Graph& graph) {
  const std::optional<ConvConstants> c = conv_constants(conv, graph);
  return c ? c->out_channels : 0;
}

std::unique_ptr<LayoutKernel> dnnl_make_layout_conv(const Node& conv, const Graph& graph,
                                                    std::vector<PostOp> post_ops, const std::vector<float>& scale,
                                                    const std::vector<float>& shift) {
  const std::optional<ConvConstants> c = conv_constants(conv, graph);
  if (!c) return nullptr;
  const bool transposed = conv.op_type == "ConvTranspose";
  const int64_t channels = c->out_channels;
  OCS_CHECK(scale.size() == shift.size() && (scale.size() == 1 || static_cast<int64_t>(scale.size()) == channels),
            "{}: {} scales for {} output channels", conv.describe(), scale.size(), channels);
  auto scale_of = [&](int64_t m) { return scale.size() == 1 ? scale[0] : scale[m]; };
  auto shift_of = [&](int64_t m) { return shift.size() == 1 ? shift[0] : shift[m]; };
  bool identity = true;
  for (int64_t m = 0; m < channels; ++m) identity = identity && scale_of(m) == 1.0f && shift_of(m) == 0.0f;
  const Tensor& w = *c->weights;
  Tensor b = c->bias ? *c->bias : Tensor();
  auto make = [&](Tensor weights, Tensor bias) -> std::unique_ptr<LayoutKernel> {
    if (transposed && dnnl_deconv_is_patchwise(conv, weights.shape()))
      if (auto patches = dnnl_make_layout_patch_deconv(conv, weights, bias, post_ops)) return patches;
    return std::make_unique<LayoutConv>(conv, transposed, std::move(weights), std::move(bias), std::move(post_ops));
  };
  if (identity) return make(w, b);

  // (W * x + B)[m] * scale[m] + shift[m] == (scale[m] W[m]) * x + (scale[m] B[m] + shift[m]).
  Tensor scaled_w = w.clone();
  float* wd = scaled_w.data<float>();
  const int64_t kernel_volume = w.dim(2) * w.dim(3);
  if (!transposed) {  // W [M, C/group, kh, kw]: output channel m is the outer axis
    const int64_t per_channel = w.numel() / channels;
    for (int64_t m = 0; m < channels; ++m)
      for (int64_t i = 0; i < per_channel; ++i) wd[m * per_channel + i] *= scale_of(m);
  } else {  // W [C, M/group, kh, kw]: input channel c of group c / (C/group) feeds m = group * M/group + j
    const int64_t group = conv.attr_int("group", 1);
    const int64_t in_channels = w.dim(0), out_per_group = w.dim(1);
    if (in_channels % group != 0) return nullptr;
    const int64_t in_per_group = in_channels / group;
    for (int64_t ci = 0; ci < in_channels; ++ci)
      for (int64_t j = 0; j < out_per_group; ++j) {
        const int64_t m = (ci / in_per_group) * out_per_group + j;
        float* k = wd + (ci * out_per_group + j) * kernel_volume;
        for (int64_t i = 0; i < kernel_volume; ++i) k[i] *= scale_of(m);
      }
  }
  Tensor shifted_b(DType::Float32, {channels});
  float* out = shifted_b.data<float>();
  for (int64_t m = 0; m < channels; ++m) out[m] = (b.defined() ? b.data<float>()[m] * scale_of(m) : 0.0f) + shift_of(m);
  return make(scaled_w, shifted_b);
}

std::unique_ptr<LayoutKernel> dnnl_make_layout_pool(const Node& node, const Graph& graph,
                                                    const std::optional<RoundTripOps>& then) {
  if (!dnnl_input_may_be_float(node, graph, 0)) return nullptr;
  if (then && then->codes) return nullptr;  // oneDNN 2.6 pools float into float only
  std::optional<LayerTail> ops = layer_tail(then);
  if (!ops) return nullptr;
  const int64_t rank = dnnl_input_rank(node, graph, 0);
  if (rank != -1 && rank != 4) return nullptr;
  if (node.op_type == "MaxPool") {
    if (node.outputs.size() > 1 && node.outputs[1] != kNoValue) return nullptr;
    if (node.attr_int("storage_order", 0) != 0) return nullptr;
    return std::make_unique<LayoutPool>(node, PoolKind::Max, std::move(*ops));
  }
  if (node.op_type == "AveragePool") return std::make_unique<LayoutPool>(node, PoolKind::Average, std::move(*ops));
  if (node.op_type == "GlobalAveragePool")
    return std::make_unique<LayoutPool>(node, PoolKind::GlobalAverage, std::move(*ops));
  return nullptr;
}

std::unique_ptr<LayoutKernel> dnnl_make_layout_binary(const Node& node, const std::optional<RoundTripOps>& then) {
  if (node.inputs.size() != 2) return nullptr;
  std::optional<LayerTail> ops = layer_tail(then);
  if (!ops) return nullptr;
  const std::string& op = node.op_type;
  if (op == "Add") return std::make_unique<LayoutBinary>(dnnl::algorithm::binary_add, true, std::move(*ops));
  if (op == "Mul") return std::make_unique<LayoutBinary>(dnnl::algorithm::binary_mul, true, std::move(*ops));
  if (op == "Sub") return std::make_unique<LayoutBinary>(dnnl::algorithm::binary_sub, false, std::move(*ops));
  if (op == "Div") return std::make_unique<LayoutBinary>(dnnl::algorithm::binary_div, false, std::move(*ops));
  return nullptr;
}

std::unique_ptr<LayoutKernel> dnnl_make_layout_eltwise(std::vector<EltwiseOp> ops) {
  if (ops.empty()) return nullptr;
  return std::make_unique<LayoutEltwise>(std::move(ops));
}

}  // namespace ocs

namespace ocs {

std::unique_ptr<LayoutKernel> dnnl_make_layout_resize(const Node& node, const Graph& graph, int64_t opset,
                                                      const std::optional<RoundTripOps>& then) {
  if (opset < 11 || node.inputs.empty() || !dnnl_input_may_be_float(node, graph, 0)) return nullptr;
  std::optional<LayerTail> ops = layer_tail(then);
  if (!ops) return nullptr;
  const int64_t rank = dnnl_input_rank(node, graph, 0);
  if (rank != -1 && rank != 4) return nullptr;
  if (node.attr_string("mode", "nearest") != "nearest") return nullptr;
  if (node.has_attr("axes") || node.attr_int("antialias", 0) != 0) return nullptr;
  if (node.attr_string("keep_aspect_ratio_policy", "stretch") != "stretch") return nullptr;
  const std::string coordinates = node.attr_string("coordinate_transformation_mode", "half_pixel");
  const std::string rounding = node.attr_string("nearest_mode", "round_prefer_floor");
  const bool exact = ((coordinates == "asymmetric" || coordinates == "tf_half_pixel_for_nn") && rounding == "floor") ||
                     ((coordinates == "half_pixel" || coordinates == "pytorch_half_pixel") &&
                      (rounding == "round_prefer_floor" || rounding == "round_prefer_ceil"));
  if (!exact) return nullptr;
  auto given = [&](size_t i) -> const Tensor* {
    if (i >= node.inputs.size() || node.inputs[i] == kNoValue) return nullptr;
    return constant_behind(graph, node.inputs[i]);
  };
  auto absent = [&](size_t i) { return i >= node.inputs.size() || node.inputs[i] == kNoValue; };
  const Tensor* scales = given(2);
  const Tensor* sizes = given(3);
  // A non-constant scales or sizes input (or an empty one standing in for "absent") is read as
  // follows: non-empty constant sizes win; else constant scales with 4 values.
  if (sizes && sizes->numel() != 0) {
    if (sizes->dtype() != DType::Int64 || sizes->numel() != 4 || (!absent(2) && (!scales || scales->numel() != 0)))
      return nullptr;
    return std::make_unique<LayoutResize>(std::vector<float>{}, sizes->to_int64_vector(), std::move(*ops));
  }
  if (!absent(3) && !sizes) return nullptr;
  if (!scales || scales->dtype() != DType::Float32 || scales->numel() != 4) return nullptr;
  const float* s = scales->data<float>();
  return std::make_unique<LayoutResize>(std::vector<float>(s, s + 4), std::vector<int64_t>{}, std::move(*ops));
}

std::unique_ptr<LayoutKernel> dnnl_make_layout_concat(const Node& node, const Graph& graph,
                                                      const std::optional<RoundTripOps>& then) {
  if (node.inputs.empty()) return nullptr;
  std::optional<LayoutConcat::Codes> codes;
  if (then) {  // only the codes, with no functions in front of them (a reorder has no post-ops)
    if (!then->codes || !then->before.empty()) return nullptr;
    std::optional<LayerTail> tail = layer_tail(then);
    if (!tail) return nullptr;
    codes = LayoutConcat::Codes{std::move(*tail), 1.0f / then->scale};
  }
  for (size_t i = 0; i < node.inputs.size(); ++i) {
    if (node.inputs[i] == kNoValue || !dnnl_input_may_be_float(node, graph, i)) return nullptr;
    const int64_t rank = dnnl_input_rank(node, graph, i);
    if (rank != -1 && rank != 4) return nullptr;
  }
  if (!node.has_attr("axis")) return nullptr;
  return std::make_unique<LayoutConcat>(node.attr_int("axis", 0), std::move(codes));
}

}  // namespace ocs
