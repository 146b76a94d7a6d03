// The neural-network family: convolutions (conv.cpp, conv_transpose.cpp), pooling (pool.cpp),
// normalizations (nn_normalization.cpp) and matrix products (gemm.cpp). Window geometry shared with the
// fast kernels lives in nn_common.cpp.
#include "kernels/reference/nn_common.h"

namespace ocs {

void register_nn_kernels(KernelRegistry& registry) {
  registry.add_reference("Conv", nn_conv);
  registry.add_reference("ConvInteger", nn_conv_integer);
  registry.add_reference("ConvTranspose", nn_conv_transpose);
  registry.add_reference("MaxPool", nn_max_pool);
  registry.add_reference("AveragePool", nn_average_pool);
  registry.add_reference("LpPool", nn_lp_pool);
  registry.add_reference("GlobalAveragePool", nn_global_average_pool);
  registry.add_reference("GlobalMaxPool", nn_global_max_pool);
  registry.add_reference("GlobalLpPool", nn_global_lp_pool);
  registry.add_reference("BatchNormalization", nn_batch_normalization);
  registry.add_reference("InstanceNormalization", nn_instance_normalization);
  registry.add_reference("LayerNormalization", nn_layer_normalization);
  registry.add_reference("LRN", nn_lrn);
  registry.add_reference("Gemm", nn_gemm);
  registry.add_reference("MatMul", nn_matmul);
  registry.add_reference("MatMulInteger", nn_matmul_integer);
}

}  // namespace ocs
