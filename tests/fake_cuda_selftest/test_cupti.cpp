// Fake CUPTI: the one subscriber slot, and the driver-API callbacks the fake
// driver issues around its memory functions.
#include <catch2/catch.hpp>

#include <cupti.h>
#include <cuda_runtime_api.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "fake_cuda_test_support.h"

using namespace fake_cuda_test;

namespace {

// What a callback saw, copied inside it: CUPTI's data is only valid there.
struct Seen {
  CUpti_CallbackDomain domain = CUPTI_CB_DOMAIN_INVALID;
  CUpti_CallbackId id = 0;
  CUpti_ApiCallbackSite site = CUPTI_API_ENTER;
  std::string function;
  const void* params = nullptr;
  bool has_result = false;
  CUresult result = CUDA_SUCCESS;
  const char* symbol = nullptr;
  CUcontext context = nullptr;
  uint32_t context_uid = 0;
  uint32_t correlation_id = 0;
  uint64_t* correlation_data = nullptr;
  // cuMemAlloc_v2 and cuMemCreate: what the out pointer holds at that moment.
  uint64_t written = 0;
};

void CUPTIAPI remember(void* userdata, CUpti_CallbackDomain domain, CUpti_CallbackId id, const void* raw) {
  auto* seen = static_cast<std::vector<Seen>*>(userdata);
  const auto* data = static_cast<const CUpti_CallbackData*>(raw);
  Seen entry;
  entry.domain = domain;
  entry.id = id;
  entry.site = data->callbackSite;
  entry.function = data->functionName ? data->functionName : "";
  entry.params = data->functionParams;
  entry.has_result = data->functionReturnValue != nullptr;
  if (entry.has_result) entry.result = *static_cast<const CUresult*>(data->functionReturnValue);
  entry.symbol = data->symbolName;
  entry.context = data->context;
  entry.context_uid = data->contextUid;
  entry.correlation_id = data->correlationId;
  entry.correlation_data = data->correlationData;
  if (id == CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2) {
    entry.written = *static_cast<const cuMemAlloc_v2_params*>(data->functionParams)->dptr;
  } else if (id == CUPTI_DRIVER_TRACE_CBID_cuMemCreate) {
    entry.written = *static_cast<const cuMemCreate_params*>(data->functionParams)->handle;
  }
  seen->push_back(entry);
}

// A subscriber for one test case, given back at the end whatever happens.
class Subscriber {
 public:
  explicit Subscriber(const char* name = "selftest") {
    CUpti_SubscriberParams params{};
    params.structSize = CUpti_SubscriberParams_STRUCT_SIZE;
    params.subscriberName = name;
    result_ = cuptiSubscribe_v2(&handle_, remember, &seen, &params);
  }
  ~Subscriber() {
    if (result_ == CUPTI_SUCCESS) cuptiUnsubscribe(handle_);
  }
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  CUptiResult result() const { return result_; }
  CUpti_SubscriberHandle handle() const { return handle_; }
  CUptiResult enable(CUpti_CallbackId id) {
    return cuptiEnableCallback(1, handle_, CUPTI_CB_DOMAIN_DRIVER_API, id);
  }

  std::vector<Seen> seen;

 private:
  CUpti_SubscriberHandle handle_ = nullptr;
  CUptiResult result_ = CUPTI_ERROR_UNKNOWN;
};

struct Refusal {
  CUptiResult result;
  std::string holder;
};

Refusal try_subscribe_v2(size_t holder_capacity = CUPTI_OLD_SUBSCRIBER_NAME_MIN_LEN) {
  std::vector<char> holder(holder_capacity + 1, '\0');
  CUpti_SubscriberParams params{};
  params.structSize = CUpti_SubscriberParams_STRUCT_SIZE;
  params.subscriberName = "latecomer";
  params.oldSubscriberName = holder.data();
  params.oldSubscriberSize = holder_capacity;
  CUpti_SubscriberHandle handle = nullptr;
  const CUptiResult result = cuptiSubscribe_v2(&handle, remember, nullptr, &params);
  if (result == CUPTI_SUCCESS) cuptiUnsubscribe(handle);
  return {result, holder.data()};
}

class HeldBy {
 public:
  explicit HeldBy(const char* name) { setenv("FAKE_CUPTI_HELD_BY", name, 1); }
  ~HeldBy() { unsetenv("FAKE_CUPTI_HELD_BY"); }
  HeldBy(const HeldBy&) = delete;
  HeldBy& operator=(const HeldBy&) = delete;
};

std::vector<std::string> functions_at_exit(const std::vector<Seen>& seen) {
  std::vector<std::string> names;
  for (const Seen& entry : seen) {
    if (entry.site == CUPTI_API_EXIT) names.push_back(entry.function);
  }
  return names;
}

}  // namespace

