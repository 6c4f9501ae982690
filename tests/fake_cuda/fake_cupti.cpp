// Fake CUPTI (libcupti.so.13): the callback API a memory tracer uses, over
// the fake driver. What it simulates is what such a tracer meets:
//   - one subscriber per process: another cuptiSubscribe* fails with
//     CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED, and cuptiSubscribe_v2
//     writes the holder's name, "CUPTI for <its name>" ("CUPTI for <not
//     provided>" when it gave none), as NVIDIA's does;
//   - FAKE_CUPTI_HELD_BY=<name> (read at each subscribe): the slot is
//     already held, as under Nsight Systems or torch.profiler; <name> is
//     written verbatim as the holder's;
//   - driver-API callbacks, enabled one id at a time or for the whole domain,
//     at enter and exit of the fake driver's memory functions (the only ones
//     it reports; other ids can be enabled and never fire). The runtime,
//     resource, synchronize, NVTX and state domains answer
//     CUPTI_ERROR_NOT_SUPPORTED.
// Like NVIDIA's, it links no driver: it reaches the driver the process has
// loaded through a private interface (fake_api_callback_hook.h).
#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include <cupti.h>

#include "fake_api_callback_hook.h"
#include "fake_cupti_export.h"

// The subscriber handle's type: opaque to programs, declared by cupti_callbacks.h.
struct CUpti_Subscriber_st {
  CUpti_CallbackFunc callback = nullptr;
  void* userdata = nullptr;
  std::string name;  // as another subscriber is told it
  std::array<std::atomic<bool>, CUPTI_DRIVER_TRACE_CBID_SIZE> driver_api_enabled{};
};

namespace {

using SetHookFunction = void (*)(FakeCudaApiCallbackHook);

constexpr const char* kNamePrefix = "CUPTI for ";
constexpr const char* kUnnamed = "<not provided>";

// Subscribe, unsubscribe and enable take the mutex; the driver's threads
// only load g_subscriber. A subscriber is never freed: a driver thread may
// be delivering to it while another thread unsubscribes.
std::mutex g_mutex;
std::atomic<CUpti_Subscriber_st*> g_subscriber{nullptr};

void deliver(CUpti_CallbackId callback_id, const CUpti_CallbackData* data) {
  CUpti_Subscriber_st* subscriber = g_subscriber.load(std::memory_order_acquire);
  if (subscriber == nullptr || subscriber->callback == nullptr) return;
  if (callback_id >= CUPTI_DRIVER_TRACE_CBID_SIZE) return;
  if (!subscriber->driver_api_enabled[callback_id].load(std::memory_order_relaxed)) return;
  subscriber->callback(subscriber->userdata, CUPTI_CB_DOMAIN_DRIVER_API, callback_id, data);
}

// The driver the process already has, else libcuda.so.1 from the library
// path (NVIDIA's CUPTI also loads the driver itself when it must). Found
// once, under g_mutex, and never closed: the driver keeps a pointer into
// this library.
SetHookFunction driver_hook_setter() {
  static SetHookFunction set_hook = nullptr;
  if (set_hook != nullptr) return set_hook;
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (driver == nullptr) driver = dlopen("libcuda.so.1", RTLD_NOW);
  if (driver == nullptr) return nullptr;
  set_hook = reinterpret_cast<SetHookFunction>(dlsym(driver, "fake_cuda_set_api_callback_hook"));
  return set_hook;
}

void uninstall_hook() {
  if (SetHookFunction set_hook = driver_hook_setter()) set_hook(nullptr);
}

// Who holds the slot, or empty when it is free.
std::string current_holder() {
  if (const char* held_by = std::getenv("FAKE_CUPTI_HELD_BY"); held_by != nullptr && *held_by != '\0') {
    return held_by;
  }
  const CUpti_Subscriber_st* subscriber = g_subscriber.load(std::memory_order_acquire);
  return subscriber != nullptr ? subscriber->name : std::string();
}

void write_holder(const std::string& holder, char* out, std::size_t capacity) {
  if (out == nullptr || capacity == 0) return;
  const std::size_t length = std::min(holder.size(), capacity - 1);
  std::memcpy(out, holder.data(), length);
  out[length] = '\0';
}

std::string subscriber_name(const char* given) {
  if (given == nullptr) return std::string(kNamePrefix) + kUnnamed;
  return kNamePrefix + std::string(given, strnlen(given, CUPTI_SUBSCRIBER_NAME_MAX_LEN));
}

CUptiResult subscribe(CUpti_SubscriberHandle* handle, CUpti_CallbackFunc callback, void* userdata,
                      const std::string& name, char* holder_out, std::size_t holder_capacity) {
  if (handle == nullptr) return CUPTI_ERROR_INVALID_PARAMETER;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (const std::string holder = current_holder(); !holder.empty()) {
    write_holder(holder, holder_out, holder_capacity);
    return CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED;
  }
  const SetHookFunction set_hook = driver_hook_setter();
  if (set_hook == nullptr) return CUPTI_ERROR_NOT_INITIALIZED;
  auto* subscriber = new CUpti_Subscriber_st;
  subscriber->callback = callback;
  subscriber->userdata = userdata;
  subscriber->name = name;
  g_subscriber.store(subscriber, std::memory_order_release);
  set_hook(&deliver);
  *handle = subscriber;
  return CUPTI_SUCCESS;
}

bool is_current(CUpti_SubscriberHandle subscriber) {
  return subscriber != nullptr && subscriber == g_subscriber.load(std::memory_order_acquire);
}

bool is_valid_domain(CUpti_CallbackDomain domain) {
  return domain > CUPTI_CB_DOMAIN_INVALID && domain < CUPTI_CB_DOMAIN_SIZE;
}

// An unsubscribed subscriber is kept, not deleted: a callback may still be
// running on another thread with it (the driver read the hook just before
// it was removed). Kept reachable here, so leak checkers see no leak.
void retire(CUpti_Subscriber_st* subscriber) {
  static auto* retired = new std::vector<CUpti_Subscriber_st*>;
  retired->push_back(subscriber);
}

void forget_subscriber() {
  retire(g_subscriber.exchange(nullptr, std::memory_order_acq_rel));
  uninstall_hook();
}

}  // namespace

