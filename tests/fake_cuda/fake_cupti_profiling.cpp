// CUPTI's profiling interfaces (activity records, events, metrics), which
// PyTorch's profiler (Kineto) binds when torch is imported: the wheels link
// libcupti, so every name they import must exist for the import to succeed
// (the list: nm -D --undefined-only over torch/lib/*.so). The simulated
// device has no hardware counters and records no activity, so each answers
// CUPTI_ERROR_NOT_SUPPORTED, as CUPTI does on a device it cannot profile;
// torch.profiler then runs without CUDA activity, as it would there.
#include <cupti.h>

#include "fake_cupti_export.h"

namespace {
constexpr CUptiResult kUnsupported = CUPTI_ERROR_NOT_SUPPORTED;
}  // namespace

FAKE_CUPTI_EXPORT CUptiResult cuptiActivityEnable(CUpti_ActivityKind) { return kUnsupported; }
FAKE_CUPTI_EXPORT CUptiResult cuptiActivityDisable(CUpti_ActivityKind) { return kUnsupported; }
FAKE_CUPTI_EXPORT CUptiResult cuptiActivityEnableCudaEventDeviceTimestamps(uint8_t) { return kUnsupported; }
FAKE_CUPTI_EXPORT CUptiResult cuptiActivityEnableDriverApi(CUpti_CallbackId, uint8_t) { return kUnsupported; }
FAKE_CUPTI_EXPORT CUptiResult cuptiActivityEnableRuntimeApi(CUpti_CallbackId, uint8_t) { return kUnsupported; }
// Nothing was recorded, so there is nothing to flush: a profiler that
// flushes at its end must not see an error for it.
FAKE_CUPTI_EXPORT CUptiResult cuptiActivityFlushAll(uint32_t) { return CUPTI_SUCCESS; }
FAKE_CUPTI_EXPORT CUptiResult cuptiActivityGetNextRecord(uint8_t*, size_t, CUpti_Activity**) {
  return CUPTI_ERROR_MAX_LIMIT_REACHED;  // the end of an (empty) buffer
}
FAKE_CUPTI_EXPORT CUptiResult cuptiActivityGetNumDroppedRecords(CUcontext, uint32_t, size_t* dropped) {
  if (dropped == nullptr) return CUPTI_ERROR_INVALID_PARAMETER;
  *dropped = 0;
  return CUPTI_SUCCESS;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiActivityPushExternalCorrelationId(CUpti_ExternalCorrelationKind, uint64_t) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiActivityPopExternalCorrelationId(CUpti_ExternalCorrelationKind, uint64_t*) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiActivityRegisterCallbacks(CUpti_BuffersCallbackRequestFunc,
                                                             CUpti_BuffersCallbackCompleteFunc) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiActivityRegisterTimestampCallback(CUpti_TimestampCallbackFunc) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiActivitySetAttribute(CUpti_ActivityAttribute, size_t*, void*) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiGetDeviceId(CUcontext, uint32_t*) { return kUnsupported; }
FAKE_CUPTI_EXPORT CUptiResult cuptiEventGetAttribute(CUpti_EventID, CUpti_EventAttribute, size_t*, void*) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiEventGetIdFromName(CUdevice, const char*, CUpti_EventID*) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiEventGroupGetAttribute(CUpti_EventGroup, CUpti_EventGroupAttribute, size_t*,
                                                          void*) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiEventGroupSetAttribute(CUpti_EventGroup, CUpti_EventGroupAttribute, size_t,
                                                          void*) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiEventGroupReadEvent(CUpti_EventGroup, CUpti_ReadEventFlags, CUpti_EventID,
                                                       size_t*, uint64_t*) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiEventGroupSetEnable(CUpti_EventGroupSet*) { return kUnsupported; }
FAKE_CUPTI_EXPORT CUptiResult cuptiEventGroupSetDisable(CUpti_EventGroupSet*) { return kUnsupported; }
FAKE_CUPTI_EXPORT CUptiResult cuptiEventGroupSetsCreate(CUcontext, size_t, CUpti_EventID*, CUpti_EventGroupSets**) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiEventGroupSetsDestroy(CUpti_EventGroupSets*) { return kUnsupported; }
FAKE_CUPTI_EXPORT CUptiResult cuptiSetEventCollectionMode(CUcontext, CUpti_EventCollectionMode) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiMetricGetIdFromName(CUdevice, const char*, CUpti_MetricID*) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiMetricGetNumEvents(CUpti_MetricID, uint32_t*) { return kUnsupported; }
FAKE_CUPTI_EXPORT CUptiResult cuptiMetricEnumEvents(CUpti_MetricID, size_t*, CUpti_EventID*) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiMetricGetAttribute(CUpti_MetricID, CUpti_MetricAttribute, size_t*, void*) {
  return kUnsupported;
}
FAKE_CUPTI_EXPORT CUptiResult cuptiMetricGetValue(CUdevice, CUpti_MetricID, size_t, CUpti_EventID*, size_t,
                                                  uint64_t*, uint64_t, CUpti_MetricValue*) {
  return kUnsupported;
}