TEST_CASE("an enabled driver function calls back at enter and exit", "[cupti]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  const CUcontext context = primary_context(0);
  REQUIRE(cuCtxSetCurrent(context) == CUDA_SUCCESS);
  Subscriber subscriber;
  REQUIRE(subscriber.result() == CUPTI_SUCCESS);
  REQUIRE(subscriber.enable(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2) == CUPTI_SUCCESS);

  // Through a pointer from cuGetProcAddress, as the runtime and frameworks call.
  void* function = nullptr;
  CUdriverProcAddressQueryResult status{};
  REQUIRE(cuGetProcAddress("cuMemAlloc", &function, 13000, CU_GET_PROC_ADDRESS_DEFAULT, &status) == CUDA_SUCCESS);
  auto mem_alloc = reinterpret_cast<PFN_cuMemAlloc_v3020>(function);
  CUdeviceptr pointer = 0;
  REQUIRE(mem_alloc(&pointer, 4 * kMiB) == CUDA_SUCCESS);

  REQUIRE(subscriber.seen.size() == 2);
  const Seen& enter = subscriber.seen[0];
  const Seen& exit = subscriber.seen[1];
  for (const Seen& entry : subscriber.seen) {
    CHECK(entry.domain == CUPTI_CB_DOMAIN_DRIVER_API);
    CHECK(entry.id == CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2);
    CHECK(entry.function == "cuMemAlloc_v2");
    CHECK(entry.symbol == nullptr);
    CHECK(entry.context == context);
    CHECK(entry.context_uid == 1);
  }
  CHECK(enter.site == CUPTI_API_ENTER);
  CHECK_FALSE(enter.has_result);  // the return value is only valid at exit
  CHECK(enter.written == 0);      // not yet allocated
  CHECK(exit.site == CUPTI_API_EXIT);
  REQUIRE(exit.has_result);
  CHECK(exit.result == CUDA_SUCCESS);
  CHECK(exit.written == pointer);
  CHECK(exit.written == device_base(0));
  CHECK(enter.correlation_id != 0);
  CHECK(enter.correlation_id == exit.correlation_id);
  CHECK(enter.correlation_data != nullptr);
  CHECK(enter.correlation_data == exit.correlation_data);

  // Out of memory: the exit callback sees the error; each call has its own id.
  const uint32_t first_call = enter.correlation_id;
  subscriber.seen.clear();
  CUdeviceptr too_big = 0;
  CHECK(mem_alloc(&too_big, 128 * kMiB) == CUDA_ERROR_OUT_OF_MEMORY);
  REQUIRE(subscriber.seen.size() == 2);
  CHECK(subscriber.seen[1].result == CUDA_ERROR_OUT_OF_MEMORY);
  CHECK(subscriber.seen[0].correlation_id > first_call);

  // Not enabled: no callback.
  subscriber.seen.clear();
  CHECK(cuMemFree(pointer) == CUDA_SUCCESS);
  CHECK(subscriber.seen.empty());

  // Disabled again: none either.
  REQUIRE(cuptiEnableCallback(0, subscriber.handle(), CUPTI_CB_DOMAIN_DRIVER_API,
                              CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2) == CUPTI_SUCCESS);
  REQUIRE(mem_alloc(&pointer, kMiB) == CUDA_SUCCESS);
  CHECK(subscriber.seen.empty());
  cuCtxSetCurrent(nullptr);
}

