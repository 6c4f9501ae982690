// The JSON report against docs/report-schema.json. A small checker covers
// the parts of JSON Schema the document uses (type, required, properties,
// items, additionalProperties, $ref, const, enum, minimum), so every
// required key the schema lists is checked without a schema library.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>

#include "report/analysis/analysis.h"
#include "report/render/json_report.h"
#include "trace_builder.h"

using namespace oomtrace;
using namespace oomtrace::test;
using nlohmann::json;

namespace {

json load_schema() {
  std::ifstream in(OOMTRACE_REPORT_SCHEMA);
  REQUIRE(in.good());
  return json::parse(in);
}

bool has_type(const json& value, const std::string& type) {
  if (type == "null") return value.is_null();
  if (type == "boolean") return value.is_boolean();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "string") return value.is_string();
  if (type == "array") return value.is_array();
  if (type == "object") return value.is_object();
  return false;
}

class SchemaChecker {
 public:
  explicit SchemaChecker(json root) : root_(std::move(root)) {}

  // Every mismatch, as "path: what"; empty when the value conforms.
  std::vector<std::string> check(const json& value) {
    problems_.clear();
    visit(root_, value, "$");
    return problems_;
  }

 private:
  const json& resolve(const json& schema) {
    std::string ref = schema.at("$ref").get<std::string>();
    REQUIRE(ref.rfind("#/$defs/", 0) == 0);
    return root_.at("$defs").at(ref.substr(8));
  }

  void visit(const json& schema, const json& value, const std::string& path) {
    if (schema.contains("$ref")) visit(resolve(schema), value, path);
    check_type(schema, value, path);
    if (schema.contains("const") && value != schema["const"]) problem(path, "is not " + schema["const"].dump());
    if (schema.contains("enum") && std::find(schema["enum"].begin(), schema["enum"].end(), value) == schema["enum"].end()) {
      problem(path, "is not one of " + schema["enum"].dump());
    }
    if (schema.contains("minimum") && value.is_number() && value.get<double>() < schema["minimum"].get<double>()) {
      problem(path, "is below the minimum");
    }
    if (value.is_object()) visit_object(schema, value, path);
    if (value.is_array() && schema.contains("items")) {
      for (size_t i = 0; i < value.size(); ++i) visit(schema["items"], value[i], path + "[" + std::to_string(i) + "]");
    }
  }

  void check_type(const json& schema, const json& value, const std::string& path) {
    if (!schema.contains("type")) return;
    const json& type = schema["type"];
    bool ok = false;
    if (type.is_string()) ok = has_type(value, type.get<std::string>());
    for (const json& one : type.is_array() ? type : json::array()) ok = ok || has_type(value, one.get<std::string>());
    if (!ok) problem(path, "has type " + std::string(value.type_name()) + ", expected " + type.dump());
  }

  void visit_object(const json& schema, const json& value, const std::string& path) {
    for (const json& key : schema.value("required", json::array())) {
      if (!value.contains(key.get<std::string>())) problem(path, "lacks required key " + key.dump());
    }
    const json properties = schema.value("properties", json::object());
    for (const auto& [key, member] : value.items()) {
      if (properties.contains(key)) {
        visit(properties[key], member, path + "." + key);
      } else if (schema.contains("additionalProperties") && schema["additionalProperties"].is_object()) {
        visit(schema["additionalProperties"], member, path + "." + key);
      }
    }
  }

  void problem(const std::string& path, const std::string& what) { problems_.push_back(path + ": " + what); }

  json root_;
  std::vector<std::string> problems_;
};

json report_json(const TraceBuilder& builder) {
  TempDir dir;
  // Through the rendered text, as a consumer of the file would see it.
  return json::parse(report::render_json(report::analyze(builder.build(dir.file("oomtrace.h.1.trace")))));
}