FAKE_CUPTI_EXPORT CUptiResult CUPTIAPI cuptiSubscribe(CUpti_SubscriberHandle* subscriber,
                                                      CUpti_CallbackFunc callback, void* userdata) {
  return subscribe(subscriber, callback, userdata, subscriber_name(nullptr), nullptr, 0);
}

FAKE_CUPTI_EXPORT CUptiResult CUPTIAPI cuptiSubscribe_v2(CUpti_SubscriberHandle* subscriber,
                                                         CUpti_CallbackFunc callback, void* userdata,
                                                         CUpti_SubscriberParams* pParams) {
  if (pParams == nullptr) return subscribe(subscriber, callback, userdata, subscriber_name(nullptr), nullptr, 0);
  if (pParams->structSize == 0) return CUPTI_ERROR_INVALID_PARAMETER;
  // Fields past the caller's structSize belong to a newer header than the
  // caller's and are not read.
  auto has = [pParams](std::size_t field_end) { return pParams->structSize >= field_end; };
  const char* name = has(CUPTI_CALLBACK_STRUCT_SIZE(CUpti_SubscriberParams, subscriberName))
                         ? pParams->subscriberName
                         : nullptr;
  char* holder = nullptr;
  std::size_t holder_capacity = 0;
  if (has(CUpti_SubscriberParams_STRUCT_SIZE)) {
    holder = pParams->oldSubscriberName;
    holder_capacity = pParams->oldSubscriberSize;
  }
  return subscribe(subscriber, callback, userdata, subscriber_name(name), holder, holder_capacity);
}

FAKE_CUPTI_EXPORT CUptiResult CUPTIAPI cuptiUnsubscribe(CUpti_SubscriberHandle subscriber) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!is_current(subscriber)) return CUPTI_ERROR_INVALID_PARAMETER;
  forget_subscriber();
  return CUPTI_SUCCESS;
}

FAKE_CUPTI_EXPORT CUptiResult CUPTIAPI cuptiEnableCallback(uint32_t enable, CUpti_SubscriberHandle subscriber,
                                                           CUpti_CallbackDomain domain, CUpti_CallbackId cbid) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!is_current(subscriber) || !is_valid_domain(domain)) return CUPTI_ERROR_INVALID_PARAMETER;
  if (domain != CUPTI_CB_DOMAIN_DRIVER_API) return CUPTI_ERROR_NOT_SUPPORTED;
  if (cbid <= CUPTI_DRIVER_TRACE_CBID_INVALID || cbid >= CUPTI_DRIVER_TRACE_CBID_SIZE) {
    return CUPTI_ERROR_INVALID_PARAMETER;
  }
  subscriber->driver_api_enabled[cbid].store(enable != 0, std::memory_order_relaxed);
  return CUPTI_SUCCESS;
}

FAKE_CUPTI_EXPORT CUptiResult CUPTIAPI cuptiEnableDomain(uint32_t enable, CUpti_SubscriberHandle subscriber,
                                                         CUpti_CallbackDomain domain) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (!is_current(subscriber) || !is_valid_domain(domain)) return CUPTI_ERROR_INVALID_PARAMETER;
  if (domain != CUPTI_CB_DOMAIN_DRIVER_API) return CUPTI_ERROR_NOT_SUPPORTED;
  for (auto& enabled : subscriber->driver_api_enabled) enabled.store(enable != 0, std::memory_order_relaxed);
  return CUPTI_SUCCESS;
}

// Detaches CUPTI: the subscriber is dropped and the driver unhooked.
FAKE_CUPTI_EXPORT CUptiResult CUPTIAPI cuptiFinalize(void) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_subscriber.load(std::memory_order_acquire) != nullptr) forget_subscriber();
  return CUPTI_SUCCESS;
}
