// Fake runtime: device description (properties, attributes, versions, PCI
// ids, peers) and pointer queries. Like NVIDIA's cudart, every figure comes
// from the driver (cuDeviceGetAttribute, cuDeviceGetName, cuDeviceTotalMem),
// so the runtime and driver can never disagree about a device.
#include <cstdint>
#include <cstring>

#include "fake_runtime_internal.h"

using namespace fake_cudart;

namespace {

int attribute(CUdevice_attribute which, int device) {
  int value = 0;
  api().cuDeviceGetAttribute(&value, which, device);
  return value;
}

// The fields CUDA 12 and 13 share, filled the same way for both layouts.
template <typename Properties>
void fill_common_properties(Properties& p, int device) {
  api().cuDeviceGetName(p.name, sizeof(p.name), device);
  std::memset(&p.uuid, 0, sizeof(p.uuid));
  p.uuid.bytes[0] = static_cast<char>(0xfa);
  p.uuid.bytes[15] = static_cast<char>(device);
  api().cuDeviceTotalMem(&p.totalGlobalMem, device);
  p.sharedMemPerBlock = static_cast<size_t>(attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, device));
  p.regsPerBlock = attribute(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK, device);
  p.warpSize = attribute(CU_DEVICE_ATTRIBUTE_WARP_SIZE, device);
  p.memPitch = static_cast<size_t>(attribute(CU_DEVICE_ATTRIBUTE_MAX_PITCH, device));
  p.maxThreadsPerBlock = attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, device);
  p.maxThreadsDim[0] = attribute(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, device);
  p.maxThreadsDim[1] = attribute(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y, device);
  p.maxThreadsDim[2] = attribute(CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, device);
  p.maxGridSize[0] = attribute(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, device);
  p.maxGridSize[1] = attribute(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, device);
  p.maxGridSize[2] = attribute(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, device);
  p.totalConstMem = static_cast<size_t>(attribute(CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY, device));
  p.major = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
  p.minor = attribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
  p.textureAlignment = static_cast<size_t>(attribute(CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT, device));
  p.multiProcessorCount = attribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
  p.integrated = attribute(CU_DEVICE_ATTRIBUTE_INTEGRATED, device);
  p.canMapHostMemory = attribute(CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, device);
  p.concurrentKernels = attribute(CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS, device);
  p.pciBusID = attribute(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, device);
  p.pciDeviceID = attribute(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID, device);
  p.pciDomainID = attribute(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID, device);
  p.asyncEngineCount = attribute(CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT, device);
  p.unifiedAddressing = attribute(CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, device);
  p.memoryBusWidth = attribute(CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, device);
  p.l2CacheSize = attribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, device);
  p.maxThreadsPerMultiProcessor = attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, device);
  p.streamPrioritiesSupported = attribute(CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED, device);
  p.sharedMemPerMultiprocessor =
      static_cast<size_t>(attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, device));
  p.regsPerMultiprocessor = attribute(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR, device);
  p.managedMemory = attribute(CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, device);
  p.concurrentManagedAccess = attribute(CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, device);
  p.cooperativeLaunch = attribute(CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH, device);
  p.sharedMemPerBlockOptin = static_cast<size_t>(attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, device));
  p.maxBlocksPerMultiProcessor = attribute(CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR, device);
  p.memoryPoolsSupported = attribute(CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, device);
}

