// What frameworks need of the simulated device beyond allocation: device
// properties in both runtimes' layouts, the version nodes PyTorch's wheels
// bind to, events, kernel launches, copies, capture, and the driver and
// NVML entry points PyTorch looks up at start-up.
#include <catch2/catch.hpp>

#include <cuda_runtime_api.h>
#include <dlfcn.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fake_cuda_test_support.h"
#include "fake_nvml_api.h"

using namespace fake_cuda_test;

extern "C" {
unsigned CUDARTAPI __cudaPushCallConfiguration(dim3 gridDim, dim3 blockDim, size_t sharedMem, void* stream);
cudaError_t CUDARTAPI __cudaPopCallConfiguration(dim3* gridDim, dim3* blockDim, size_t* sharedMem, void* stream);
cudaError_t CUDARTAPI cudaGetDeviceProperties_v2(void* prop, int device);
nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* cudaDriverVersion);
nvmlReturn_t nvmlDeviceGetNvLinkRemoteDeviceType(nvmlDevice_t device, unsigned int link, void* type);
}

namespace {

// CUDA 12's cudaDeviceProp, by byte offset: the fields after
// maxGridSize sit 4 bytes later than in CUDA 13, which dropped clockRate.
constexpr std::size_t kProp12Size = 1008;
constexpr std::size_t kProp12TotalGlobalMem = 288;
constexpr std::size_t kProp12ClockRate = 348;
constexpr std::size_t kProp12Major = 360;
constexpr std::size_t kProp12MultiProcessorCount = 388;

template <typename T>
T read_at(const std::vector<unsigned char>& bytes, std::size_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

void* runtime_12() {
  static void* handle = dlopen(FAKE_CUDA_DIR "/libcudart.so.12", RTLD_NOW | RTLD_LOCAL);
  return handle;
}

}  // namespace

TEST_CASE("device properties come from the driver, in CUDA 13's layout", "[runtime][frameworks]") {
  FakeMachine machine({{"FAKE_CUDA_DEVICES", "2"}, {"FAKE_CUDA_TOTAL_MIB", "1000,2000"}, {"FAKE_CUDA_NAME", "Props GPU"}});
  cudaDeviceProp prop{};
  REQUIRE(cudaGetDeviceProperties(&prop, 1) == cudaSuccess);
  CHECK(std::string(prop.name) == "Props GPU");
  CHECK(prop.totalGlobalMem == 2000 * kMiB);
  CHECK(prop.major == 9);
  CHECK(prop.minor == 0);
  CHECK(prop.multiProcessorCount == 132);
  CHECK(prop.maxThreadsPerMultiProcessor == 2048);
  CHECK(prop.warpSize == 32);
  CHECK(prop.pciBusID == 0x11);
  CHECK(cudaGetDeviceProperties(&prop, 2) == cudaErrorInvalidDevice);

  cudaDeviceProp through_v2{};
  REQUIRE(cudaGetDeviceProperties_v2(&through_v2, 0) == cudaSuccess);
  CHECK(through_v2.totalGlobalMem == 1000 * kMiB);
  CHECK(through_v2.multiProcessorCount == 132);
  int value = -1;
  CHECK(cudaDeviceGetAttribute(&value, cudaDevAttrMultiProcessorCount, 0) == cudaSuccess);
  CHECK(value == 132);
}

TEST_CASE("libcudart.so.12 fills CUDA 12's layout and no byte past it", "[runtime][frameworks]") {
  FakeMachine machine({{"FAKE_CUDA_TOTAL_MIB", "3000"}});
  REQUIRE(runtime_12() != nullptr);
  auto get_properties = reinterpret_cast<cudaError_t (*)(void*, int)>(
      dlvsym(runtime_12(), "cudaGetDeviceProperties_v2", "libcudart.so.12"));
  REQUIRE(get_properties != nullptr);
  std::vector<unsigned char> bytes(kProp12Size, 0xAB);
  REQUIRE(get_properties(bytes.data(), 0) == cudaSuccess);
  CHECK(read_at<std::size_t>(bytes, kProp12TotalGlobalMem) == 3000 * kMiB);
  CHECK(read_at<int>(bytes, kProp12ClockRate) > 0);
  CHECK(read_at<int>(bytes, kProp12Major) == 9);
  CHECK(read_at<int>(bytes, kProp12MultiProcessorCount) == 132);
  CHECK(bytes.back() == 0xAB);
}

TEST_CASE("each runtime defines its SONAME's version node", "[runtime][frameworks]") {
  void* runtime_13 = dlopen("libcudart.so.13", RTLD_NOW | RTLD_NOLOAD);
  REQUIRE(runtime_13 != nullptr);
  CHECK(dlvsym(runtime_13, "cudaMalloc", "libcudart.so.13") != nullptr);
  CHECK(dlvsym(runtime_13, "__cudaRegisterFatBinary", "libcudart.so.13") != nullptr);
  REQUIRE(runtime_12() != nullptr);
  CHECK(dlvsym(runtime_12(), "cudaMalloc", "libcudart.so.12") != nullptr);
  CHECK(dlvsym(runtime_12(), "cudaStreamGetCaptureInfo_v2", "libcudart.so.12") != nullptr);
  CHECK(dlvsym(runtime_12(), "cudaMalloc", "libcudart.so.13") == nullptr);
}

TEST_CASE("events complete at once; foreign handles are refused", "[runtime][frameworks]") {
  FakeMachine machine;
  cudaEvent_t start = nullptr;
  cudaEvent_t end = nullptr;
  REQUIRE(cudaEventCreateWithFlags(&start, cudaEventDisableTiming) == cudaSuccess);
  REQUIRE(cudaEventCreate(&end) == cudaSuccess);
  CHECK(cudaEventRecord(start, nullptr) == cudaSuccess);
  CHECK(cudaEventRecord(end, nullptr) == cudaSuccess);
  CHECK(cudaEventQuery(end) == cudaSuccess);
  CHECK(cudaEventSynchronize(end) == cudaSuccess);
  float ms = -1;
  CHECK(cudaEventElapsedTime(&ms, start, end) == cudaSuccess);
  CHECK(ms == 0.0f);
  CHECK(cudaStreamWaitEvent(nullptr, end, 0) == cudaSuccess);
  CHECK(cudaEventDestroy(start) == cudaSuccess);
  CHECK(cudaEventDestroy(end) == cudaSuccess);
  int not_an_event = 0;
  CHECK(cudaEventQuery(reinterpret_cast<cudaEvent_t>(&not_an_event)) == cudaErrorInvalidResourceHandle);
  CHECK(cudaGetLastError() == cudaErrorInvalidResourceHandle);
}

TEST_CASE("kernel launches are accepted and run nothing", "[runtime][frameworks]") {
  FakeMachine machine;
  // What nvcc's generated stub does for kernel<<<grid, block, shared, stream>>>.
  CHECK(__cudaPushCallConfiguration(dim3(4), dim3(256), 128, nullptr) == 0);
  dim3 grid;
  dim3 block;
  size_t shared = 0;
  cudaStream_t stream = reinterpret_cast<cudaStream_t>(0x1);
  REQUIRE(__cudaPopCallConfiguration(&grid, &block, &shared, &stream) == cudaSuccess);
  CHECK(grid.x == 4);
  CHECK(block.x == 256);
  CHECK(shared == 128);
  CHECK(stream == nullptr);
  CHECK(__cudaPopCallConfiguration(&grid, &block, &shared, &stream) == cudaErrorMissingConfiguration);

  int kernel_stand_in = 0;
  CHECK(cudaLaunchKernel(&kernel_stand_in, dim3(1), dim3(1024), nullptr, 0, nullptr) == cudaSuccess);
  CHECK(cudaLaunchKernel(&kernel_stand_in, dim3(1), dim3(2048), nullptr, 0, nullptr) == cudaErrorInvalidConfiguration);
  cudaGetLastError();
}

TEST_CASE("copies move host memory only; reads from the device are zeros", "[runtime][frameworks]") {
  FakeMachine machine;
  void* device = nullptr;
  REQUIRE(cudaMalloc(&device, kMiB) == cudaSuccess);
  std::vector<int> source = {1, 2, 3, 4};
  std::vector<int> target(4, -1);
  CHECK(cudaMemcpy(target.data(), source.data(), sizeof(int) * 4, cudaMemcpyHostToHost) == cudaSuccess);
  CHECK(target == source);
  CHECK(cudaMemcpy(device, source.data(), sizeof(int) * 4, cudaMemcpyHostToDevice) == cudaSuccess);
  CHECK(cudaMemcpyAsync(target.data(), device, sizeof(int) * 4, cudaMemcpyDeviceToHost, nullptr) == cudaSuccess);
  CHECK(target == std::vector<int>(4, 0));
  CHECK(cudaMemsetAsync(device, 0xff, kMiB, nullptr) == cudaSuccess);

  cudaPointerAttributes attributes{};
  REQUIRE(cudaPointerGetAttributes(&attributes, device) == cudaSuccess);
  CHECK(attributes.type == cudaMemoryTypeDevice);
  CHECK(attributes.device == 0);
  REQUIRE(cudaPointerGetAttributes(&attributes, source.data()) == cudaSuccess);
  CHECK(attributes.type == cudaMemoryTypeUnregistered);
  CHECK(cudaFree(device) == cudaSuccess);
}

TEST_CASE("streams never capture; graphs are not simulated", "[runtime][frameworks]") {
  FakeMachine machine;
  cudaStream_t stream = nullptr;
  REQUIRE(cudaStreamCreateWithPriority(&stream, cudaStreamNonBlocking, -5) == cudaSuccess);
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusActive;
  CHECK(cudaStreamIsCapturing(stream, &status) == cudaSuccess);
  CHECK(status == cudaStreamCaptureStatusNone);
  CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal) == cudaErrorNotSupported);
  cudaGetLastError();
  int least = 1;
  int greatest = 1;
  CHECK(cudaDeviceGetStreamPriorityRange(&least, &greatest) == cudaSuccess);
  CHECK(least == 0);
  CHECK(greatest == -5);
  CHECK(cudaStreamQuery(stream) == cudaSuccess);
  CHECK(cudaStreamDestroy(stream) == cudaSuccess);
}