TEST_CASE("the driver reports each memory function with its typed parameters", "[cupti]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  Subscriber subscriber;
  REQUIRE(subscriber.result() == CUPTI_SUCCESS);
  REQUIRE(cuptiEnableDomain(1, subscriber.handle(), CUPTI_CB_DOMAIN_DRIVER_API) == CUPTI_SUCCESS);

  // A thread without a current context: the callbacks say so.
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = 0;
  CUdeviceptr range = 0;
  CUmemGenericAllocationHandle handle = 0;
  REQUIRE(cuMemAddressReserve(&range, 8 * kMiB, 0, 0, 0) == CUDA_SUCCESS);
  REQUIRE(cuMemCreate(&handle, 4 * kMiB, &prop, 0) == CUDA_SUCCESS);
  REQUIRE(cuMemMap(range, 4 * kMiB, 0, handle, 0) == CUDA_SUCCESS);
  REQUIRE(cuMemUnmap(range, 4 * kMiB) == CUDA_SUCCESS);
  REQUIRE(cuMemRelease(handle) == CUDA_SUCCESS);
  REQUIRE(cuMemAddressFree(range, 8 * kMiB) == CUDA_SUCCESS);
  CUdeviceptr block = 0;
  REQUIRE(cuMemAllocAsync(&block, kMiB, nullptr) == CUDA_SUCCESS);
  REQUIRE(cuMemFreeAsync(block, nullptr) == CUDA_SUCCESS);
  void* pinned = nullptr;
  REQUIRE(cuMemHostAlloc(&pinned, 4096, 0) == CUDA_SUCCESS);
  REQUIRE(cuMemFreeHost(pinned) == CUDA_SUCCESS);
  CHECK(cuMemFree(0x1234) == CUDA_ERROR_INVALID_VALUE);  // refused, reported all the same

  CHECK(functions_at_exit(subscriber.seen) ==
        std::vector<std::string>{"cuMemAddressReserve", "cuMemCreate", "cuMemMap", "cuMemUnmap", "cuMemRelease",
                                 "cuMemAddressFree", "cuMemAllocAsync", "cuMemFreeAsync", "cuMemHostAlloc",
                                 "cuMemFreeHost", "cuMemFree_v2"});
  REQUIRE(subscriber.seen.size() == 22);
  CHECK(subscriber.seen[0].context == nullptr);
  CHECK(subscriber.seen[0].context_uid == 0);
  const Seen& created = subscriber.seen[3];
  CHECK(created.id == CUPTI_DRIVER_TRACE_CBID_cuMemCreate);
  CHECK(created.written == handle);
  CHECK(subscriber.seen[21].result == CUDA_ERROR_INVALID_VALUE);
}

TEST_CASE("allocations the runtime makes reach the subscriber as driver calls", "[cupti]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "64"}});
  Subscriber subscriber;
  REQUIRE(subscriber.result() == CUPTI_SUCCESS);
  REQUIRE(subscriber.enable(CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2) == CUPTI_SUCCESS);
  void* pointer = nullptr;
  REQUIRE(cudaMalloc(&pointer, 2 * kMiB) == cudaSuccess);
  REQUIRE(subscriber.seen.size() == 2);
  CHECK(subscriber.seen[1].written == reinterpret_cast<uint64_t>(pointer));
  cudaFree(pointer);
}

TEST_CASE("CUPTI has one subscriber slot and names its holder", "[cupti]") {
  FakeMachine machine;
  {
    Subscriber first("torch.profiler");
    REQUIRE(first.result() == CUPTI_SUCCESS);
    CUpti_SubscriberHandle second = nullptr;
    CHECK(cuptiSubscribe(&second, remember, nullptr) == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED);
    Refusal refusal = try_subscribe_v2();
    CHECK(refusal.result == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED);
    CHECK(refusal.holder == "CUPTI for torch.profiler");
    // The name is cut to the caller's buffer, terminated.
    CHECK(try_subscribe_v2(8).holder == "CUPTI f");
    // Only the holder can give the slot back.
    CHECK(cuptiUnsubscribe(reinterpret_cast<CUpti_SubscriberHandle>(&refusal)) == CUPTI_ERROR_INVALID_PARAMETER);
  }
  // Given back: the next one gets it.
  CUpti_SubscriberHandle unnamed = nullptr;
  REQUIRE(cuptiSubscribe(&unnamed, remember, nullptr) == CUPTI_SUCCESS);
  CHECK(try_subscribe_v2().holder == "CUPTI for <not provided>");
  CHECK(cuptiUnsubscribe(unnamed) == CUPTI_SUCCESS);
  CHECK(cuptiUnsubscribe(unnamed) == CUPTI_ERROR_INVALID_PARAMETER);
  CHECK(try_subscribe_v2().result == CUPTI_SUCCESS);
}

