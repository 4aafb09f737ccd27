// TFLite layer conformance: every case file under ../shared/testdata/tflite-int/layers and
// models, bit-exact, on every ISA this machine runs, through the qk layers (qk/layers/).
//
// The folder is QK_TFLITE_TESTDATA (CMake), or the environment variable QK_TFLITE_DIR when set.
// A folder that does not exist is skipped with a warning (a user's machine), except under CI
// (environment variable CI set), where it fails. Cases are found by their `op` field: every
// *.json file of the two folders runs, and a file whose op this test does not know FAILS (never
// skipped), so that new cases of known ops, and cases of ops without vectors today, are checked
// too. The counts held today (kMinimumCases) guard against an incomplete copy of the folder.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/isa_sweep.hpp"
#include "common/test_data.hpp"
#include "layers/tflite_cases.hpp"

namespace {

struct OpRunner {
  const char* op;
  qk_test::CaseRunner run;
};
constexpr OpRunner kRunners[] = {
    {"average_pool2d", qk_test::run_average_pool2d_case},
    {"max_pool2d", qk_test::run_max_pool2d_case},
    {"add", qk_test::run_add_case},
    {"mul", qk_test::run_mul_case},
    {"maximum", qk_test::run_maximum_case},
    {"minimum", qk_test::run_minimum_case},
    {"pad", qk_test::run_pad_case},
    {"softmax", qk_test::run_softmax_case},
    {"batch_matmul", qk_test::run_batch_matmul_case},
    {"conv2d", qk_test::run_conv2d_case},
    {"depthwise_conv2d", qk_test::run_depthwise_conv2d_case},
    {"fully_connected", qk_test::run_fully_connected_case},
    {"model", qk_test::run_model_case},
};

qk_test::CaseRunner runner_for(const std::string& op) {
  for (const OpRunner& r : kRunners)
    if (op == r.op) return r.run;
  return nullptr;
}

// What the folders held when this test was written: fewer cases of an op is an incomplete copy.
struct MinimumCases {
  const char* op;
  int count;
};
constexpr MinimumCases kMinimumCases[] = {
    {"average_pool2d", 5}, {"max_pool2d", 7}, {"maximum", 6}, {"minimum", 6}, {"batch_matmul", 4},
    {"softmax", 1},        {"mul", 1},        {"pad", 1},     {"model", 1},
};

std::string tflite_dir() {
  const char* env = std::getenv("QK_TFLITE_DIR");
  return env != nullptr && *env != '\0' ? std::string(env) : std::string(QK_TFLITE_TESTDATA);
}

std::vector<std::string> json_files(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) out.push_back(dir + "/" + name);
  }
  closedir(d);
  return out;
}

}  // namespace

TEST_CASE("every TFLite layer and model case passes bit-exactly on every ISA", "[layers][tflite]") {
  const std::string root = tflite_dir();
  if (qk_test::skip_missing_data(root + "/layers", "TFLite layer vectors")) return;
  std::vector<std::string> files = json_files(root + "/layers");
  if (!qk_test::skip_missing_data(root + "/models", "TFLite model vectors")) {
    const std::vector<std::string> models = json_files(root + "/models");
    files.insert(files.end(), models.begin(), models.end());
  }
  struct Case {
    std::string file, op;
    nlohmann::json j;
  };
  std::vector<Case> cases;
  std::map<std::string, int> counts;
  for (const std::string& file : files) {
    INFO("file " << file);
    std::ifstream in(file);
    REQUIRE(in.good());
    Case c;
    c.file = file;
    c.j = nlohmann::json::parse(in, nullptr, false);
    REQUIRE(!c.j.is_discarded());
    REQUIRE(c.j.is_object());
    REQUIRE(c.j.contains("op"));
    c.op = c.j.at("op").get<std::string>();
    INFO("op " << c.op);
    if (runner_for(c.op) == nullptr)
      FAIL("no qk layer runs op '" << c.op << "': this test must learn it (never skip a case)");
    ++counts[c.op];
    cases.push_back(std::move(c));
  }
  // The ISA loop outside the case loop: Catch2 runs each ISA's section once, over every case.
  QK_FOR_EACH_ISA(isa) {
    for (const Case& c : cases) {
      INFO("file " << c.file << " (op " << c.op << ")");
      runner_for(c.op)(c.j);
    }
    WARN("TFLite layers (" << qk::isa_name(isa) << "): " << cases.size() << " cases bit-exact");
  }
  for (const MinimumCases& m : kMinimumCases) {
    INFO("op " << m.op);
    CHECK(counts[m.op] >= m.count);
  }
}