TEST_CASE("driver: every attribute it knows answers; PyTorch's start-up lookups resolve", "[driver][frameworks]") {
  FakeMachine machine;
  int value = -1;
  CHECK(cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED, 0) == CUDA_SUCCESS);
  CHECK(value == 0);
  CHECK(cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED, 0) ==
        CUDA_SUCCESS);
  CHECK(value == 1);
  CHECK(cuDeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_MAX, 0) == CUDA_ERROR_INVALID_VALUE);

  unsigned int flags = 1;
  int active = -1;
  CHECK(cuDevicePrimaryCtxGetState(0, &flags, &active) == CUDA_SUCCESS);
  CHECK(active == 0);
  CUcontext context = nullptr;
  REQUIRE(cuDevicePrimaryCtxRetain(&context, 0) == CUDA_SUCCESS);
  CHECK(cuDevicePrimaryCtxGetState(0, &flags, &active) == CUDA_SUCCESS);
  CHECK(active == 1);

  // PyTorch's DriverAPI asserts that each of these resolves.
  for (const char* name : {"cuMemExportToShareableHandle", "cuMemImportFromShareableHandle", "cuMemsetD32Async",
                           "cuStreamWriteValue32", "cuGetErrorString", "cuMulticastCreate", "cuGreenCtxCreate"}) {
    void* function = nullptr;
    CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    INFO(name);
    CHECK(cuGetProcAddress_v2(name, &function, 12080, 0, &status) == CUDA_SUCCESS);
    CHECK(status == CU_GET_PROC_ADDRESS_SUCCESS);
  }

  // No fabric: the probe PyTorch makes before POSIX file descriptors.
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_FABRIC;
  CUmemGenericAllocationHandle handle = 0;
  CHECK(cuMemCreate(&handle, 2 * kMiB, &prop, 0) == CUDA_ERROR_NOT_SUPPORTED);
  prop.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  REQUIRE(cuMemCreate(&handle, 2 * kMiB, &prop, 0) == CUDA_SUCCESS);
  CUmemAllocationProp read_back{};
  CHECK(cuMemGetAllocationPropertiesFromHandle(&read_back, handle) == CUDA_SUCCESS);
  CHECK(read_back.location.type == CU_MEM_LOCATION_TYPE_DEVICE);
  CHECK(cuMemRelease(handle) == CUDA_SUCCESS);
  CHECK(cuDevicePrimaryCtxRelease(0) == CUDA_SUCCESS);
}

