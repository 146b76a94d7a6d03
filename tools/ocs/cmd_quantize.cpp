#include "analysis/integer_layers.h"
#include "commands.h"
#include "eval/sample_source_spec.h"
#include "onnx/onnx_io.h"
#include "recipe/quantizer.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

namespace ocs::cli {
namespace fs = std::filesystem;

Action add_quantize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "Split outlier channels, clip and quantize a float model; "
                                             "write the result as ONNX (QDQ or split float)");
  struct Options {
    std::string in, out, config;
    QuantizeOptions q;
    bool keep_float_ends = true;
    bool quantize_ends = false;
  };
  auto opt = std::make_shared<Options>();
  auto& q = opt->q;
  cmd->add_option("input", opt->in, "float ONNX model (never modified)")->required();
  cmd->add_option("output", opt->out, "quantized ONNX model to write")->required();
  cmd->add_option("--config", opt->config, "JSON file whose keys mirror the long flags (flags given on the command line win)");
  cmd->add_option("--calib", q.calib, "calibration data: fashion-mnist:train, FILE.npz or NAME=FILE.npy (samples on axis 0), images:DIR[,...] or text-lines:DIR (see ocs eval --help)");
  cmd->add_option("--calib-samples", q.calib_samples, "calibration samples (default 512, as in the paper)");
  cmd->add_option("--wbits", q.weight_bits, "weight bits, 2..16");
  cmd->add_option("--abits", q.activation_bits, "activation bits, 2..16 (0 keeps activations in float)");
  cmd->add_option("--ocs-ratio", q.ocs_ratio, "weight OCS expand ratio r: ceil(r * C_in) channels split per layer");
  cmd->add_option("--ocs-channel-multiple", q.ocs_channel_multiple,
                  "pad each weight-split layer with zero-weight input channels up to a multiple of N (default: "
                  "8 with --format qdq, where ONNX Runtime's fast int8 convolutions need it; 1, none, otherwise)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--act-ocs-ratio", q.act_ocs_ratio, "activation OCS expand ratio");
  cmd->add_option("--max-overhead", q.max_overhead, "PCT: at most PCT% more weights in the whole model from weight OCS; the splits go where they gain the most SQNR per weight added (the ratio still bounds each layer)");
  cmd->add_option("--split", q.split, "qa (quantization-aware, default) or naive");
  cmd->add_option("--wclip", q.weight_clip, "weight clip method (default max): max, mse, aciq, kl (the reference's definitions), mse-fine, aciq-std, kl-nonzero (our variants), percentile[:P]");
  cmd->add_option("--aclip", q.activation_clip, "activation clip method: as --wclip (default mse; the paper and ocs sweep use max)");
  cmd->add_option("--ocs-clip-on", q.ocs_clip_on, "with weight OCS and --wclip other than max: compute the weight threshold on the split weight (split, default) or on the unsplit weight (original, the reference's order)");
  cmd->add_flag("--per-channel", q.per_channel, "one weight scale per output channel (not the paper's setting)");
  cmd->add_flag("--unsigned-activations", q.unsigned_activations, "qdq-inputs: unsigned grid for activations after ReLU/Sigmoid/Clip(min>=0) (qdq does this by default)");
  cmd->add_flag("--signed-activations", q.signed_activations, "qdq: keep the signed grid after ReLU-like ops too");
  cmd->add_flag("--quantize-first-last", opt->quantize_ends, "also quantize the first conv and the last FC layer (the reference keeps them float)");
  cmd->add_option("--fix-input", q.fix_input, "NAME=VALUE: turn a one-number input into a constant first and inline the Ifs it decides (Silero VAD: sr=16000), so their branches are quantized too");
  cmd->add_option("--fix-shape", q.fix_shape, "NAME=D0xD1x...: give an input a static shape first (Silero VAD: input=1x512); the output model only takes that shape");
  cmd->add_flag("--no-fold-batchnorm{false}", q.fold_batchnorm, "keep BatchNormalization as a float op after the quantized layer (the reference's policy) instead of folding it into the weights");
  cmd->add_flag("--no-unroll{false}", q.unroll_recurrent, "leave LSTM/GRU nodes whole (float) instead of unrolling them per time step");
  cmd->add_option("--exclude", q.exclude, "node names to leave in float");
  cmd->add_option("--format", q.format, "qdq (default: deployable, runtimes fuse it into int8 kernels), qdq-inputs (the paper's layout: quantizers on layer inputs only) or split-float");
  cmd->add_option("--report", q.report, "JSON report path (default: OUTPUT with .report.json)");
  cmd->add_flag("--force", q.force, "overwrite OUTPUT if it exists");
  cmd->add_option("--threads", q.threads, "threads (default: all cores)");
  return [opt, cmd]() {
    QuantizeOptions options;
    if (!opt->config.empty()) {
      std::ifstream in(opt->config);
      if (!in) user_error("cannot open config file '{}'", opt->config);
      nlohmann::json config;
      try {
        in >> config;
      } catch (const nlohmann::json::exception& e) {
        user_error("config file '{}' is not valid JSON: {}", opt->config, e.what());
      }
      options.merge_json(config, opt->config);
    }
    // Command-line flags override the config file.
    QuantizeOptions defaults;
    nlohmann::json given = opt->q.to_json(), base = defaults.to_json();
    nlohmann::json flags = nlohmann::json::object();
    for (auto* o : cmd->get_options())
      if (o->count() > 0 && o->get_lnames().size() == 1) {
        std::string key = o->get_lnames()[0];
        std::replace(key.begin(), key.end(), '-', '_');
        if (given.contains(key)) flags[key] = given[key];
      }
    if (cmd->count("--quantize-first-last")) flags["keep_first_last_float"] = false;
    if (cmd->count("--no-unroll")) flags["unroll_recurrent"] = false;
    if (cmd->count("--no-fold-batchnorm")) flags["fold_batchnorm"] = false;
    options.merge_json(flags, "command line");
    options.validate();

    std::error_code ec;
    if (fs::exists(opt->out, ec) && fs::exists(opt->in, ec) && fs::equivalent(opt->in, opt->out, ec))
      user_error("the output '{}' is the input model; ocs never modifies its input, choose another name", opt->out);
    if (fs::exists(opt->out, ec) && !options.force)
      user_error("'{}' already exists; pass --force to overwrite it", opt->out);
    std::string report_path = options.report.empty() ? fs::path(opt->out).replace_extension(".report.json").string() : options.report;

    Graph graph = import_onnx_file(opt->in);
    refuse_quantized_model(graph, opt->in);
    std::unique_ptr<SampleSource> calib;
    if (!options.calib.empty()) calib = make_sample_source(options.calib, graph, options.calib_samples);
    QuantizeResult result = quantize_model(graph, options, calib.get());
    result.report["input"] = opt->in;
    result.report["output"] = opt->out;
    export_onnx_file(result.graph, opt->out, options.force);
    {
      std::ofstream out(report_path);
      if (!out) user_error("cannot write the report '{}'", report_path);
      out << result.report.dump(2) << "\n";
    }
    std::cout << quantize_report_table(result.report);
    std::cout << fmt::format("wrote {} and {}\n", opt->out, report_path);
    return 0;
  };
}

}  // namespace ocs::cli
