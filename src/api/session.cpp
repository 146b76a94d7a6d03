// ocs::InferenceSession of the installed API (include/ocs/ocs.h) over the engine's Session.
#include "api/arrays.h"
#include "core/option_names.h"
#include "api/tensor_info.h"
#include "engine/session.h"
#include "onnx/onnx_io.h"

namespace ocs {

struct InferenceSession::Impl {
  std::shared_ptr<const Graph> graph;
  std::unique_ptr<ocs::Session> session;
};

InferenceSession::InferenceSession(const std::string& model_path, SessionSettings settings) : impl_(std::make_unique<Impl>()) {
  const ScopedOptionSpelling spelling(OptionSpelling::Api);
  if (settings.threads < 0) user_error("threads must be 0 (all cores) or more, not {}", settings.threads);
  impl_->graph = std::make_shared<const Graph>(import_onnx_file(model_path));
  SessionOptions options;
  options.threads = settings.threads;
  options.reference_kernels_only = settings.reference_kernels;
  impl_->session = std::make_unique<ocs::Session>(impl_->graph, options);
}

InferenceSession::~InferenceSession() = default;
InferenceSession::InferenceSession(InferenceSession&&) noexcept = default;
InferenceSession& InferenceSession::operator=(InferenceSession&&) noexcept = default;

Arrays InferenceSession::run(const Arrays& inputs) {
  const ScopedOptionSpelling spelling(OptionSpelling::Api);
  const auto outputs = impl_->session->run(api::to_tensors(inputs, "input"));
  Arrays result;
  const Graph& graph = *impl_->graph;
  for (size_t i = 0; i < outputs.size(); ++i) result[graph.values[graph.outputs[i]].name] = api::to_array(outputs[i]);
  return result;
}

std::vector<TensorInfo> InferenceSession::inputs() const { return api::graph_inputs(*impl_->graph); }
std::vector<TensorInfo> InferenceSession::outputs() const { return api::graph_outputs(*impl_->graph); }

}  // namespace ocs
