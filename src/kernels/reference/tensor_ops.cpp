#include "kernels/kernel.h"

namespace ocs {

// TODO(helper): this family is being written.
void register_tensor_kernels(KernelRegistry& registry) { (void)registry; }

}  // namespace ocs