std::vector<std::pair<std::string, json>> sample_reports() {
  std::vector<std::pair<std::string, json>> samples;

  TraceBuilder quiet;
  quiet.process(1).device(0, 8 * GiB).alloc(0, 0x1000, 1 * GiB).free(0, 0x1000).finish();
  samples.emplace_back("no failure", report_json(quiet));

  TraceBuilder exhausted;
  exhausted.process(1)
      .device(0, 16 * GiB)
      .setting("PYTORCH_CUDA_ALLOC_CONF", "max_split_size_mb:128")
      .frame(1, 0x7f00, "libc10_cuda.so", "c10::cuda::CUDACachingAllocator::malloc", 0x10)
      .stack(2, {1})
      .alloc(0, 0x1000, 12 * GiB, Api::cudaMalloc, 2);
  FailureSpec spec;
  spec.request = 4 * GiB;
  spec.total = 16 * GiB;
  spec.free = 3 * GiB;
  spec.nvml_known = true;
  spec.processes = {{1, 12 * GiB}, {99, 512 * MiB}};
  spec.stack_id = 2;
  exhausted.fail(spec).alloc(0, 0x9000, 1 * GiB).finish("exit");
  samples.emplace_back("exhausted, recovered", report_json(exhausted));

  TraceBuilder unknown;
  FailureSpec blind;
  blind.request = 1 * GiB;
  blind.device_info_known = false;
  unknown.alloc(0, 0x1000, 1 * GiB).fail(blind);  // no process record, killed
  samples.emplace_back("unknown device, killed", report_json(unknown));

  trace::ProcessInfo worker;
  worker.pid = 7;
  worker.host = "node3";
  worker.rank = 11;
  worker.local_rank = 3;
  worker.world_size = 16;
  TraceBuilder ranked;
  ranked.process(worker).device(0, 8 * GiB).alloc(0, 0x1000, 1 * GiB).finish();
  samples.emplace_back("a rank of a distributed job", report_json(ranked));
  return samples;
}

}  // namespace

TEST_CASE("the JSON report has every field the schema requires", "[json]") {
  json schema = load_schema();
  CHECK(schema.at("$schema") == "https://json-schema.org/draft/2020-12/schema");
  CHECK(schema.at("properties").at("schema").at("const") == report::kReportSchema);
  SchemaChecker checker(schema);
  for (const auto& [name, report] : sample_reports()) {
    INFO(name << ": " << report.dump(2));
    std::vector<std::string> problems = checker.check(report);
    for (const std::string& problem : problems) UNSCOPED_INFO(problem);
    CHECK(problems.empty());
  }
}

TEST_CASE("the checker catches a missing or mistyped field", "[json]") {
  SchemaChecker checker(load_schema());
  json report = sample_reports()[1].second;
  report["failures"][0].erase("recovered");
  report["trace"]["complete"] = "yes";
  std::vector<std::string> problems = checker.check(report);
  REQUIRE(problems.size() == 2);
  CHECK_THAT(problems[0] + problems[1], Catch::Contains("recovered") && Catch::Contains("complete"));
}

TEST_CASE("unknown figures are null in JSON, not zero", "[json]") {
  json report = sample_reports()[2].second;
  const json& failure = report.at("failures").at(0);
  CHECK(failure.at("verdict").is_null());
  CHECK(failure.at("device_free_bytes").is_null());
  CHECK(failure.at("other_bytes").is_null());
  CHECK(failure.at("process_allocated_bytes").is_null());
  CHECK(report.at("process").at("pid").is_null());
  CHECK(report.at("process").at("rank").is_null());
  CHECK(report.at("process").at("world_size").is_null());
  CHECK(report.at("trace").at("exit_reason").is_null());
  CHECK(report.at("trace").at("complete") == false);

  json recovered = sample_reports()[1].second;
  CHECK(recovered.at("failures").at(0).at("verdict") == "exhausted");
  CHECK(recovered.at("failures").at(0).at("recovered") == true);
  CHECK(recovered.at("failures").at(0).at("other_processes").size() == 1);
  CHECK(recovered.at("settings").at("PYTORCH_CUDA_ALLOC_CONF") == "max_split_size_mb:128");

  json ranked = sample_reports()[3].second;
  CHECK(ranked.at("process").at("rank") == 11);
  CHECK(ranked.at("process").at("local_rank") == 3);
  CHECK(ranked.at("process").at("world_size") == 16);
}