// CUDA 12's cudaDeviceProp up to its last named field, as its driver_types.h
// lays it out (CUDA 13 dropped clockRate, deviceOverlap, computeMode and five
// more, so the two layouts differ after `maxThreadsPerBlock`). Only these
// bytes are written: the caller's struct is at least this long.
struct DeviceProp12 {
  char name[256];
  cudaUUID_t uuid;
  char luid[8];
  unsigned int luidDeviceNodeMask;
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  size_t memPitch;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int clockRate;
  size_t totalConstMem;
  int major;
  int minor;
  size_t textureAlignment;
  size_t texturePitchAlignment;
  int deviceOverlap;
  int multiProcessorCount;
  int kernelExecTimeoutEnabled;
  int integrated;
  int canMapHostMemory;
  int computeMode;
  int maxTexture1D, maxTexture1DMipmap, maxTexture1DLinear;
  int maxTexture2D[2], maxTexture2DMipmap[2], maxTexture2DLinear[3], maxTexture2DGather[2];
  int maxTexture3D[3], maxTexture3DAlt[3], maxTextureCubemap;
  int maxTexture1DLayered[2], maxTexture2DLayered[3], maxTextureCubemapLayered[2];
  int maxSurface1D, maxSurface2D[2], maxSurface3D[3];
  int maxSurface1DLayered[2], maxSurface2DLayered[3], maxSurfaceCubemap, maxSurfaceCubemapLayered[2];
  size_t surfaceAlignment;
  int concurrentKernels;
  int ECCEnabled;
  int pciBusID;
  int pciDeviceID;
  int pciDomainID;
  int tccDriver;
  int asyncEngineCount;
  int unifiedAddressing;
  int memoryClockRate;
  int memoryBusWidth;
  int l2CacheSize;
  int persistingL2CacheMaxSize;
  int maxThreadsPerMultiProcessor;
  int streamPrioritiesSupported;
  int globalL1CacheSupported;
  int localL1CacheSupported;
  size_t sharedMemPerMultiprocessor;
  int regsPerMultiprocessor;
  int managedMemory;
  int isMultiGpuBoard;
  int multiGpuBoardGroupID;
  int hostNativeAtomicSupported;
  int singleToDoublePrecisionPerfRatio;
  int pageableMemoryAccess;
  int concurrentManagedAccess;
  int computePreemptionSupported;
  int canUseHostPointerForRegisteredMem;
  int cooperativeLaunch;
  int cooperativeMultiDeviceLaunch;
  size_t sharedMemPerBlockOptin;
  int pageableMemoryAccessUsesHostPageTables;
  int directManagedMemAccessFromHost;
  int maxBlocksPerMultiProcessor;
  int accessPolicyMaxWindowSize;
  size_t reservedSharedMemPerBlock;
  int hostRegisterSupported;
  int sparseCudaArraySupported;
  int hostRegisterReadOnlySupported;
  int timelineSemaphoreInteropSupported;
  int memoryPoolsSupported;
};

}  // namespace

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (prop == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t valid = check_device(device);
  if (valid != cudaSuccess) return record(valid);
  cudaDeviceProp filled{};
  fill_common_properties(filled, device);
  *prop = filled;
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGetDeviceProperties_v2(void* prop, int device) {
  if (prop == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t valid = check_device(device);
  if (valid != cudaSuccess) return record(valid);
  if (FAKE_CUDA_MAJOR == 12) {
    DeviceProp12 filled{};
    fill_common_properties(filled, device);
    filled.clockRate = 1980000;  // kHz
    filled.memoryClockRate = 2619000;
    std::memcpy(prop, &filled, sizeof filled);
  } else {
    cudaDeviceProp filled{};
    fill_common_properties(filled, device);
    std::memcpy(prop, &filled, sizeof filled);
  }
  return cudaSuccess;
}

// cudaDeviceAttr values are the driver's CUdevice_attribute values.
FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device) {
  if (value == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t valid = check_device(device);
  if (valid != cudaSuccess) return record(valid);
  return record(api().cuDeviceGetAttribute(value, static_cast<CUdevice_attribute>(attr), device));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaDeviceGetPCIBusId(char* pciBusId, int len, int device) {
  const cudaError_t valid = check_device(device);
  if (valid != cudaSuccess) return record(valid);
  return record(api().cuDeviceGetPCIBusId(pciBusId, len, device));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaDriverGetVersion(int* driverVersion) {
  if (driverVersion == nullptr) return record(cudaErrorInvalidValue);
  *driverVersion = 0;  // documented: 0 when no driver is installed
  if (driver_status() != cudaSuccess) return cudaSuccess;
  return record(api().cuDriverGetVersion(driverVersion));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaRuntimeGetVersion(int* runtimeVersion) {
  if (runtimeVersion == nullptr) return record(cudaErrorInvalidValue);
  *runtimeVersion = kRuntimeVersion;
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaDeviceGetStreamPriorityRange(int* leastPriority, int* greatestPriority) {
  // An H100's range: 0 is the lowest priority, -5 the highest.
  if (leastPriority != nullptr) *leastPriority = 0;
  if (greatestPriority != nullptr) *greatestPriority = -5;
  return cudaSuccess;
}

// Simulated devices do not reach each other's memory.
FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaDeviceCanAccessPeer(int* canAccessPeer, int device, int peerDevice) {
  if (canAccessPeer == nullptr) return record(cudaErrorInvalidValue);
  cudaError_t valid = check_device(device);
  if (valid == cudaSuccess) valid = check_device(peerDevice);
  if (valid != cudaSuccess) return record(valid);
  *canAccessPeer = 0;
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaDeviceEnablePeerAccess(int, unsigned int) {
  return record(cudaErrorPeerAccessUnsupported);
}

// Device pointers come from the driver's fake windows; anything else is
// host memory the runtime does not know.
FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaPointerGetAttributes(cudaPointerAttributes* attributes, const void* ptr) {
  if (attributes == nullptr) return record(cudaErrorInvalidValue);
  *attributes = cudaPointerAttributes{};
  attributes->type = cudaMemoryTypeUnregistered;
  attributes->device = -2;  // as documented for unregistered memory
  attributes->hostPointer = const_cast<void*>(ptr);
  if (is_device_address(ptr)) {
    attributes->type = cudaMemoryTypeDevice;
    attributes->hostPointer = nullptr;
    attributes->devicePointer = const_cast<void*>(ptr);
    // VMM reservations are not tied to one device window: report the current one.
    int device = fake_cuda::device_of_address(reinterpret_cast<std::uintptr_t>(ptr));
    if (device < 0) cudaGetDevice(&device);
    attributes->device = device;
  }
  return cudaSuccess;
}
