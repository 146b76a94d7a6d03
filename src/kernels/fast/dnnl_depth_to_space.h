// DepthToSpace as a layout kernel (kernels/fast/dnnl_layout.h): one oneDNN reorder instead of the
// reference kernel's element-by-element strided copy. The deployable export writes one after a
// chain of stride-equals-kernel ConvTransposes rewritten as 1x1 Convs (passes/convtranspose_chains.h);
// PP-OCRv4 det's is a 16-channel 160x160 float map (0.7 ms as the reference kernel on 2 threads).
#pragma once

#include "kernels/fast/dnnl_layout.h"

namespace ocs {

// DepthToSpace of a 4-D float32 tensor in either mode (DCR, CRD); other inputs decline at run time.
// nullptr when the node is outside this kernel.
std::unique_ptr<LayoutKernel> dnnl_make_layout_depth_to_space(const Node& node, int64_t opset);

}  // namespace ocs
