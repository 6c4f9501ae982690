// Driver-API callbacks of the fake driver: the memory functions a tracer
// watches through CUPTI run their implementation between an enter and an
// exit callback, as NVIDIA's driver does for a CUPTI subscriber. Without a
// hook (no CUPTI subscriber) a call costs one relaxed atomic load.
#pragma once

#include <atomic>
#include <type_traits>

#include <cupti.h>

#include "fake_api_callback_hook.h"
#include "fake_driver_api.h"

namespace fake_cuda {

extern std::atomic<FakeCudaApiCallbackHook> g_api_callback_hook;

using ErasedApiBody = CUresult (*)(void* body);

// The slow path: fills CUpti_CallbackData around the call.
CUresult run_with_api_callbacks(FakeCudaApiCallbackHook hook, CUpti_CallbackId callback_id,
                                const char* function_name, const void* params, ErasedApiBody run,
                                void* body);

// `params`: the function's *_params struct of generated_cuda_meta.h, what
// the subscriber reads through functionParams. `body`: the implementation,
// returning the CUresult the exit callback sees.
template <typename Params, typename Body>
CUresult traced_api_call(CUpti_driver_api_trace_cbid callback_id, const char* function_name,
                         const Params& params, Body&& body) {
  const FakeCudaApiCallbackHook hook = g_api_callback_hook.load(std::memory_order_relaxed);
  if (hook == nullptr) [[likely]] return body();
  using BodyType = std::remove_reference_t<Body>;
  return run_with_api_callbacks(
      hook, callback_id, function_name, &params,
      [](void* erased) -> CUresult { return (*static_cast<BodyType*>(erased))(); }, &body);
}

}  // namespace fake_cuda

// FAKE_CUDA_TRACED(cuMemAlloc_v2): the callback id and the functionName
// CUPTI reports, from one spelling.
#define FAKE_CUDA_TRACED(name) CUPTI_DRIVER_TRACE_CBID_##name, #name
