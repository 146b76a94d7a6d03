// The fast (oneDNN-backed) kernels. Each factory returns nullptr when a node is outside its fast
// path; then the reference kernel runs. See dnnl_common.h for the shared pattern.
#include "kernels/fast/dnnl_common.h"

namespace ocs {

void register_fast_kernels(KernelRegistry& registry) {
  registry.add_fast("Conv", dnnl_make_conv);
  registry.add_fast("ConvTranspose", dnnl_make_conv_transpose);
  registry.add_fast("MatMul", dnnl_make_matmul);
  registry.add_fast("Gemm", dnnl_make_gemm);
  registry.add_fast("MaxPool", dnnl_make_max_pool);
  registry.add_fast("AveragePool", dnnl_make_average_pool);
  registry.add_fast("GlobalAveragePool", dnnl_make_global_average_pool);
  registry.add_fast("LSTM", dnnl_make_lstm);
  registry.add_fast("GRU", dnnl_make_gru);
  registry.add_fast("Softmax", dnnl_make_softmax);
  registry.add_fast("LogSoftmax", dnnl_make_softmax);
  registry.add_fast("QuantizeLinear", fast_make_quantize_linear);
  registry.add_fast("DequantizeLinear", fast_make_dequantize_linear);
}

}  // namespace ocs
