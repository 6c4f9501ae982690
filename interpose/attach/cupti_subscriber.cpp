#include "interpose/attach/cupti_subscriber.h"

#include <atomic>
#include <ctime>
#include <mutex>

#include "interpose/attach/cupti_library.h"
#include "interpose/attach/cupti_translation.h"
#include "interpose/hook_outcome.h"

namespace oomtrace::interpose {
namespace {

constexpr const char* kSubscriberName = "oomtrace";
// How CUPTI names a holder: "CUPTI for <name>", or "CUPTI for <not
// provided>" for one that subscribed without a name.
constexpr std::string_view kHolderPrefix = "CUPTI for ";
constexpr std::string_view kHolderUnnamed = "<not provided>";
constexpr const char* kNotSeen =
    "; allocations through driver pointers resolved before attach are not seen";

// Changed by start and stop only, under `lifecycle`; never read by a
// callback. Never destroyed, so that a stop during exit finds it intact.
struct Subscription {
  std::mutex lifecycle;
  CuptiLibrary library;  // kept once found: CUPTI is never unloaded
  bool library_found = false;
  CUpti_SubscriberHandle subscriber = nullptr;
  CuptiCoverage coverage;
};

Subscription& subscription() {
  static Subscription* instance = new Subscription;
  return *instance;
}

// Read by callbacks on any thread. A callback counts itself in flight before
// it looks at the flag, so once stop has cleared the flag and seen no
// callback in flight, none can still be recording.
std::atomic<bool> g_forwarding{false};
std::atomic<int> g_callbacks_in_flight{0};

class InFlight {
 public:
  InFlight() { g_callbacks_in_flight.fetch_add(1); }
  ~InFlight() { g_callbacks_in_flight.fetch_sub(1); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;
};

int device_of(const DriverCall& call) { return call.device ? *call.device : device_for(call.api); }

void record(const DriverCall& call) {
  switch (call.kind) {
    case DriverCallKind::Allocation:
      record_allocation(call.api, device_of(call), call.address, call.size, call.stream);
      break;
    case DriverCallKind::Release:
      record_release(call.api, call.address, call.stream);
      break;
    case DriverCallKind::Mapping:
      record_mapping(call.address, call.size, call.handle);
      break;
    case DriverCallKind::Unmapping:
      record_unmapping(call.address, call.size);
      break;
    case DriverCallKind::Failure:
      record_failure(call.api, device_of(call), call.size, call.result, call.stream, call.pool);
      break;
  }
}

// Both sites: frees are recorded at enter, allocations at exit
// (cupti_translation.h).
void CUPTIAPI on_driver_api(void*, CUpti_CallbackDomain domain, CUpti_CallbackId callback_id,
                            const void* callback_data) {
  if (domain != CUPTI_CB_DOMAIN_DRIVER_API || callback_data == nullptr) return;
  const auto* data = static_cast<const CUpti_CallbackData*>(callback_data);
  const ApiSite site = data->callbackSite == CUPTI_API_EXIT ? ApiSite::Exit : ApiSite::Enter;
  if (site == ApiSite::Exit && data->functionReturnValue == nullptr) return;
  // One of our wrappers is up this thread's stack and records the call
  // itself (under the API the program called), or we made the call.
  if (tls_hook_depth > 0) return;
  InFlight in_flight;
  if (!g_forwarding.load()) return;
  HookScope scope;
  ErrnoKeeper keep_errno;
  const int result = site == ApiSite::Exit ? *static_cast<const CUresult*>(data->functionReturnValue) : 0;
  if (std::optional<DriverCall> call = translate_driver_call(callback_id, site, data->functionParams, result)) {
    record(*call);
  }
}

void wait_for_callbacks_in_flight() {
  const timespec pause = {0, 1000 * 1000};
  while (g_callbacks_in_flight.load() != 0) nanosleep(&pause, nullptr);
}

std::string holder_name(std::string_view written) {
  if (written.substr(0, kHolderPrefix.size()) == kHolderPrefix) written.remove_prefix(kHolderPrefix.size());
  if (written == kHolderUnnamed) return {};
  return std::string(written);
}

struct SubscribeOutcome {
  CUptiResult result = CUPTI_SUCCESS;
  std::string holder;  // who holds the slot, when CUPTI says
};

SubscribeOutcome subscribe(const CuptiLibrary& library, CUpti_SubscriberHandle* subscriber) {
  SubscribeOutcome outcome;
  if (!library.subscribe_v2) {
    outcome.result = library.subscribe(subscriber, on_driver_api, nullptr);
    return outcome;
  }
  char holder[2 * CUPTI_OLD_SUBSCRIBER_NAME_MIN_LEN] = {};
  CUpti_SubscriberParams params{};
  params.structSize = CUpti_SubscriberParams_STRUCT_SIZE;
  params.subscriberName = kSubscriberName;
  params.oldSubscriberName = holder;
  params.oldSubscriberSize = sizeof holder;
  outcome.result = library.subscribe_v2(subscriber, on_driver_api, nullptr, &params);
  holder[sizeof holder - 1] = '\0';
  outcome.holder = holder_name(holder);
  return outcome;
}

std::string held_detail(const std::string& holder) {
  return "CUPTI is held by another subscriber (" +
         (holder.empty() ? std::string("a profiler such as torch.profiler or Nsight Systems") : holder) +
         ")" + kNotSeen;
}

// False, with the reason in *detail, when CUPTI refuses one of the ids.
bool enable_memory_callbacks(const Subscription& current, std::string* detail) {
  for (uint32_t id : cupti_callback_ids()) {
    CUptiResult result =
        current.library.enable_callback(1, current.subscriber, CUPTI_CB_DOMAIN_DRIVER_API, id);
    if (result != CUPTI_SUCCESS) {
      *detail = "CUPTI (" + current.library.path + ") refused driver callback " + std::to_string(id) +
                ": " + current.library.describe(result) + kNotSeen;
      return false;
    }
  }
  return true;
}

void release_subscriber(Subscription& current) {
  g_forwarding.store(false);
  wait_for_callbacks_in_flight();
  current.library.unsubscribe(current.subscriber);
  current.subscriber = nullptr;
  current.coverage = CuptiCoverage{};
}

}  // namespace

CuptiCoverage start_cupti_driver_callbacks() {
  Subscription& current = subscription();
  std::lock_guard<std::mutex> lock(current.lifecycle);
  if (current.subscriber) return current.coverage;
  // Driver calls CUPTI makes on this thread while it starts are its own.
  HookScope scope;
  ErrnoKeeper keep_errno;
  CuptiCoverage coverage;
  if (!current.library_found) {
    if (!load_cupti_library(&current.library, &coverage.detail)) return coverage;
    current.library_found = true;
  }
  const CuptiLibrary& library = current.library;
  coverage.library = library.path;
  SubscribeOutcome outcome = subscribe(library, &current.subscriber);
  if (outcome.result != CUPTI_SUCCESS) {
    current.subscriber = nullptr;
    coverage.detail = outcome.result == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED
                          ? held_detail(outcome.holder)
                          : "CUPTI (" + library.path + ") refused a subscriber: " +
                                library.describe(outcome.result) + kNotSeen;
    return coverage;
  }
  // On before enabling: a call that completes in between is recorded.
  g_forwarding.store(true);
  if (!enable_memory_callbacks(current, &coverage.detail)) {
    release_subscriber(current);
    return coverage;
  }
  coverage.active = true;
  coverage.detail =
      "CUPTI (" + library.path + ") sees driver calls made through pointers resolved before attach";
  current.coverage = coverage;
  return coverage;
}

// cuptiFinalize is never called: it tears CUPTI down for the whole process,
// a profiler's activity tracing included (Kineto traces without holding the
// subscriber slot), and is only safe from inside an API exit callback.
void stop_cupti_driver_callbacks() {
  Subscription& current = subscription();
  std::lock_guard<std::mutex> lock(current.lifecycle);
  if (!current.subscriber) return;
  HookScope scope;
  ErrnoKeeper keep_errno;
  release_subscriber(current);
}

}  // namespace oomtrace::interpose
