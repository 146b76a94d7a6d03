// The Python module `ocs` (its extension `ocs._ocs`): the installed C++ API (include/ocs/ocs.h) in
// the command line's terms, numpy arrays in and out. UserError becomes ValueError, InternalError
// RuntimeError, with the same messages. Long calls release the GIL; the callbacks they make
// (progress, calibration batches) take it back.
#include "ocs/ocs.h"

#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;

namespace {

py::object json_loads(const std::string& text) { return py::module_::import("json").attr("loads")(text); }

// A numpy array (or anything numpy turns into one) as an Array viewing its buffer, C-contiguous;
// `keep` holds the converted arrays so the views stay valid while the GIL is released.
ocs::Array view_of(const py::handle& value, const std::string& what, std::vector<py::array>& keep) {
  py::array a = py::array::ensure(value, py::array::c_style);
  if (!a) throw py::value_error(what + " is not an array (or anything numpy.asarray takes)");
  keep.push_back(a);
  ocs::Array out;
  out.dtype = py::str(a.dtype().attr("name"));
  out.shape.assign(a.shape(), a.shape() + a.ndim());
  out.data = a.data();
  return out;
}

ocs::Arrays views_of(const py::dict& arrays, const std::string& what, std::vector<py::array>& keep) {
  ocs::Arrays out;
  for (const auto& [key, value] : arrays) {
    const std::string name = py::str(key);
    out[name] = view_of(value, what + " '" + name + "'", keep);
  }
  return out;
}

// An Array returned by the library as a read-only numpy array sharing its buffer (outputs can be
// the model's own constants, which must not change).
py::array to_numpy(const ocs::Array& array) {
  auto* owner = new std::shared_ptr<const void>(array.owner);
  py::capsule free_owner(owner, [](void* p) { delete static_cast<std::shared_ptr<const void>*>(p); });
  py::array out(py::dtype(array.dtype), std::vector<py::ssize_t>(array.shape.begin(), array.shape.end()),
                array.data, free_owner);
  out.attr("flags").attr("writeable") = false;
  return out;
}

py::dict to_dict(const ocs::Arrays& arrays) {
  py::dict out;
  for (const auto& [name, array] : arrays) out[py::str(name)] = to_numpy(array);
  return out;
}

py::list tensor_infos(const std::vector<ocs::TensorInfo>& infos) {
  py::list out;
  for (const auto& i : infos) {
    py::dict d;
    d["name"] = i.name;
    d["dtype"] = i.dtype.empty() ? py::object(py::none()) : py::object(py::str(i.dtype));
    if (i.has_shape) {
      py::list shape;
      for (int64_t dim : i.shape) shape.append(dim < 0 ? py::object(py::none()) : py::object(py::int_(dim)));
      d["shape"] = py::tuple(shape);
    } else {
      d["shape"] = py::none();
    }
    out.append(d);
  }
  return out;
}

// The progress callback of a call made without the GIL: takes the GIL to call Python.
ocs::ProgressCallback progress_of(const py::object& progress) {
  if (progress.is_none()) return {};
  if (!PyCallable_Check(progress.ptr())) throw py::type_error("progress must be callable as progress(stage, done, total)");
  const py::handle callback = progress;  // borrowed: the caller's frame keeps it alive
  return [callback](const std::string& stage, int64_t done, int64_t total) {
    py::gil_scoped_acquire gil;
    callback(stage, done, total);
  };
}

std::vector<std::string> strings_of(const py::object& value, const std::string& what) {
  if (value.is_none()) return {};
  if (py::isinstance<py::str>(value)) return {value.cast<std::string>()};
  if (py::hasattr(value, "__fspath__")) return {py::str(value.attr("__fspath__")())};
  try {
    std::vector<std::string> out;
    for (const auto& item : value) {
      if (py::hasattr(item, "__fspath__")) out.push_back(py::str(item.attr("__fspath__")()));
      else out.push_back(item.cast<std::string>());
    }
    return out;
  } catch (const py::cast_error&) {
    throw py::type_error(what + " must be a string or a list of strings");
  }
}

const char* kQuantizeDoc = R"(Quantize a float ONNX model with Outlier Channel Splitting, as `ocs quantize` does.

Writes `output` (never overwriting it unless overwrite=True; the input is never modified) and
returns the report as a dict (the JSON `ocs quantize` writes: layers, thresholds, splits).

calibration: the activations' calibration data (needed unless abits=0):
  - a path (str or os.PathLike) to an .npz keyed by input name, samples on axis 0, or any
    `--calib` spec ("fashion-mnist:train", "x=x.npy", "images:DIR,resize=256,crop=224"); a list
    of such strings;
  - a dict {input name: ndarray} of stacked samples (axis 0);
  - any iterable yielding {input name: ndarray} batches (a generator over a PyTorch DataLoader,
    like ONNX Runtime's CalibrationDataReader). Batches are gathered until calib_samples samples
    and fed as the equivalent .npz would be, so the result is the same byte for byte.
wbits, abits: weight and activation bits (2..16; abits=0 keeps activations in float).
ocs_ratio: weight OCS expand ratio r; act_ocs_ratio: the activations'; max_overhead: a cap on
  the weights OCS adds, in percent of the model's (negative: none).
split: 'qa' (quantization-aware) or 'naive'. wclip, aclip: 'max', 'mse', 'aciq', 'kl',
  'mse-fine', 'aciq-std', 'kl-nonzero', 'percentile[:P]' (defaults: wclip 'max', aclip 'mse').
  per_channel: one weight scale per output channel.
exclude: node names left in float. quantize_first_last: also the first conv and last FC layer.
format: 'qdq' (deployable: ONNX Runtime runs it in int8), 'qdq-inputs' (the paper's layout) or
  'split-float'. signed_activations: keep the signed grid after ReLU-like ops in 'qdq'.
ocs_clip_on: 'split' or 'original' (the reference's order). fold_batchnorm: fold BatchNorm first.
threads: 0 = all cores (for this call only).
progress: optional callable progress(stage, done, total), called as calibration advances.
Errors in the model, settings or data raise ValueError with the message the CLI prints.)";

py::dict quantize(const std::string& input, const std::string& output, const py::object& calibration, int wbits,
                  int abits, double ocs_ratio, const std::string& split, const std::string& wclip,
                  const std::string& aclip, bool per_channel, const py::object& exclude, const std::string& format,
                  double act_ocs_ratio, double max_overhead, bool unsigned_activations, bool signed_activations,
                  const std::string& ocs_clip_on, bool fold_batchnorm, bool quantize_first_last,
                  const py::object& fix_input, const py::object& fix_shape, int calib_samples, int threads,
                  const py::object& progress, bool overwrite) {
  ocs::QuantizeSettings s;
  s.weight_bits = wbits;
  s.activation_bits = abits;
  s.ocs_ratio = ocs_ratio;
  s.act_ocs_ratio = act_ocs_ratio;
  s.max_overhead = max_overhead;
  s.split = split;
  s.weight_clip = wclip;
  s.activation_clip = aclip;
  s.per_channel = per_channel;
  s.unsigned_activations = unsigned_activations;
  s.signed_activations = signed_activations;
  s.ocs_clip_on = ocs_clip_on;
  s.fold_batchnorm = fold_batchnorm;
  s.quantize_first_last = quantize_first_last;
  s.exclude = strings_of(exclude, "exclude");
  s.fix_input = strings_of(fix_input, "fix_input");
  s.fix_shape = strings_of(fix_shape, "fix_shape");
  s.format = format;
  s.calib_samples = calib_samples;
  s.threads = threads;

  std::vector<py::array> keep;
  ocs::Calibration calib;
  py::object iterator;  // held here, used by the batch callback under the GIL
  if (calibration.is_none()) {
  } else if (py::isinstance<py::str>(calibration) || py::hasattr(calibration, "__fspath__") ||
             py::isinstance<py::list>(calibration) || py::isinstance<py::tuple>(calibration)) {
    calib = ocs::Calibration::from_specs(strings_of(calibration, "calibration"));
  } else if (py::isinstance<py::dict>(calibration)) {
    calib = ocs::Calibration::from_arrays(views_of(calibration.cast<py::dict>(), "calibration array", keep));
  } else {
    try {
      iterator = py::iter(calibration);
    } catch (const py::error_already_set&) {
      throw py::type_error("calibration must be a path, a dict of arrays or an iterable of {name: array} batches");
    }
    const py::handle it = iterator;
    calib = ocs::Calibration::from_batches([it]() -> std::optional<ocs::Arrays> {
      py::gil_scoped_acquire gil;
      PyObject* item = PyIter_Next(it.ptr());
      if (!item) {
        if (PyErr_Occurred()) throw py::error_already_set();
        return std::nullopt;
      }
      py::object batch = py::reinterpret_steal<py::object>(item);
      if (!py::isinstance<py::dict>(batch))
        throw py::type_error("each calibration batch must be a dict {input name: ndarray}");
      // Copied, so that nothing refers to Python objects once the GIL is released again.
      std::vector<py::array> held;
      ocs::Arrays views = views_of(batch.cast<py::dict>(), "calibration batch array", held);
      ocs::Arrays copies;
      for (const auto& [name, a] : views) copies[name] = ocs::Array::copy_of(a.dtype, a.shape, a.data);
      return copies;
    });
  }
  const auto callback = progress_of(progress);
  std::string report;
  {
    py::gil_scoped_release nogil;
    report = ocs::quantize(input, output, s, calib, callback, overwrite);
  }
  return json_loads(report);
}

py::dict evaluate(const std::string& model, const py::object& data, const py::object& metrics,
                  const std::optional<std::string>& reference, const std::optional<std::string>& keys, int64_t limit,
                  int threads, const py::object& progress) {
  ocs::EvaluateSettings s;
  s.data = strings_of(data, "data");
  s.metrics = strings_of(metrics, "metrics");
  s.reference = reference.value_or("");
  s.keys = keys.value_or("");
  s.limit = limit;
  s.threads = threads;
  const auto callback = progress_of(progress);
  std::string result;
  {
    py::gil_scoped_release nogil;
    result = ocs::evaluate(model, s, callback);
  }
  return json_loads(result);
}

py::list inspect(const std::string& model) {
  ocs::ModelInfo info;
  {
    py::gil_scoped_release nogil;
    info = ocs::inspect(model);
  }
  return json_loads(info.weight_stats_json)["layers"];
}

py::dict model_info(const std::string& model) {
  ocs::ModelInfo info;
  {
    py::gil_scoped_release nogil;
    info = ocs::inspect(model);
  }
  py::dict out = json_loads(info.weight_stats_json);
  out["inputs"] = tensor_infos(info.inputs);
  out["outputs"] = tensor_infos(info.outputs);
  out["nodes"] = info.nodes;
  return out;
}

}  // namespace

PYBIND11_MODULE(_ocs, m) {
  m.doc() = "Post-training quantization with Outlier Channel Splitting (OCS) for ONNX models: "
            "quantize, evaluate, inspect and run models, as the `ocs` command line does.";
  m.attr("__version__") = ocs::version();
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ocs::UserError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const ocs::InternalError& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  m.def("quantize", &quantize, kQuantizeDoc, py::arg("input"), py::arg("output"), py::arg("calibration") = py::none(),
        py::arg("wbits") = 8, py::arg("abits") = 8, py::arg("ocs_ratio") = 0.0, py::arg("split") = "qa",
        py::arg("wclip") = "max", py::arg("aclip") = "mse", py::arg("per_channel") = false,
        py::arg("exclude") = py::list(), py::arg("format") = "qdq", py::kw_only(), py::arg("act_ocs_ratio") = 0.0,
        py::arg("max_overhead") = -1.0, py::arg("unsigned_activations") = false,
        py::arg("signed_activations") = false, py::arg("ocs_clip_on") = "split", py::arg("fold_batchnorm") = true,
        py::arg("quantize_first_last") = false, py::arg("fix_input") = py::list(), py::arg("fix_shape") = py::list(),
        py::arg("calib_samples") = 512, py::arg("threads") = 0, py::arg("progress") = py::none(),
        py::arg("overwrite") = false);

  m.def("evaluate", &evaluate, R"(Measure a model on data, as `ocs eval` does; returns a dict
(samples, seconds and every metric's values, as `ocs eval --json` writes).

data: an `ocs eval --data` spec or a list of them ("fashion-mnist:test", "val.npz",
  "images:DIR,resize=256,crop=224", ...). metrics: names (top1, cer, perplexity, fidelity; default:
  what the data's labels allow, plus fidelity with a reference). reference: float model for
  fidelity. keys: character list of a CTC recognizer. limit: at most this many samples.
progress: optional callable progress(stage, done, total).)",
        py::arg("model"), py::arg("data"), py::arg("metrics") = py::none(), py::arg("reference") = py::none(),
        py::arg("keys") = py::none(), py::arg("limit") = 10000, py::arg("threads") = 0,
        py::arg("progress") = py::none());

  m.def("inspect", &inspect, R"(Per-layer weight statistics of a model, as `ocs inspect --json` lists
them: one dict per Conv/Gemm/MatMul layer (node, op_type, weight, shape, params, max_abs, mean,
std, kurtosis, top_in_channels).)",
        py::arg("model"));
  m.def("model_info", &model_info, R"(Everything `ocs inspect` knows about a model: inputs and outputs (name,
dtype, shape with None for an open dimension), node count, the layers of inspect(), and the
integer layers of an already quantized model.)",
        py::arg("model"));

