// The int8 Conv step of dnnl_int8.h. One plan per incoming x shape (PlanCache): the oneDNN int8
// convolution (channels-last int8 source, the layout oneDNN's int8 kernels take), the int8 weights
// reordered once into its layout, and its destination layout. A run brings x to channels-last
// float32 (free when the Conv before left it so, as oneDNN's kernels do), quantizes it into a
// pooled int8 buffer (gathering the OCS channels per pixel), and runs the primitive.
//
// Numbers: for uint8 with zero point 128 the values q - 128 are exactly int8 with zero point 0
// (the clamp bounds [0 - 128, 255 - 128] are int8's), so the source is s8 and no zero point
// reaches oneDNN; int8 and uint8 with zero point 0 go in as they are. The output scale of channel
// m is s_x * s_w[m] * scale[m] and the bias scale[m] * b[m] + shift[m]; oneDNN 2.6 adds the bias
// to the integer sum before the output scale (dst = oscale * (sum + bias)), so the bias is passed
// divided by the output scale (tests/engine_int8_test.cpp checks this against the reference).
// With Int8Requantize's codes the destination is uint8/int8 channels-last and the post-ops end in
// the codes (dnnl_int8.h); uint8 codes with zero point 128 are written as their int8 view q - 128
// (DnnlValue::int8_view_of_u8). A step with codes_in reads them in place, or copies them per pixel
// into the source when the OCS channels are gathered (or uint8 codes with zero point 128 from
// elsewhere need their top bit flipped into the int8 view).
//
// Speed: oneDNN 2.6's int8 kernels on this machine's AVX-512 VNNI take longer for M output
// channels with M mod 32 in (16, 32) than for the next multiple of 32 (24 outputs: 2.0 ms,
// 32: 1.7 ms, on PP-OCRv4 det's 98 -> 24 3x3 Conv at 160x160). Such a Conv (one group, no sum)
// runs with zero output channels appended up to that multiple, into a scratch buffer, and its
// first M channels are copied out (bench/dnnl_conv_channels.cpp measures it; docs/PERFORMANCE.md).
#include "kernels/fast/dnnl_int8.h"

#include "kernels/fast/dnnl_conv_geometry.h"
#include "kernels/fast/dnnl_post_ops.h"
#include "kernels/fast/plan_cache.h"
#include "kernels/fast/quant_loops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

namespace ocs {

namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// f(k x) = k f(x) for k > 0: the chain's functions in front of the codes with the scale k already
// folded into the output scales (Clip and linear functions get their bounds and shift scaled).
std::optional<DnnlPostOp> scaled_post_op(const EltwiseOp& e, float k) {
  EltwiseOp scaled = e;
  switch (e.kind) {
    case EltwiseOp::Kind::Relu:
    case EltwiseOp::Kind::LeakyRelu: break;
    case EltwiseOp::Kind::Clip:
      scaled.alpha *= k;
      scaled.beta *= k;
      break;
    case EltwiseOp::Kind::Linear: scaled.beta *= k; break;
    default: return std::nullopt;
  }
  return dnnl_post_op(scaled);
}

// The post-ops of the chain, then those of `out` (dnnl_int8.h), with the factor `k` the output
// scales take; nullopt where `out` is outside this kernel.
std::optional<std::vector<DnnlPostOp>> requantize_post_ops(const std::vector<PostOp>& chain,
                                                           const Int8Requantize& out, float& k) {
  if (!out.round_trip && !out.codes) return std::nullopt;
  k = 1.0f / (out.round_trip ? out.round_trip->scale : out.codes->scale);
  if (!std::isfinite(k) || !(k > 0.0f)) return std::nullopt;
  std::vector<DnnlPostOp> ops;
  for (const PostOp& p : chain) {
    if (p.sum && out.codes) return std::nullopt;  // the sum operand is float
    std::optional<DnnlPostOp> op = p.sum ? DnnlPostOp{true, {}, k} : scaled_post_op(p.eltwise, k);
    if (!op) return std::nullopt;
    ops.push_back(*op);
  }
  float unit = k;  // the values are now the real ones times `unit`
  if (out.round_trip) {
    dnnl_push_round_trip(ops, out.round_trip->scale, out.round_trip->zero_point, out.round_trip->type);
    for (const EltwiseOp& e : out.round_trip->after) dnnl_push_merged(ops, dnnl_post_op(e));
    unit = 1.0f;
  }
  if (const auto& codes = out.codes) {
    if (!(codes->scale > 0.0f) || !std::isfinite(codes->scale)) return std::nullopt;
    if (codes->clip_low || codes->clip_high) {
      const float low = codes->clip_low.value_or(-std::numeric_limits<float>::infinity());
      const float high = codes->clip_high.value_or(std::numeric_limits<float>::infinity());
      ops.push_back(dnnl_post_op(EltwiseOp{EltwiseOp::Kind::Clip, low * unit, high * unit}));
    }
    // codes = round(v * to_codes + zero_point), saturated by the destination type
    const float to_codes = 1.0f / (codes->scale * unit);  // 1 when the scale is in the output scales
    const float zero_point = static_cast<float>(codes->zero_point);
    if (to_codes != 1.0f || zero_point != 0.0f) {
      DnnlPostOp linear;
      linear.algorithm = dnnl::algorithm::eltwise_linear;
      linear.alpha = to_codes;
      linear.beta = zero_point;
      dnnl_push_merged(ops, linear);
    }
  }
  if (dnnl_repeats_an_algorithm(ops)) return std::nullopt;
  return ops;
}

class LayoutInt8Conv final : public LayoutKernel {
 public:
  LayoutInt8Conv(const Node& node, Int8ConvSpec spec, Tensor bias, std::vector<float> out_scales,
                 std::vector<DnnlPostOp> post_ops, std::optional<DType> codes_out, bool int8_view_out)
      : node_(node), spec_(std::move(spec)), bias_(std::move(bias)), out_scales_(std::move(out_scales)),
        post_ops_(std::move(post_ops)), codes_out_(codes_out), int8_view_out_(int8_view_out) {
    for (const DnnlPostOp& p : post_ops_) has_sum_ = has_sum_ || p.sum;
    src_type_ = spec_.type == DType::UInt8 && spec_.zero_point == 0 ? dt::u8 : dt::s8;
  }

