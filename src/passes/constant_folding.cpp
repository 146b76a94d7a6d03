#include "passes/constant_folding.h"

#include "core/error.h"
#include "kernels/kernel.h"

#include <set>

namespace ocs {
namespace {

bool foldable_op(const Node& node) {
  static const std::set<std::string> random = {"RandomNormal", "RandomUniform", "RandomNormalLike",
                                               "RandomUniformLike", "Multinomial", "Bernoulli"};
  if (!node.domain.empty() || random.count(node.op_type)) return false;
  for (const auto& [key, attr] : node.attributes)
    if (attr.g) return false;
  return true;
}

}  // namespace

int64_t fold_constants(Graph& graph) {
  constexpr int64_t kMaxElements = int64_t{1} << 26;
  const int64_t opset = graph.opset("");
  const auto& registry = KernelRegistry::global();
  std::vector<Node> kept;
  int64_t folded = 0;
  for (Node& node : graph.nodes) {
    bool all_constant = foldable_op(node) && !node.outputs.empty();
    for (ValueId in : node.inputs)
      all_constant = all_constant && (in == kNoValue || graph.values[in].constant.has_value());
    const KernelEntry* entry = all_constant ? registry.find(node.domain, node.op_type) : nullptr;
    if (!entry || !entry->reference) {
      kept.push_back(std::move(node));
      continue;
    }
    std::vector<Tensor> inputs;
    for (ValueId in : node.inputs) inputs.push_back(in == kNoValue ? Tensor() : *graph.values[in].constant);
    std::vector<Tensor> outputs(node.outputs.size());
    bool ok = true;
    try {
      KernelContext ctx{node, inputs, outputs, opset};
      entry->reference(ctx);
    } catch (const UserError&) {
      ok = false;
    }
    int64_t elements = 0;
    for (size_t o = 0; ok && o < outputs.size(); ++o) {
      if (node.outputs[o] == kNoValue) continue;
      ok = outputs[o].defined();
      if (ok) elements += outputs[o].numel();
    }
    if (!ok || elements > kMaxElements) {
      kept.push_back(std::move(node));
      continue;
    }
    for (size_t o = 0; o < outputs.size(); ++o) {
      if (node.outputs[o] == kNoValue) continue;
      Value& value = graph.values[node.outputs[o]];
      value.dtype = outputs[o].dtype();
      value.shape = outputs[o].shape();
      value.constant = std::move(outputs[o]);
    }
    ++folded;
  }
  graph.nodes = std::move(kept);
  return folded;
}

}  // namespace ocs
