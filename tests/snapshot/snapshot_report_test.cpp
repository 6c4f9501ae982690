// The report with PyTorch snapshots in it: a snapshot read on its own, and
// snapshots a trace lists as attachments, which fill the figures of the
// failures they follow. Traces are written through the real writer.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>

#include "report/analysis/analysis.h"
#include "report/render/json_report.h"
#include "report/render/snapshot_report.h"
#include "report/render/text_report.h"
#include "report/snapshot/torch_snapshot_file.h"
#include "test_files.h"
#include "trace/writer.h"

using namespace oomtrace;
using namespace oomtrace::report;
using namespace oomtrace::test;
using json = nlohmann::ordered_json;
using namespace std::string_literals;

namespace {

constexpr uint64_t kSecond = 1000000000;
const char kEor[] = "eor_nn_snapshot.pickle";  // GPU 0: 48760832 allocated, largest free 20971520

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

bool any_note(const Report& report, const std::string& part) {
  for (const std::string& note : report.notes) {
    if (contains(note, part)) return true;
  }
  return false;
}

// Every key the schema requires, wherever the report has the object: enough
// to catch a renderer and docs/report-schema.json drifting apart.
void check_required(const json& schema, const json& root, const json& value, const std::string& where) {
  if (schema.contains("$ref")) {
    std::string name = schema["$ref"].get<std::string>().substr(std::string("#/$defs/").size());
    return check_required(root["$defs"][name], root, value, where);
  }
  if (value.is_object()) {
    for (const json& key : schema.value("required", json::array())) {
      INFO(where);
      CHECK(value.contains(key.get<std::string>()));
    }
    const json properties = schema.value("properties", json::object());  // kept alive for items()
    for (const auto& [key, property] : properties.items()) {
      if (value.contains(key)) check_required(property, root, value[key], where + "." + key);
    }
  }
  if (value.is_array() && schema.contains("items")) {
    for (size_t i = 0; i < value.size(); ++i) check_required(schema["items"], root, value[i], where + "[" + std::to_string(i) + "]");
  }
}

void check_against_schema(const json& report) {
  std::ifstream in(OOMTRACE_REPORT_SCHEMA);
  REQUIRE(in.good());
  json schema = json::parse(in);
  REQUIRE(schema["properties"].contains("pytorch"));
  REQUIRE(schema["properties"].contains("input"));
  check_required(schema, schema, report, "$");
}

trace::FailureContext failure_at(uint64_t time_ns, int device = 0) {
  trace::FailureContext failure;
  failure.event.type = EventType::AllocFailed;
  failure.event.api = Api::cudaMalloc;
  failure.event.device = static_cast<int16_t>(device);
  failure.event.result = 2;  // cudaErrorMemoryAllocation
  failure.event.size = 30 << 20;
  failure.event.time_ns = time_ns;
  failure.event.thread = 7;
  failure.device_info_known = true;
  failure.device_total_bytes = uint64_t{16} << 30;
  failure.device_free_bytes = 20 << 20;
  failure.process_reserved_bytes = 134217728;
  failure.process_segments = 10;
  return failure;
}

trace::Attachment attachment_at(uint64_t time_ns, const std::string& path, const std::string& kind = "torch_snapshot") {
  return trace::Attachment{time_ns, kind, path};
}

// A complete trace of one process on one 16 GiB GPU, with the given records.
Report analyzed(const std::string& path, const std::function<void(trace::TraceWriter&)>& records) {
  trace::TraceWriter writer;
  REQUIRE(writer.create(path));
  writer.write_process({4242, 1, "testhost", "/usr/bin/python3", {"python3", "train.py"}, 0});
  writer.write_device({0, "Fake GPU", uint64_t{16} << 30, ""});
  records(writer);
  writer.finish({writer.events_written(), 10 * kSecond, "exit"});
  trace::ReadResult read = trace::read_trace(path);
  INFO(read.error);
  REQUIRE(read.trace.has_value());
  return analyze(*read.trace);
}

void copy_fixture(const std::string& name, const std::string& to) {
  std::vector<uint8_t> bytes = read_file(fixture_path(name));
  write_file(to, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace

TEST_CASE("a snapshot read on its own makes a report", "[snapshot][report]") {
  TorchSnapshotResult loaded = load_torch_snapshot(fixture_path(kEor));
  REQUIRE(loaded.snapshot.has_value());
  Report report = report_from_torch_snapshot(fixture_path(kEor), *loaded.snapshot);
  CHECK(report.input == ReportInput::TorchSnapshot);
  CHECK(report.failures.empty());

  json out = to_json(report);
  check_against_schema(out);
  CHECK(out["input"] == "torch_snapshot");
  REQUIRE(out["pytorch"].size() == 1);
  const json& snapshot = out["pytorch"][0];
  CHECK(snapshot["time_ns"].is_null());
  CHECK(snapshot["format"] == "current");
  const json& gpu = snapshot["devices"][0];
  CHECK(gpu["reserved_bytes"] == 134217728);
  CHECK(gpu["allocated_bytes"] == 48760832);
  CHECK(gpu["cached_free_bytes"] == 85456896);
  CHECK(gpu["largest_free_block_bytes"] == 20971520);
  CHECK(gpu["fragmentation"].get<double>() == Approx(31487.0 / 41727.0).epsilon(1e-15));
  CHECK(gpu["segments"]["small"] == 4);
  CHECK(gpu["blocks"]["inactive"]["count"] == 14);
  CHECK(gpu["trace_actions"]["alloc"] == 1935);
  CHECK(gpu["top_sites"][0]["bytes"] == 15728640);

  std::string text = render_text(report);
  CHECK(text.rfind("PyTorch memory snapshot (current format): ", 0) == 0);
  CHECK(contains(text, "GPU 0: 128.00 MiB reserved in 10 segments (6 large, 4 small)\n"));
  CHECK(contains(text, "  allocated: 46.50 MiB in 40 blocks\n"));
  CHECK(contains(text, "  cached free: 81.50 MiB in 14 free blocks, the largest 20.00 MiB\n"));
  CHECK(contains(text, "  fragmentation: 75.5%\n"));
  CHECK(contains(text, "counterfactuals.py:102 in generate_counterfactuals"));
  CHECK(contains(text, "\nFull report: oomtrace report --format json "));
}

TEST_CASE("an attached snapshot fills the figures of the failures before it", "[snapshot][report]") {
  TempFolder folder;
  copy_fixture(kEor, folder.file("run.oom1.snapshot.pickle"));
  // Two failures (PyTorch's first try and its retry after emptying the
  // cache), the snapshot PyTorch saved before raising, then a later failure
  // with no snapshot after it.
  Report report = analyzed(folder.file("run.trace"), [](trace::TraceWriter& out) {
    out.write_failure(failure_at(1 * kSecond));
    out.write_failure(failure_at(1 * kSecond + 1000));
    out.write_attachment(attachment_at(kSecond + kSecond / 2, "run.oom1.snapshot.pickle"));
    out.write_failure(failure_at(2 * kSecond));
  });

  REQUIRE(report.failures.size() == 3);
  for (size_t i : {0, 1}) {
    const FailureReport& failure = report.failures[i];
    CHECK(failure.process_allocated_bytes == uint64_t{48760832});
    CHECK(failure.largest_free_block_bytes == uint64_t{20971520});
    REQUIRE(failure.fragmentation.has_value());
    CHECK(*failure.fragmentation == Approx(31487.0 / 41727.0).epsilon(1e-15));
  }
  CHECK_FALSE(report.failures[2].process_allocated_bytes.has_value());
  CHECK_FALSE(report.failures[2].fragmentation.has_value());

  REQUIRE(report.pytorch.size() == 1);
  CHECK(report.pytorch[0].path == folder.file("run.oom1.snapshot.pickle"));
  CHECK(report.pytorch[0].time_ns == kSecond + kSecond / 2);
  CHECK(report.pytorch[0].failures == std::vector<size_t>{0, 1});
  CHECK(any_note(report, "process_allocated_bytes is null"));  // the third failure

  json out = to_json(report);
  check_against_schema(out);
  CHECK(out["input"] == "trace");
  CHECK(out["failures"][0]["process_allocated_bytes"] == 48760832);
  CHECK(out["failures"][2]["process_allocated_bytes"].is_null());
  CHECK(out["pytorch"][0]["failures"] == json::array({0, 1}));
  CHECK(out["pytorch"][0]["time_ns"] == kSecond + kSecond / 2);

  std::string text = render_text(report);
  CHECK(contains(text, "PyTorch memory snapshot (current format): " + folder.file("run.oom1.snapshot.pickle") +
                           "\nSaved at 1.500 s, for the failures at 1.000 s, 1.000 s.\n"));
  CHECK(contains(text, "GPU 0: 128.00 MiB reserved in 10 segments"));
}

TEST_CASE("a trace without failures still shows its snapshot", "[snapshot][report]") {
  TempFolder folder;
  copy_fixture("yiyi_oom_snapshot.pickle", folder.file("end.pickle"));
  Report report = analyzed(folder.file("run.trace"), [&](trace::TraceWriter& out) {
    out.write_attachment(attachment_at(kSecond, folder.file("end.pickle")));  // absolute path
  });
  REQUIRE(report.pytorch.size() == 1);
  CHECK(report.pytorch[0].failures.empty());
  CHECK(report.pytorch[0].analysis.devices.at(0).allocated_bytes == 11840159744);
  CHECK_FALSE(any_note(report, "process_allocated_bytes is null"));
  CHECK(contains(render_text(report), "end.pickle\nSaved at 1.000 s.\n"));
}

TEST_CASE("a missing or hostile attachment is a note, never a failure", "[snapshot][report]") {
  TempFolder folder;
  // pickle.dumps of an object whose __reduce__ calls os.system("id").
  write_file(folder.file("evil.pickle"), "\x80\x02" "cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03."s);
  write_file(folder.file("notes.txt"), "not a pickle");
  Report report = analyzed(folder.file("run.trace"), [](trace::TraceWriter& out) {
    out.write_failure(failure_at(1 * kSecond));
    out.write_attachment(attachment_at(2 * kSecond, "gone.pickle"));
    out.write_failure(failure_at(3 * kSecond));
    out.write_attachment(attachment_at(4 * kSecond, "evil.pickle"));
    out.write_attachment(attachment_at(5 * kSecond, "notes.txt", "text_notes"));  // another kind: ignored
  });
  CHECK(report.pytorch.empty());
  for (const FailureReport& failure : report.failures) CHECK_FALSE(failure.process_allocated_bytes.has_value());
  CHECK(any_note(report, "The PyTorch snapshot attached at 2.000 s was not used: " + folder.file("gone.pickle") +
                             ": No such file or directory."));
  CHECK(any_note(report, "The PyTorch snapshot attached at 4.000 s was not used: " + folder.file("evil.pickle") +
                             ": refusing to load: the pickle calls posix.system; only plain data is read."));
  CHECK_FALSE(any_note(report, "notes.txt"));
}

TEST_CASE("a snapshot without the failure's device leaves its figures unknown", "[snapshot][report]") {
  TempFolder folder;
  copy_fixture(kEor, folder.file("snap.pickle"));
  Report report = analyzed(folder.file("run.trace"), [](trace::TraceWriter& out) {
    out.write_failure(failure_at(1 * kSecond, 1));
    out.write_attachment(attachment_at(2 * kSecond, "snap.pickle"));
  });
  REQUIRE(report.failures.size() == 1);
  CHECK_FALSE(report.failures[0].process_allocated_bytes.has_value());
  REQUIRE(report.pytorch.size() == 1);
  CHECK(report.pytorch[0].failures.empty());
  CHECK(any_note(report, "has nothing on GPU 1, the device of the failure at 1.000 s"));
}

TEST_CASE("a snapshot file is told from a trace and read with bounds", "[snapshot][report]") {
  TempFolder folder;
  CHECK(file_starts_like_pickle(fixture_path(kEor)));
  write_file(folder.file("x.trace"), "OOMTRACE\x01");
  CHECK_FALSE(file_starts_like_pickle(folder.file("x.trace")));
  CHECK_FALSE(file_starts_like_pickle(folder.file("missing")));
  CHECK_FALSE(file_starts_like_pickle(folder.path()));

  TorchSnapshotResult folder_read = load_torch_snapshot(folder.path());
  CHECK(folder_read.error == folder.path() + ": not a regular file");
  // A cut-short snapshot is one error naming the file.
  std::vector<uint8_t> bytes = read_file(fixture_path(kEor));
  write_file(folder.file("cut.pickle"), std::string_view(reinterpret_cast<const char*>(bytes.data()), 5000));
  TorchSnapshotResult cut = load_torch_snapshot(folder.file("cut.pickle"));
  REQUIRE_FALSE(cut.snapshot.has_value());
  CHECK(cut.error.rfind(folder.file("cut.pickle") + ": not a readable pickle: ", 0) == 0);
}
