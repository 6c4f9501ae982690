// Fake runtime: events, stream priorities and queries, host callbacks and
// stream capture. Streams complete immediately in the simulated device, so
// every event is complete once recorded, every query says so, and host
// callbacks run at once on the calling thread. Capture (CUDA graphs) is not
// simulated: a stream never captures and starting a capture is refused.
#include <mutex>
#include <unordered_set>

#include "fake_runtime_internal.h"

using namespace fake_cudart;

namespace {

// Events carry nothing the simulation needs: a handle is a heap cell of its
// own, known by address, so a foreign or destroyed handle is refused
// without ever being read.
struct LiveEvents {
  std::mutex mutex;
  std::unordered_set<cudaEvent_t> handles;
};

LiveEvents& live_events() {
  static LiveEvents* events = new LiveEvents;  // never destroyed: usable from exit-time destructors
  return *events;
}

bool is_event(cudaEvent_t event) {
  LiveEvents& events = live_events();
  std::lock_guard<std::mutex> lock(events.mutex);
  return events.handles.count(event) != 0;
}

cudaError_t create_event(cudaEvent_t* event) {
  if (event == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  auto* handle = reinterpret_cast<cudaEvent_t>(new char);
  LiveEvents& events = live_events();
  std::lock_guard<std::mutex> lock(events.mutex);
  events.handles.insert(handle);
  *event = handle;
  return cudaSuccess;
}

cudaError_t check_event(cudaEvent_t event) { return is_event(event) ? cudaSuccess : record(cudaErrorInvalidResourceHandle); }

}  // namespace

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaEventCreate(cudaEvent_t* event) { return create_event(event); }

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int) {
  return create_event(event);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaEventDestroy(cudaEvent_t event) {
  LiveEvents& events = live_events();
  std::lock_guard<std::mutex> lock(events.mutex);
  if (events.handles.erase(event) == 0) return record(cudaErrorInvalidResourceHandle);
  delete reinterpret_cast<char*>(event);
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaEventRecord(cudaEvent_t event, cudaStream_t) { return check_event(event); }

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaEventRecordWithFlags(cudaEvent_t event, cudaStream_t, unsigned int) {
  return check_event(event);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaEventQuery(cudaEvent_t event) { return check_event(event); }

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaEventSynchronize(cudaEvent_t event) { return check_event(event); }

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (ms == nullptr) return record(cudaErrorInvalidValue);
  if (!is_event(start) || !is_event(end)) return record(cudaErrorInvalidResourceHandle);
  *ms = 0.0f;  // no work ever takes time on the simulated device
  return cudaSuccess;
}

// IPC needs a second process on the same device, which the simulation has not.
FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaIpcGetEventHandle(cudaIpcEventHandle_t*, cudaEvent_t) {
  return record(cudaErrorNotSupported);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaIpcOpenEventHandle(cudaEvent_t*, cudaIpcEventHandle_t) {
  return record(cudaErrorNotSupported);
}

// ------------------------------------------------------------ streams

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaStreamCreateWithPriority(cudaStream_t* pStream, unsigned int flags, int) {
  if (pStream == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  return record(api().cuStreamCreate(pStream, flags));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaStreamGetPriority(cudaStream_t, int* priority) {
  if (priority == nullptr) return record(cudaErrorInvalidValue);
  *priority = 0;
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaStreamQuery(cudaStream_t) { return cudaSuccess; }

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaStreamWaitEvent(cudaStream_t, cudaEvent_t event, unsigned int) {
  return check_event(event);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaLaunchHostFunc(cudaStream_t, cudaHostFn_t fn, void* userData) {
  if (fn == nullptr) return record(cudaErrorInvalidValue);
  fn(userData);
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaStreamAddCallback(cudaStream_t stream, cudaStreamCallback_t callback,
                                                               void* userData, unsigned int) {
  if (callback == nullptr) return record(cudaErrorInvalidValue);
  callback(stream, cudaSuccess, userData);
  return cudaSuccess;
}

// ------------------------------------------------------------ capture

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaStreamIsCapturing(cudaStream_t, cudaStreamCaptureStatus* pCaptureStatus) {
  if (pCaptureStatus == nullptr) return record(cudaErrorInvalidValue);
  *pCaptureStatus = cudaStreamCaptureStatusNone;
  return cudaSuccess;
}

namespace {

cudaError_t report_not_capturing(cudaStreamCaptureStatus* status, unsigned long long* id, cudaGraph_t* graph,
                                 const cudaGraphNode_t** dependencies, size_t* numDependencies) {
  if (status == nullptr) return record(cudaErrorInvalidValue);
  *status = cudaStreamCaptureStatusNone;
  if (id != nullptr) *id = 0;
  if (graph != nullptr) *graph = nullptr;
  if (dependencies != nullptr) *dependencies = nullptr;
  if (numDependencies != nullptr) *numDependencies = 0;
  return cudaSuccess;
}

}  // namespace

// CUDA 13's signature (edge data added); CUDA 12 builds call the _v2 below.
FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaStreamGetCaptureInfo(cudaStream_t, cudaStreamCaptureStatus* status,
                                                                  unsigned long long* id, cudaGraph_t* graph,
                                                                  const cudaGraphNode_t** dependencies,
                                                                  const cudaGraphEdgeData** edgeData,
                                                                  size_t* numDependencies) {
  if (edgeData != nullptr) *edgeData = nullptr;
  return report_not_capturing(status, id, graph, dependencies, numDependencies);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaStreamGetCaptureInfo_v2(cudaStream_t, cudaStreamCaptureStatus* status,
                                                                     unsigned long long* id, cudaGraph_t* graph,
                                                                     const cudaGraphNode_t** dependencies,
                                                                     size_t* numDependencies) {
  return report_not_capturing(status, id, graph, dependencies, numDependencies);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaThreadExchangeStreamCaptureMode(cudaStreamCaptureMode* mode) {
  if (mode == nullptr) return record(cudaErrorInvalidValue);
  static thread_local cudaStreamCaptureMode t_mode = cudaStreamCaptureModeGlobal;
  const cudaStreamCaptureMode previous = t_mode;
  t_mode = *mode;
  *mode = previous;
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaStreamBeginCapture(cudaStream_t, cudaStreamCaptureMode) {
  return record(cudaErrorNotSupported);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaStreamEndCapture(cudaStream_t, cudaGraph_t*) {
  return record(cudaErrorStreamCaptureInvalidated);
}
