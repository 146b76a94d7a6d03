#include "kernels/kernel.h"

#include <algorithm>

namespace ocs {

const Tensor& KernelContext::input(size_t i) const {
  static const Tensor absent;
  return i < inputs.size() ? inputs[i] : absent;
}

bool LayoutSite::any_from_layout() const {
  return std::find(from_layout.begin(), from_layout.end(), true) != from_layout.end();
}

static std::string key_of(const std::string& domain, const std::string& op_type) {
  return (domain == "ai.onnx" ? std::string() : domain) + ":" + op_type;
}

void KernelRegistry::add_reference(const std::string& op_type, ReferenceKernel kernel,
                                   const std::string& domain) {
  entries_[key_of(domain, op_type)].reference = kernel;
}

void KernelRegistry::add_fast(const std::string& op_type, FastKernelFactory factory,
                              const std::string& domain) {
  entries_[key_of(domain, op_type)].fast = factory;
}

void KernelRegistry::add_layout(const std::string& op_type, const std::string& kind, LayoutKernelFactory factory,
                                const std::string& domain) {
  entries_[key_of(domain, op_type)].layout.push_back({kind, factory});
}

const KernelEntry* KernelRegistry::find(const std::string& domain, const std::string& op_type) const {
  auto it = entries_.find(key_of(domain, op_type));
  return it == entries_.end() || !it->second.reference ? nullptr : &it->second;
}

std::vector<std::string> KernelRegistry::op_types() const {
  std::vector<std::string> names;
  for (const auto& [key, entry] : entries_)
    if (entry.reference) names.push_back(key.front() == ':' ? key.substr(1) : key);
  return names;
}

const KernelRegistry& KernelRegistry::global() {
  static const KernelRegistry registry = [] {
    KernelRegistry r;
    register_elementwise_kernels(r);
    register_reduction_kernels(r);
    register_tensor_kernels(r);
    register_nn_kernels(r);
    register_quant_kernels(r);
    register_recurrent_kernels(r);
    register_fast_kernels(r);
    register_layout_kernels(r);
    return r;
  }();
  return registry;
}

}  // namespace ocs