  bool run(std::span<DnnlValue* const> inputs, DnnlValue& output) override {
    DnnlValue& x_value = *inputs[0];
    if (!x_value.defined()) return false;
    if (spec_.codes_in ? !holds_codes(x_value) : !dnnl_value_is_float(x_value)) return false;
    const Shape x_shape = x_value.shape();
    if (x_shape.size() != 4) return false;
    for (int64_t c : spec_.gather)
      if (c < 0 || c >= x_shape[1]) return false;  // the reference Gather reports it
    const auto lock = plans_.lock();
    Plan* found = plans_.get(x_shape, [&] { return build_plan(x_shape); });
    if (!found) return false;
    Plan& plan = *found;
    DnnlValue* sum = has_sum_ ? inputs.back() : nullptr;
    if (sum && (!sum->defined() || !dnnl_value_is_float(*sum) || sum->shape() != plan.y_shape)) return false;

    std::shared_ptr<void> x_owner, q_owner;  // x reordered to channels-last; the conv's source
    dnnl::memory q;
    if (spec_.codes_in) {
      q = source_of_codes(x_value, x_shape, plan.q_nhwc, x_owner, q_owner);
    } else {
      q_owner = dnnl_pool_alloc(plan.q_nhwc.get_size());
      quantize_input(float_nhwc(x_value, x_shape, x_owner), x_shape, static_cast<int8_t*>(q_owner.get()));
      q = dnnl::memory(plan.q_nhwc, dnnl_cpu_engine(), q_owner.get());
    }
    std::shared_ptr<void> src_owner;
    dnnl::memory src = q;
    if (plan.src_md != plan.q_nhwc) {
      src_owner = dnnl_pool_alloc(plan.src_md.get_size());
      src = dnnl::memory(plan.src_md, dnnl_cpu_engine(), src_owner.get());
      dnnl_reorder_into(q, src);
    }
    dnnl_allocate_value(plan.dst_md, output);
    output.int8_view_of_u8 = int8_view_out_;
    if (sum) dnnl_reorder_into(dnnl_memory_of(*sum), output.memory);
    std::shared_ptr<void> padded_owner;
    dnnl::memory dst = output.memory;
    if (plan.padded_dst_md) {
      padded_owner = dnnl_pool_alloc(plan.padded_dst_md->get_size());
      dst = dnnl::memory(*plan.padded_dst_md, dnnl_cpu_engine(), padded_owner.get());
    }
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, plan.weights}, {DNNL_ARG_DST, dst}};
    if (bias_.defined()) args[DNNL_ARG_BIAS] = plan.bias;
    plan.primitive.execute(dnnl_cpu_stream(), args);
    if (plan.padded_dst_md)  // the first M channels of the padded result
      dnnl_reorder_into(dnnl::memory(plan.padded_dst_md->submemory_desc(dnnl_dims(plan.y_shape), {0, 0, 0, 0}),
                                     dnnl_cpu_engine(), padded_owner.get()),
                        output.memory);
    dnnl_cpu_stream().wait();
    return true;
  }

 private:
  struct Plan {
    dnnl::primitive primitive;
    dnnl::memory::desc q_nhwc, src_md, dst_md;
    std::optional<dnnl::memory::desc> padded_dst_md;  // the primitive's destination when M is padded
    dnnl::memory weights, bias;
    Tensor bias_in_sum_units;
    Tensor padded_weights;
    Shape y_shape;
  };

  // The output channel count the primitive computes (see the file comment).
  int64_t padded_channels(int64_t m) const {
    if (has_sum_ || node_.attr_int("group", 1) != 1 || m % 32 <= 16) return m;
    return (m / 32 + 1) * 32;
  }

  dt code_type() const { return spec_.type == DType::UInt8 ? dt::u8 : dt::s8; }

  // The type of the codes as `v` holds them: uint8 with zero point 128 may be held as int8.
  dt held_type(const DnnlValue& v) const { return v.has_memory && v.int8_view_of_u8 ? dt::s8 : code_type(); }

  bool holds_codes(const DnnlValue& v) const {
    if (v.int8_view_of_u8 && (spec_.type != DType::UInt8 || spec_.zero_point != 128)) return false;
    if (v.has_memory) return v.memory.get_desc().data_type() == held_type(v);
    return v.plain.dtype() == spec_.type;
  }

  // x in channels-last float32 (the layout the Convs before leave it in; else one reorder into
  // `owner`).
  static const float* float_nhwc(const DnnlValue& x_value, const Shape& x_shape, std::shared_ptr<void>& owner) {
    const dnnl::memory x_nhwc =
        dnnl_reordered(dnnl_memory_of(x_value), dnnl::memory::desc(dnnl_dims(x_shape), dt::f32, tag::nhwc), owner);
    dnnl_cpu_stream().wait();  // the loops read it on the host
    return static_cast<const float*>(x_nhwc.get_data_handle());
  }

  // The conv's source from the codes: in place when they are channels-last, of the source type
  // and not gathered; else copied per pixel (gathering channels, flipping the top bit of uint8
  // with zero point 128 into the int8 view unless the writer left them so).
  dnnl::memory source_of_codes(const DnnlValue& codes, const Shape& x_shape, const dnnl::memory::desc& q_nhwc,
                               std::shared_ptr<void>& reordered, std::shared_ptr<void>& q_owner) const {
    dnnl::memory memory = codes.memory;
    if (!codes.has_memory) memory = dnnl_view(dnnl_plain_desc(x_shape, code_type()), codes.plain);
    const dnnl::memory::desc nhwc(dnnl_dims(x_shape), held_type(codes), tag::nhwc);
    const uint8_t flip = spec_.zero_point == 128 && !codes.int8_view_of_u8 ? 0x80 : 0;
    if (memory.get_desc() == nhwc && flip == 0 && spec_.gather.empty() && q_nhwc == nhwc) return memory;
    const auto* from = static_cast<const uint8_t*>(dnnl_reordered(memory, nhwc, reordered).get_data_handle());
    dnnl_cpu_stream().wait();  // copy_codes reads it on the host
    q_owner = dnnl_pool_alloc(q_nhwc.get_size());
    copy_codes(from, x_shape, flip, static_cast<uint8_t*>(q_owner.get()));
    return dnnl::memory(q_nhwc, dnnl_cpu_engine(), q_owner.get());
  }

  // Each pixel's row: the leading channels that map to themselves as one contiguous copy (eight
  // bytes at a time when the top bit flips), then the gathered OCS copies one by one.
  void copy_codes(const uint8_t* from, const Shape& x_shape, uint8_t flip, uint8_t* to) const {
    const int64_t in_channels = x_shape[1], pixels = x_shape[0] * x_shape[2] * x_shape[3];
    const int64_t channels = spec_.gather.empty() ? in_channels : static_cast<int64_t>(spec_.gather.size());
    const int64_t* gather = spec_.gather.data();
    int64_t prefix = 0;
    while (prefix < std::min(channels, in_channels) && (spec_.gather.empty() || gather[prefix] == prefix)) ++prefix;
    const uint64_t flip8 = 0x0101010101010101ull * flip;
#pragma omp parallel for schedule(static) if (pixels * channels >= kQuantParallelMin)
    for (int64_t p = 0; p < pixels; ++p) {
      const uint8_t* row = from + p * in_channels;
      uint8_t* out = to + p * channels;
      int64_t c = 0;
      if (flip == 0) {
        std::memcpy(out, row, static_cast<size_t>(prefix));
        c = prefix;
      } else {
        for (; c + 8 <= prefix; c += 8) {
          uint64_t word;
          std::memcpy(&word, row + c, 8);
          word ^= flip8;
          std::memcpy(out + c, &word, 8);
        }
        for (; c < prefix; ++c) out[c] = row[c] ^ flip;
      }
      for (; c < channels; ++c) out[c] = row[gather[c]] ^ flip;
    }
  }

  // q[n, h, w, c] = Q(Clip(x[n, h, w, gather[c]])) into `out` (channels-last, the conv's input
  // channels); x is channels-last float32 of shape `x_shape` (NCHW dims).
  void quantize_input(const float* x, const Shape& x_shape, int8_t* out) const {
    const int64_t in_channels = x_shape[1], pixels = x_shape[0] * x_shape[2] * x_shape[3];
    const float low = spec_.clip_low.value_or(-std::numeric_limits<float>::infinity());
    const float high = spec_.clip_high.value_or(std::numeric_limits<float>::infinity());
    const float scale = spec_.scale;
    const int32_t zero_point = 0;  // see the file comment: 128 became the int8 view
    auto quantize = [&](const float* from, int64_t n, int8_t* to) {
      if (src_type_ == dt::u8)
        fast_clip_quantize_serial(from, n, low, high, scale, zero_point, reinterpret_cast<uint8_t*>(to));
      else
        fast_clip_quantize_serial(from, n, low, high, scale, zero_point, to);
    };
    // All of x as one contiguous run, in blocks over the threads.
    const int64_t total = pixels * in_channels;
    auto quantize_all = [&](int8_t* to) {
      const int64_t block = 1 << 14, blocks = (total + block - 1) / block;
#pragma omp parallel for schedule(static) if (total >= kQuantParallelMin)
      for (int64_t b = 0; b < blocks; ++b) quantize(x + b * block, std::min(block, total - b * block), to + b * block);
    };
    if (spec_.gather.empty()) return quantize_all(out);
    const int64_t channels = static_cast<int64_t>(spec_.gather.size());
    const int64_t* gather = spec_.gather.data();
    // Weight OCS duplicates channels: gather = [0, ..., C - 1, c_1, ..., c_k]. Then x is quantized
    // in one contiguous pass (in blocks, vectorised) and each pixel's row is those C codes plus k
    // copied codes (the same Q(x[c])): no call per pixel.
    int64_t prefix = 0;
    while (prefix < std::min(channels, in_channels) && gather[prefix] == prefix) ++prefix;
    if (prefix == in_channels) {
      std::shared_ptr<void> codes_owner = dnnl_pool_alloc(static_cast<size_t>(total));
      int8_t* codes = static_cast<int8_t*>(codes_owner.get());
      quantize_all(codes);
#pragma omp parallel for schedule(static) if (total >= kQuantParallelMin)
      for (int64_t p = 0; p < pixels; ++p) {
        const int8_t* from = codes + p * in_channels;
        int8_t* to = out + p * channels;
        std::memcpy(to, from, static_cast<size_t>(in_channels));
        for (int64_t c = in_channels; c < channels; ++c) to[c] = from[gather[c]];
      }
      return;
    }
#pragma omp parallel if (pixels * channels >= kQuantParallelMin)
    {
      std::vector<float> row(static_cast<size_t>(channels));
#pragma omp for schedule(static)
      for (int64_t p = 0; p < pixels; ++p) {
        const float* from = x + p * in_channels;
        for (int64_t c = 0; c < channels; ++c) row[static_cast<size_t>(c)] = from[gather[c]];
        quantize(row.data(), channels, out + p * channels);
      }
    }
  }

  std::optional<Plan> build_plan(const Shape& x_shape) {
    Shape conv_x = x_shape;
    if (!spec_.gather.empty()) conv_x[1] = static_cast<int64_t>(spec_.gather.size());
    const Tensor& w = spec_.weights;
    const std::optional<DnnlConvGeometry> g = dnnl_conv_geometry(node_, conv_x, w.shape(), false);
    if (!g) return std::nullopt;
    Plan plan;
    plan.y_shape = g->y_shape;
    const int64_t m = g->out_channels;
    const int64_t computed = padded_channels(m);
    // The weights, output scales and bias of the `computed` channels: zeros, 1 and 0 appended.
    dnnl::memory::dims weight_dims = g->weight_dims;
    dnnl::memory::dims weight_strides(g->weight_strides.begin(), g->weight_strides.end());
    const void* weights = w.raw();
    std::vector<float> out_scales = out_scales_;
    if (computed != m) {
      plan.padded_weights = Tensor(DType::Int8, {computed, w.dim(1), w.dim(2), w.dim(3)});
      std::memset(plan.padded_weights.raw(), 0, static_cast<size_t>(plan.padded_weights.numel()));
      std::memcpy(plan.padded_weights.raw(), w.raw(), static_cast<size_t>(w.numel()));
      weights = plan.padded_weights.raw();
      weight_dims[0] = computed;  // one group: [M, C, kh, kw], contiguous
      weight_strides = {w.dim(1) * w.dim(2) * w.dim(3), w.dim(2) * w.dim(3), w.dim(3), 1};
      if (out_scales.size() != 1) out_scales.resize(static_cast<size_t>(computed), 1.0f);
    }
    Shape y_computed = g->y_shape;
    y_computed[1] = computed;
    plan.q_nhwc = dnnl::memory::desc(dnnl_dims(conv_x), src_type_, tag::nhwc);
    dnnl::primitive_attr attr;
    attr.set_output_scales(out_scales.size() == 1 ? 0 : 1 << 1, out_scales);
    attr.set_post_ops(dnnl_post_ops_of(post_ops_));
    const dnnl::memory::desc bias_md =
        bias_.defined() ? dnnl::memory::desc({computed}, dt::f32, tag::a) : dnnl::memory::desc();
    const dt dst_type = codes_out_ ? (*codes_out_ == DType::UInt8 ? dt::u8 : dt::s8) : dt::f32;
    try {
      dnnl::convolution_forward::desc desc(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, plan.q_nhwc,
          dnnl::memory::desc(weight_dims, dt::s8, tag::any), bias_md,
          dnnl::memory::desc(dnnl_dims(y_computed), dst_type, codes_out_ || computed != m ? tag::nhwc : tag::any),
          g->strides, g->dilates, g->pads_begin, g->pads_end);
      dnnl::convolution_forward::primitive_desc pd(desc, attr, dnnl_cpu_engine());
      if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) return std::nullopt;  // slower than float
      plan.primitive = dnnl::convolution_forward(pd);
      plan.src_md = pd.src_desc();
      plan.dst_md = pd.dst_desc();
      if (computed != m) {
        plan.padded_dst_md = pd.dst_desc();
        plan.dst_md = dnnl::memory::desc(dnnl_dims(g->y_shape), dst_type, tag::nhwc);
      }
      const dnnl::memory::desc w_user(weight_dims, dt::s8, weight_strides);
      plan.weights = dnnl_reorder_now(dnnl::memory(w_user, dnnl_cpu_engine(), const_cast<void*>(weights)),
                                      pd.weights_desc());
    } catch (const dnnl::error&) {
      return std::nullopt;
    }
    if (bias_.defined()) {
      // dst = oscale * (sum + bias'): bias' = bias / oscale.
      plan.bias_in_sum_units = Tensor(DType::Float32, {computed});
      float* bias = plan.bias_in_sum_units.data<float>();
      for (int64_t k = 0; k < computed; ++k)
        bias[k] = k < m ? bias_.data<float>()[k] / out_scales[out_scales.size() == 1 ? 0 : k] : 0.0f;
      plan.bias = dnnl_view(dnnl_plain_desc({computed}), plan.bias_in_sum_units);
    }
    return plan;
  }

  const Node& node_;
  const Int8ConvSpec spec_;
  const Tensor bias_;                   // scale[m] * b[m] + shift[m] (float, M), times k with codes out
  const std::vector<float> out_scales_;  // s_x * s_w[m] * scale[m] (1 or M), times k with codes out
  const std::vector<DnnlPostOp> post_ops_;
  const std::optional<DType> codes_out_;  // the destination's code type, else float32
  const bool int8_view_out_;              // the codes are uint8 with zero point 128, written as int8
  bool has_sum_ = false;
  dt src_type_ = dt::s8;
  PlanCache<Shape, Plan> plans_;
};

}  // namespace

