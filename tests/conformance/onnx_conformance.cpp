// Runs ONNX's backend test data (Debian's libonnx-testdata) through import and the engine.
//
//   ocs_conformance [--reference] [--round-trip] [--known-failures FILE] [--verbose] DIR...
//
// --round-trip exports each imported model and imports it again before running it.
//
// Each test folder holds model.onnx and test_data_set_*/input_N.pb, output_N.pb. A test is
// skipped when the model uses an op we do not implement or a type we do not hold (float16,
// strings, sequences); the skipped op types are listed. Every other test must match its expected
// outputs at ONNX's backend-test tolerances (rtol 1e-3, atol 1e-7), except those listed in the
// known-failures file, each with its reason. Exit 1 when a test fails that is not listed there,
// or when a listed test now passes (so the list never goes stale).
#include "engine/session.h"
#include "onnx/onnx_io.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

namespace fs = std::filesystem;
using namespace ocs;

namespace {

constexpr double kRtol = 1e-3;
constexpr double kAtol = 1e-7;

enum class Outcome { Pass, Fail, Skip };

struct Result {
  Outcome outcome = Outcome::Skip;
  std::string detail;
};

std::string compare(const Tensor& got, const Tensor& want) {
  if (got.shape() != want.shape())
    return fmt::format("shape {} vs expected {}", shape_str(got.shape()), shape_str(want.shape()));
  if (got.dtype() != want.dtype())
    return fmt::format("type {} vs expected {}", dtype_name(got.dtype()), dtype_name(want.dtype()));
  auto g = got.to_double_vector();
  auto w = want.to_double_vector();
  for (size_t i = 0; i < g.size(); ++i) {
    if (std::isnan(w[i]) && std::isnan(g[i])) continue;
    if (std::isinf(w[i]) && g[i] == w[i]) continue;
    if (!(std::fabs(g[i] - w[i]) <= kAtol + kRtol * std::fabs(w[i])))
      return fmt::format("element {}: got {} expected {}", i, g[i], w[i]);
  }
  return "";
}

Result run_test(const fs::path& dir, bool reference, bool round_trip,
                std::map<std::string, int>& skipped_ops) {
  Graph graph;
  try {
    graph = import_onnx_file(dir / "model.onnx");
  } catch (const UserError& e) {
    std::string msg = e.what();
    if (msg.find("does not implement") != std::string::npos) {
      // Lines "  op 'node'" follow the message; count op types.
      size_t pos = 0;
      std::set<std::string> ops;
      while ((pos = msg.find("\n  ", pos)) != std::string::npos) {
        pos += 3;
        ops.insert(msg.substr(pos, msg.find(' ', pos) - pos));
      }
      for (const auto& op : ops) ++skipped_ops[op];
      return {Outcome::Skip, "unsupported op"};
    }
    if (msg.find("does not support") != std::string::npos) return {Outcome::Skip, msg};
    return {Outcome::Fail, "import: " + msg};
  }
  if (round_trip) {
    // Export and import again: the exported model must behave exactly like the original.
    try {
      graph = import_onnx_bytes(export_onnx_bytes(graph), dir, "round trip of " + dir.string());
    } catch (const std::exception& e) {
      return {Outcome::Fail, std::string("round trip: ") + e.what()};
    }
  }
  auto shared = std::make_shared<const Graph>(std::move(graph));
  std::unique_ptr<Session> session;
  try {
    session = std::make_unique<Session>(shared, SessionOptions{reference, 0});
  } catch (const std::exception& e) {
    return {Outcome::Fail, std::string("plan: ") + e.what()};
  }
  int sets = 0;
  for (int s = 0;; ++s) {
    fs::path data = dir / fmt::format("test_data_set_{}", s);
    if (!fs::exists(data)) break;
    ++sets;
    std::map<std::string, Tensor> inputs;
    try {
      for (size_t i = 0; i < shared->inputs.size(); ++i) {
        fs::path p = data / fmt::format("input_{}.pb", i);
        if (!fs::exists(p)) break;
        inputs[shared->values[shared->inputs[i]].name] = read_tensor_proto_file(p);
      }
    } catch (const UserError& e) {
      return {Outcome::Skip, e.what()};
    }
    std::vector<Tensor> outputs;
    try {
      outputs = session->run(inputs);
    } catch (const std::exception& e) {
      return {Outcome::Fail, std::string("run: ") + e.what()};
    }
    for (size_t o = 0; o < outputs.size(); ++o) {
      fs::path p = data / fmt::format("output_{}.pb", o);
      if (!fs::exists(p)) continue;
      Tensor want;
      try {
        want = read_tensor_proto_file(p);
      } catch (const UserError& e) {
        return {Outcome::Skip, e.what()};
      }
      std::string diff = compare(outputs[o], want);
      if (!diff.empty()) return {Outcome::Fail, fmt::format("output {}: {}", o, diff)};
    }
  }
  if (sets == 0) return {Outcome::Skip, "no test data"};
  return {Outcome::Pass, ""};
}

std::map<std::string, std::string> read_known_failures(const fs::path& file) {
  std::map<std::string, std::string> known;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.find_first_of(" \t");
    known[line.substr(0, space)] = space == std::string::npos ? "" : line.substr(space + 1);
  }
  return known;
}

}  // namespace

int main(int argc, char** argv) {
  bool reference = false, verbose = false, round_trip = false;
  fs::path known_file;
  std::vector<fs::path> roots;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--reference") reference = true;
    else if (arg == "--verbose") verbose = true;
    else if (arg == "--round-trip") round_trip = true;
    else if (arg == "--known-failures" && i + 1 < argc) known_file = argv[++i];
    else roots.emplace_back(arg);
  }
  auto known = known_file.empty() ? std::map<std::string, std::string>{} : read_known_failures(known_file);
  int passed = 0, failed = 0, skipped = 0, unexpected = 0;
  std::map<std::string, int> skipped_ops;
  for (const auto& root : roots) {
    if (!fs::exists(root)) {
      std::cerr << "conformance data folder " << root << " is missing; install libonnx-testdata\n";
      return 2;
    }
    std::vector<fs::path> dirs;
    for (const auto& entry : fs::directory_iterator(root))
      if (fs::exists(entry.path() / "model.onnx")) dirs.push_back(entry.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& dir : dirs) {
      std::string name = root.filename().string() + "/" + dir.filename().string();
      Result r = run_test(dir, reference, round_trip, skipped_ops);
      bool listed = known.count(name) != 0;
      if (r.outcome == Outcome::Pass) {
        ++passed;
        if (listed) {
          ++unexpected;
          std::cout << "UNEXPECTED PASS " << name << " (remove it from the known failures)\n";
        }
      } else if (r.outcome == Outcome::Fail) {
        ++failed;
        if (!listed) ++unexpected;
        if (!listed || verbose) std::cout << (listed ? "known fail " : "FAIL ") << name << ": " << r.detail << "\n";
      } else {
        ++skipped;
        if (verbose) std::cout << "skip " << name << ": " << r.detail << "\n";
      }
    }
  }
  std::cout << "skipped op types:";
  for (const auto& [op, count] : skipped_ops) std::cout << " " << op << "(" << count << ")";
  std::cout << "\n" << unexpected << " unexpected results (failures not in the known list, or listed tests that pass)\n";
  std::cout << "conformance: " << passed << " passed, " << failed << " failed, " << skipped << " skipped\n";
  return unexpected == 0 ? 0 : 1;
}
