#include "eval/sample_source_spec.h"

#include "core/error.h"
#include "eval/fashion_mnist.h"
#include "eval/image_folder.h"
#include "eval/kjv_text.h"
#include "eval/text_lines.h"
#include "eval/wav_source.h"

namespace ocs {

std::unique_ptr<SampleSource> make_sample_source(const std::vector<std::string>& specs,
                                                 const Graph& graph, int64_t limit) {
  if (specs.size() == 1 && specs[0].rfind("fashion-mnist:", 0) == 0) {
    if (graph.inputs.size() != 1)
      user_error("fashion-mnist data feeds one input, but the model has {}", graph.inputs.size());
    const Value& input = graph.values[graph.inputs[0]];
    int64_t batch = 32;
    if (input.shape && !input.shape->empty() && (*input.shape)[0] > 0) batch = (*input.shape)[0];
    return std::make_unique<FashionMnistSource>(kFashionMnistDir, specs[0].substr(14), input.name,
                                                limit, batch);
  }
  if (specs.size() == 1 && specs[0].rfind("kjv:", 0) == 0) return make_kjv_source(specs[0], graph, limit);
  if (specs.size() == 1 && specs[0].rfind("images:", 0) == 0)
    return make_image_folder_source(specs[0].substr(7), graph, limit);
  if (specs.size() == 1 && specs[0].rfind("wav:", 0) == 0) return make_wav_source(specs[0], graph, limit);
  if (specs.size() == 1 && specs[0].rfind("text-lines:", 0) == 0)
    return make_text_line_source(specs[0], graph, limit);
  SampleArrays data = read_sample_array_specs(specs);
  return std::make_unique<ArraySampleSource>(graph, std::move(data.arrays), limit, 32, std::move(data.sample_axes));
}

}  // namespace ocs