std::unique_ptr<LayoutKernel> dnnl_make_layout_int8_conv(const Node& conv, const Graph& graph, Int8ConvSpec spec,
                                                         std::vector<PostOp> post_ops, const std::vector<float>& scale,
                                                         const std::vector<float>& shift,
                                                         const Int8Requantize& requantize) {
  if (!conv.domain.empty() || conv.op_type != "Conv" || conv.inputs.size() < 2) return nullptr;
  const Tensor& w = spec.weights;
  if (w.dtype() != DType::Int8 || w.rank() != 4) return nullptr;
  const bool zero_point_ok = spec.zero_point == 0 || (spec.type == DType::UInt8 && spec.zero_point == 128);
  if (!zero_point_ok || (spec.type != DType::Int8 && spec.type != DType::UInt8)) return nullptr;
  if (!(spec.scale > 0.0f) || !std::isfinite(spec.scale)) return nullptr;
  const int64_t m = w.dim(0);
  if (spec.weight_scales.size() != 1 && static_cast<int64_t>(spec.weight_scales.size()) != m) return nullptr;
  if ((scale.size() != 1 && static_cast<int64_t>(scale.size()) != m) || scale.size() != shift.size()) return nullptr;
  const Tensor* b = nullptr;
  if (conv.inputs.size() > 2 && conv.inputs[2] != kNoValue) {
    const Value& value = graph.values.at(static_cast<size_t>(conv.inputs[2]));
    if (!value.constant || value.constant->dtype() != DType::Float32 || value.constant->numel() != m) return nullptr;
    b = &*value.constant;
  }
  float units = 1.0f;  // the factor folded into the output scales and the bias (codes out)
  std::vector<DnnlPostOp> ops;
  // uint8 codes with zero point 128 are written as their int8 view q - 128 (int8 with zero point
  // 0, the same grid and saturation), which the next int8 Conv reads in place.
  Int8Requantize out = requantize;
  const bool int8_view = out.codes && out.codes->type == DType::UInt8 && out.codes->zero_point == 128;
  if (int8_view) {
    out.codes->type = DType::Int8;
    out.codes->zero_point = 0;
  }
  if (out.round_trip || out.codes) {
    if (out.codes && out.codes->type != DType::UInt8 && out.codes->type != DType::Int8) return nullptr;
    std::optional<std::vector<DnnlPostOp>> made = requantize_post_ops(post_ops, out, units);
    if (!made) return nullptr;
    ops = std::move(*made);
  } else {
    ops = dnnl_post_ops_from(post_ops);
  }
  auto at = [](const std::vector<float>& v, int64_t k) { return v.size() == 1 ? v[0] : v[static_cast<size_t>(k)]; };
  const bool per_channel = spec.weight_scales.size() != 1 || scale.size() != 1;
  std::vector<float> out_scales;
  bool any_bias = b != nullptr;
  for (int64_t k = 0; k < (per_channel ? m : 1); ++k) {
    const float s = spec.scale * at(spec.weight_scales, k) * at(scale, k) * units;
    if (!(s > 0.0f) || !std::isfinite(s)) return nullptr;  // a zero or negative scale: the float path
    out_scales.push_back(s);
  }
  for (int64_t k = 0; k < m; ++k) any_bias = any_bias || at(shift, k) != 0.0f;
  Tensor bias;
  if (any_bias) {
    bias = Tensor(DType::Float32, {m});
    for (int64_t k = 0; k < m; ++k)
      bias.data<float>()[k] = ((b ? b->data<float>()[k] * at(scale, k) : 0.0f) + at(shift, k)) * units;
  }
  return std::make_unique<LayoutInt8Conv>(
      conv, std::move(spec), std::move(bias), std::move(out_scales), std::move(ops),
      out.codes ? std::optional<DType>(out.codes->type) : std::nullopt, int8_view);
}

}  // namespace ocs