TEST_CASE("FAKE_CUPTI_HELD_BY holds the slot for a named tool", "[cupti]") {
  FakeMachine machine;
  {
    HeldBy held("Nsight Systems");
    Refusal refusal = try_subscribe_v2();
    CHECK(refusal.result == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED);
    CHECK(refusal.holder == "Nsight Systems");
    CUpti_SubscriberHandle handle = nullptr;
    CHECK(cuptiSubscribe(&handle, remember, nullptr) == CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED);
  }
  CHECK(try_subscribe_v2().result == CUPTI_SUCCESS);
}

TEST_CASE("cuptiFinalize detaches the subscriber", "[cupti]") {
  FakeMachine machine;
  std::vector<Seen> seen;
  CUpti_SubscriberHandle handle = nullptr;
  REQUIRE(cuptiSubscribe(&handle, remember, &seen) == CUPTI_SUCCESS);
  REQUIRE(cuptiEnableCallback(1, handle, CUPTI_CB_DOMAIN_DRIVER_API, CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2) ==
          CUPTI_SUCCESS);
  CHECK(cuptiFinalize() == CUPTI_SUCCESS);
  CUdeviceptr pointer = 0;
  REQUIRE(cuMemAlloc(&pointer, kMiB) == CUDA_SUCCESS);
  CHECK(seen.empty());
  CHECK(cuptiUnsubscribe(handle) == CUPTI_ERROR_INVALID_PARAMETER);
  CHECK(try_subscribe_v2().result == CUPTI_SUCCESS);
}

TEST_CASE("CUPTI's arguments, results and version", "[cupti]") {
  FakeMachine machine;
  const char* text = nullptr;
  REQUIRE(cuptiGetResultString(CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED, &text) == CUPTI_SUCCESS);
  CHECK(std::string(text) == "CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED");
  REQUIRE(cuptiGetResultString(CUPTI_SUCCESS, &text) == CUPTI_SUCCESS);
  CHECK(std::string(text) == "CUPTI_SUCCESS");
  CHECK(cuptiGetResultString(CUPTI_SUCCESS, nullptr) == CUPTI_ERROR_INVALID_PARAMETER);
  uint32_t version = 0;
  REQUIRE(cuptiGetVersion(&version) == CUPTI_SUCCESS);
  CHECK(version == CUPTI_API_VERSION);

  CUpti_SubscriberHandle handle = nullptr;
  CHECK(cuptiSubscribe(nullptr, remember, nullptr) == CUPTI_ERROR_INVALID_PARAMETER);
  CUpti_SubscriberParams unsized{};
  CHECK(cuptiSubscribe_v2(&handle, remember, nullptr, &unsized) == CUPTI_ERROR_INVALID_PARAMETER);

  Subscriber subscriber;
  REQUIRE(subscriber.result() == CUPTI_SUCCESS);
  CHECK(subscriber.enable(CUPTI_DRIVER_TRACE_CBID_INVALID) == CUPTI_ERROR_INVALID_PARAMETER);
  CHECK(subscriber.enable(CUPTI_DRIVER_TRACE_CBID_SIZE) == CUPTI_ERROR_INVALID_PARAMETER);
  CHECK(cuptiEnableCallback(1, subscriber.handle(), CUPTI_CB_DOMAIN_RUNTIME_API, 1) == CUPTI_ERROR_NOT_SUPPORTED);
  CHECK(cuptiEnableDomain(1, subscriber.handle(), CUPTI_CB_DOMAIN_RESOURCE) == CUPTI_ERROR_NOT_SUPPORTED);
  CHECK(cuptiEnableCallback(1, subscriber.handle(), CUPTI_CB_DOMAIN_INVALID, 1) == CUPTI_ERROR_INVALID_PARAMETER);
  CHECK(cuptiEnableCallback(1, nullptr, CUPTI_CB_DOMAIN_DRIVER_API, CUPTI_DRIVER_TRACE_CBID_cuMemAlloc_v2) ==
        CUPTI_ERROR_INVALID_PARAMETER);
}