  py::class_<ocs::InferenceSession>(m, "Session", R"(A model loaded once and run many times, as `ocs run` runs it.

Session(path, threads=2) plans the model; run({input name: ndarray}) returns {output name:
ndarray}. threads holds for this session's runs only (0 = all cores); reference=True runs the
plain reference kernels. The returned arrays are read-only views of the engine's buffers.)")
      .def(py::init([](const std::string& path, int threads, bool reference) {
             py::gil_scoped_release nogil;
             return std::make_unique<ocs::InferenceSession>(path, ocs::SessionSettings{threads, reference});
           }),
           py::arg("path"), py::arg("threads") = 2, py::arg("reference") = false)
      .def(
          "run",
          [](ocs::InferenceSession& self, const py::dict& inputs) {
            std::vector<py::array> keep;
            ocs::Arrays views = views_of(inputs, "input", keep);
            ocs::Arrays outputs;
            {
              py::gil_scoped_release nogil;
              outputs = self.run(views);
            }
            return to_dict(outputs);
          },
          R"(Run the model on {input name: ndarray}; returns {output name: ndarray} (every graph output).
Inputs must have the element type and shape the model declares (ValueError otherwise).)",
          py::arg("inputs"))
      .def_property_readonly("inputs", [](const ocs::InferenceSession& self) { return tensor_infos(self.inputs()); },
                             "The graph inputs: dicts of name, dtype and shape (None for an open dimension).")
      .def_property_readonly("outputs", [](const ocs::InferenceSession& self) { return tensor_infos(self.outputs()); },
                             "The graph outputs, as inputs describes them.");
}
