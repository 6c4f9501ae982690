// The private interface between the fake libcupti.so.13 and the fake
// libcuda.so.1. NVIDIA's CUPTI reaches its driver through an interface of
// their own, not the CUDA API; so does the fake: the driver exports one
// setter, and the fake CUPTI finds it with dlsym in the driver already
// loaded. No program calls it; it is not part of any CUDA API.
#pragma once

#include <cupti_callbacks.h>

extern "C" {

// Called by the driver on the calling thread at API enter and again at API
// exit of each traced function (fake_driver_api_callbacks.h), with the
// callback data CUPTI passes its subscriber. Which ids reach a subscriber
// is CUPTI's business: the driver reports every traced call.
typedef void (*FakeCudaApiCallbackHook)(CUpti_CallbackId callback_id, const CUpti_CallbackData* data);

// Exported by the fake driver. nullptr removes the hook, after which a
// traced call costs one relaxed atomic load again.
void fake_cuda_set_api_callback_hook(FakeCudaApiCallbackHook hook);

}  // extern "C"
