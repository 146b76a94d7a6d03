// How oneDNN's int8 convolution speed depends on the output channel count (the padding rule of
// kernels/fast/dnnl_int8_conv.cpp): one channels-last u8/s8 Conv, k x k, stride 1, "same" pads,
// output scale and Relu as the engine's int8 steps run it; best of 5 rounds of 20 executions.
// With a 6th argument KEEP < M, every execution is followed by the copy of the first KEEP output
// channels into a dense tensor, as the engine does after a padded Conv.
//
//   g++ -O2 bench/dnnl_conv_channels.cpp -o /tmp/dnnl_conv_channels -ldnnl
//   OMP_NUM_THREADS=2 /tmp/dnnl_conv_channels IC M HW K [f32|s8] [KEEP]
//   e.g. PP-OCRv4 det's 98 -> 24 3x3 Conv at 160x160, as it is and padded to 32:
//   OMP_NUM_THREADS=2 /tmp/dnnl_conv_channels 98 24 160 3 f32
//   OMP_NUM_THREADS=2 /tmp/dnnl_conv_channels 98 32 160 3 f32 24
#include <oneapi/dnnl/dnnl.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s IC M HW K [f32|s8] [KEEP]\n", argv[0]);
    return 2;
  }
  const long ic = std::atol(argv[1]), m = std::atol(argv[2]), hw = std::atol(argv[3]), k = std::atol(argv[4]);
  const dt out_type = argc > 5 && std::string(argv[5]) == "f32" ? dt::f32 : dt::s8;
  const long keep = argc > 6 ? std::atol(argv[6]) : m;
  if (ic < 1 || m < 1 || hw < 1 || k < 1 || keep < 1 || keep > m) {
    std::fprintf(stderr, "IC, M, HW, K must be positive and KEEP at most M\n");
    return 2;
  }
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const long pad = k / 2;
  dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
      dnnl::memory::desc({1, ic, hw, hw}, dt::s8, tag::nhwc), dnnl::memory::desc({m, ic, k, k}, dt::s8, tag::any),
      dnnl::memory::desc({1, m, hw, hw}, out_type, tag::nhwc), {1, 1}, {pad, pad}, {pad, pad});
  dnnl::primitive_attr attr;
  attr.set_output_scales(0, {0.01f});
  dnnl::post_ops relu;
  relu.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  attr.set_post_ops(relu);
  const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);
  const dnnl::convolution_forward conv(pd);
  dnnl::memory src(pd.src_desc(), engine), weights(pd.weights_desc(), engine), dst(pd.dst_desc(), engine);
  const dnnl::memory first(pd.dst_desc().submemory_desc({1, keep, hw, hw}, {0, 0, 0, 0}), engine,
                           dst.get_data_handle());
  dnnl::memory kept(dnnl::memory::desc({1, keep, hw, hw}, out_type, tag::nhwc), engine);
  const dnnl::reorder copy(first, kept);
  auto once = [&] {
    conv.execute(stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}});
    if (keep != m) copy.execute(stream, const_cast<dnnl::memory&>(first), kept);
  };
  for (int i = 0; i < 5; ++i) once();
  stream.wait();
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) once();
    stream.wait();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / 20;
    if (ms < best) best = ms;
  }
  const double gmac = double(ic) * m * k * k * hw * hw / 1e9;
  std::printf("ic %ld, M %ld (first %ld kept), %ldx%ld, k %ld, %s out: %.3f ms, %.0f GMAC/s, %s\n", ic, m, keep, hw, hw,
              k, out_type == dt::f32 ? "f32" : "s8", best, gmac / best * 1e3, pd.impl_info_str());
  return 0;
}