// What cuBLASLt and PyTorch's NVRTC wrapper dlsym from libcuda.so.1 when
// they load (seen under torch 2.11), and what torch 2.6's DriverAPI does.
TEST_CASE("driver: the names libraries dlsym from libcuda.so.1 are exported", "[driver][frameworks]") {
  void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
  REQUIRE(driver != nullptr);
  for (const char* name :
       {"cuCtxGetDevice", "cuCtxGetLimit", "cuCtxPopCurrent", "cuCtxPushCurrent", "cuDeviceGet",
        "cuDeviceGetAttribute", "cuDevicePrimaryCtxGetState", "cuDevicePrimaryCtxRelease", "cuDevicePrimaryCtxReset",
        "cuDevicePrimaryCtxRetain", "cuDriverGetVersion", "cuFuncGetAttribute", "cuFuncSetAttribute",
        "cuGetErrorName", "cuGetErrorString", "cuGetProcAddress_v2", "cuInit", "cuLaunchKernel", "cuLaunchKernelEx",
        "cuLinkAddData_v2", "cuLinkAddFile_v2", "cuLinkComplete", "cuLinkCreate_v2", "cuLinkDestroy",
        "cuMemcpyDtoH_v2", "cuModuleGetFunction", "cuModuleGetGlobal_v2", "cuModuleLoadData", "cuModuleLoadDataEx",
        "cuModuleLoadFatBinary", "cuModuleUnload", "cuOccupancyMaxActiveBlocksPerMultiprocessor",
        "cuStreamSynchronize", "cuTensorMapEncodeTiled", "cuMemAddressReserve", "cuMemCreate", "cuMemMap",
        "cuMemSetAccess", "cuMemUnmap", "cuMemRelease", "cuMemAddressFree", "cuMemGetAllocationGranularity",
        "cuMemExportToShareableHandle", "cuMemImportFromShareableHandle", "cuMemsetD32Async",
        "cuStreamWriteValue32", "cuMulticastCreate", "cuMulticastAddDevice", "cuMulticastBindMem"}) {
    INFO(name);
    CHECK(dlsym(driver, name) != nullptr);
  }
  FakeMachine machine;
  size_t limit = 0;
  CHECK(cuCtxGetLimit(&limit, CU_LIMIT_STACK_SIZE) == CUDA_SUCCESS);
  CHECK(limit == 1024);
  CUmodule module = nullptr;
  CHECK(cuModuleLoadData(&module, "") == CUDA_ERROR_NOT_SUPPORTED);
}

TEST_CASE("NVML answers what PyTorch's DriverAPI looks up", "[nvml][frameworks]") {
  FakeMachine machine;
  int version = 0;
  CHECK(nvmlSystemGetCudaDriverVersion_v2(&version) == NVML_SUCCESS);
  CHECK(version == 13000);
  REQUIRE(nvmlInit_v2() == NVML_SUCCESS);
  nvmlDevice_t device = nullptr;
  REQUIRE(nvmlDeviceGetHandleByIndex_v2(0, &device) == NVML_SUCCESS);
  CHECK(nvmlDeviceGetNvLinkRemoteDeviceType(device, 0, nullptr) == NVML_ERROR_NOT_SUPPORTED);
  CHECK(nvmlShutdown() == NVML_SUCCESS);
}
