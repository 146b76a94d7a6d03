#include "kernels/kernel.h"

namespace ocs {

// TODO(helper): this family is being written.
void register_quant_kernels(KernelRegistry& registry) { (void)registry; }

}  // namespace ocs
