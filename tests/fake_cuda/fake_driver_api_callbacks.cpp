// Fills CUpti_CallbackData the way NVIDIA's driver does for the traced
// memory functions: the same struct at enter and exit, functionParams at
// the typed parameters, functionReturnValue only at exit (CUPTI documents it
// valid there alone, so a subscriber that reads it at enter finds null),
// one correlation id and one correlationData slot per call, the calling
// thread's current context, and no symbolName (that is for launches).
#include "fake_driver_api_callbacks.h"

#include "fake_driver_context.h"
#include "fake_driver_state.h"

namespace fake_cuda {

std::atomic<FakeCudaApiCallbackHook> g_api_callback_hook{nullptr};

namespace {

std::atomic<std::uint32_t> g_next_correlation_id{1};

// Contexts are numbered as the real driver numbers them, in creation order
// from 1; the fake's primary contexts exist from the start, one per device.
std::uint32_t context_uid(CUcontext context) {
  if (context == nullptr) return 0;
  auto locked = lock_driver_state();
  const int device = device_of_context(locked.state, context);
  return device >= 0 ? static_cast<std::uint32_t>(device) + 1 : 0;
}

void describe_context(CUpti_CallbackData* data) {
  data->context = current_context();
  data->contextUid = context_uid(data->context);
}

}  // namespace

CUresult run_with_api_callbacks(FakeCudaApiCallbackHook hook, CUpti_CallbackId callback_id,
                                const char* function_name, const void* params, ErasedApiBody run,
                                void* body) {
  std::uint64_t correlation_data = 0;
  CUpti_CallbackData data{};
  data.functionName = function_name;
  data.functionParams = params;
  data.symbolName = nullptr;
  data.correlationData = &correlation_data;
  data.correlationId = g_next_correlation_id.fetch_add(1, std::memory_order_relaxed);

  data.callbackSite = CUPTI_API_ENTER;
  data.functionReturnValue = nullptr;
  describe_context(&data);
  hook(callback_id, &data);

  CUresult result = run(body);

  data.callbackSite = CUPTI_API_EXIT;
  data.functionReturnValue = &result;
  describe_context(&data);
  hook(callback_id, &data);
  return result;
}

}  // namespace fake_cuda

FAKE_CUDA_EXPORT void fake_cuda_set_api_callback_hook(FakeCudaApiCallbackHook hook) {
  fake_cuda::g_api_callback_hook.store(hook, std::memory_order_release);
}
