// Finding libcupti at run time: liboomtrace.so never links it, so that it
// loads into processes without one. A libcupti the process already has comes
// first (PyTorch wheels bring nvidia/cu13/lib/libcupti.so.13): two copies of
// CUPTI in one process would both hook the driver.
#pragma once

#include <cupti_callbacks.h>

#include <string>

namespace oomtrace::interpose {

struct CuptiLibrary {
  std::string path;
  // cuptiSubscribe_v2 (CUDA 12.x and later) says who holds the one subscriber
  // slot; null where this libcupti predates it, and subscribe is used instead.
  CUptiResult (*subscribe_v2)(CUpti_SubscriberHandle*, CUpti_CallbackFunc, void*,
                              CUpti_SubscriberParams*) = nullptr;
  CUptiResult (*subscribe)(CUpti_SubscriberHandle*, CUpti_CallbackFunc, void*) = nullptr;
  CUptiResult (*enable_callback)(uint32_t, CUpti_SubscriberHandle, CUpti_CallbackDomain,
                                 CUpti_CallbackId) = nullptr;
  CUptiResult (*unsubscribe)(CUpti_SubscriberHandle) = nullptr;
  CUptiResult (*result_string)(CUptiResult, const char**) = nullptr;

  // "CUPTI_ERROR_..." when the library can name the result, else its number.
  std::string describe(CUptiResult result) const;
};

// The first libcupti found: one already loaded, else libcupti.so.13,
// libcupti.so.12 and libcupti.so on the library path, else under $CUDA_HOME
// (default /usr/local/cuda) in lib64/ and extras/CUPTI/lib64/. It is never
// unloaded: CUPTI leaves hooks in the driver. False, with one sentence in
// *why, when none is found or one lacks a function we need.
bool load_cupti_library(CuptiLibrary* library, std::string* why);

}  // namespace oomtrace::interpose
