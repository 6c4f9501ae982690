#include "trace/writer.h"

#include <cstring>

#include "trace/encoding.h"
#include "trace/event_codec.h"

namespace oomtrace::trace {

bool TraceWriter::create(const std::string& path) {
  if (!sink_.create(path)) return false;
  std::string header(kMagic, sizeof kMagic);
  header.push_back(static_cast<char>(kFormatMajor & 0xff));
  header.push_back(static_cast<char>(kFormatMajor >> 8));
  header.push_back(static_cast<char>(kFormatMinor & 0xff));
  header.push_back(static_cast<char>(kFormatMinor >> 8));
  header.append(4, '\0');
  healthy_ = sink_.append(header);
  return true;
}

void TraceWriter::emit(RecordType type) {
  if (!healthy_) return;
  healthy_ = sink_.append_record(static_cast<uint8_t>(type), payload_);
}

void TraceWriter::write_process(const ProcessInfo& process) {
  Encoder out(payload_);
  out.u64(process.pid);
  out.u64(process.ppid);
  out.str(process.host);
  out.str(process.executable);
  out.u64(process.start_unix_ns);
  out.u64(process.argv.size());
  for (const std::string& arg : process.argv) out.str(arg);
  // 1.4: appended, each as value + 1 so that 0 says "unknown".
  for (const std::optional<uint32_t>& field : {process.rank, process.local_rank, process.world_size}) {
    out.u64(field ? uint64_t{*field} + 1 : 0);
  }
  emit(RecordType::Process);
}

void TraceWriter::write_device(const DeviceInfo& device) {
  Encoder out(payload_);
  out.i64(device.index);
  out.str(device.name);
  out.u64(device.total_bytes);
  out.str(device.pci_bus_id);
  emit(RecordType::Device);
}

void TraceWriter::write_frame(const FrameInfo& frame) {
  Encoder out(payload_);
  out.u64(frame.id);
  out.u64(frame.address);
  out.str(frame.module);
  out.str(frame.symbol);
  out.u64(frame.offset);
  emit(RecordType::Frame);
}

void TraceWriter::write_module(const ModuleInfo& module) {
  Encoder out(payload_);
  out.str(module.path);
  out.u64(module.load_bias);
  out.u64(module.start);
  out.u64(module.end);
  out.str(module.build_id);
  emit(RecordType::Module);
}

void TraceWriter::write_stack(const StackInfo& stack) {
  Encoder out(payload_);
  out.u64(stack.id);
  out.u64(stack.frames.size());
  for (uint32_t frame : stack.frames) out.u64(frame);
  emit(RecordType::Stack);
}

void TraceWriter::write_event(const Event& event) {
  uint8_t body[kMaxEventBytes];
  FixedEncoder out(body);
  encode_event(out, event);
  if (healthy_) healthy_ = sink_.append_record(static_cast<uint8_t>(RecordType::Event), out.bytes());
  ++events_;
}

void TraceWriter::write_failure(const FailureContext& failure) {
  Encoder out(payload_);
  encode_event(out, failure.event);
  out.u64(failure.device_info_known);
  out.u64(failure.device_total_bytes);
  out.u64(failure.device_free_bytes);
  out.u64(failure.process_reserved_bytes);
  out.u64(failure.process_segments);
  out.u64(failure.nvml_known);
  out.u64(failure.processes.size());
  for (const ProcessUsage& usage : failure.processes) {
    out.u64(usage.pid);
    out.u64(usage.used_bytes);
  }
  out.u64(failure.pool_known);
  out.u64(failure.pool_reserved_bytes);
  out.u64(failure.pool_used_bytes);
  emit(RecordType::Failure);
  ++events_;
}

void TraceWriter::write_setting(const Setting& setting) {
  Encoder out(payload_);
  out.str(setting.key);
  out.str(setting.value);
  emit(RecordType::Setting);
}

void TraceWriter::write_note(const std::string& note) {
  Encoder out(payload_);
  out.str(note);
  emit(RecordType::Note);
}

void TraceWriter::write_framework_error(const FrameworkError& error) {
  Encoder out(payload_);
  out.u64(error.time_ns);
  out.u64(error.thread);
  out.str(error.framework);
  out.str(error.message);
  emit(RecordType::FrameworkError);
}

void TraceWriter::write_attachment(const Attachment& attachment) {
  Encoder out(payload_);
  out.u64(attachment.time_ns);
  out.str(attachment.kind);
  out.str(attachment.path);
  emit(RecordType::Attachment);
}

void TraceWriter::write_attach(const AttachInfo& attach) {
  Encoder out(payload_);
  out.u64(attach.time_ns);
  out.u64(attach.unix_ns);
  out.u64(attach.devices.size());
  for (const AttachBaseline& device : attach.devices) {
    out.i64(device.device);
    out.u64(device.memory_known);
    out.u64(device.total_bytes);
    out.u64(device.free_bytes);
    out.u64(device.process_known);
    out.u64(device.process_used_bytes);
  }
  out.u64(attach.paths.size());
  for (const AttachPath& path : attach.paths) {
    out.str(path.name);
    out.u64(path.covered);
    out.str(path.detail);
  }
  out.u64(attach.outer_pid);
  emit(RecordType::Attach);
}

void TraceWriter::finish(const Trailer& trailer) {
  Encoder out(payload_);
  out.u64(trailer.events);
  out.u64(trailer.end_time_ns);
  out.str(trailer.exit_reason);
  emit(RecordType::Trailer);
  sink_.close();
}

}  // namespace oomtrace::trace
