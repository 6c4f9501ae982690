// Fake CUDA runtime (libcudart.so.13) for tests.
//
// It reaches the driver exactly as NVIDIA's cudart does: it does not link
// libcuda; on first use it dlopen()s "libcuda.so.1" (RTLD_LOCAL), dlsym()s
// cuGetProcAddress_v2 and obtains every other driver function through that
// pointer, by base name and the ABI version of the variant it calls (plus
// CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM for the _ptsz variants). A
// tracer that hooks cuGetProcAddress therefore sees the same lookups it
// would see under the real runtime.
//
// Simulated: per-thread current device, lazy primary-context activation
// before any allocation, the allocation API surface (plain, pitched, 3D,
// managed, pinned host, stream-ordered, pools), per-thread last error, error
// names, and cudaGetDriverEntryPoint*. Device description, events, streams
// and capture, kernel launches and copies live in the sibling
// fake_runtime_*.cpp files; cudaDeviceReset is not simulated.
#include <dlfcn.h>

#include <map>
#include <mutex>

#include "fake_runtime_internal.h"

// Per-thread default stream variants; cuda_runtime_api.h only declares them
// for CUDA_API_PER_THREAD_DEFAULT_STREAM builds (under the unversioned names).
extern "C" {
cudaError_t CUDARTAPI cudaMallocAsync_ptsz(void** devPtr, size_t size, cudaStream_t hStream);
cudaError_t CUDARTAPI cudaFreeAsync_ptsz(void* devPtr, cudaStream_t hStream);
cudaError_t CUDARTAPI cudaMallocFromPoolAsync_ptsz(void** ptr, size_t size, cudaMemPool_t memPool,
                                                   cudaStream_t stream);
cudaError_t CUDARTAPI cudaGetDriverEntryPoint_ptsz(const char* symbol, void** funcPtr, unsigned long long flags,
                                                   cudaDriverEntryPointQueryResult* driverStatus);
cudaError_t CUDARTAPI cudaGetDriverEntryPointByVersion_ptsz(const char* symbol, void** funcPtr,
                                                            unsigned int cudaVersion, unsigned long long flags,
                                                            cudaDriverEntryPointQueryResult* driverStatus);
}

namespace fake_cudart {
namespace {

constexpr std::size_t kPitchAlignment = 512;
// The pitched driver call requires an element size of 4, 8 or 16; the fake
// driver's pitch does not depend on it.
constexpr unsigned int kPitchElementSize = 16;

struct LoadedDriver {
  cudaError_t status = cudaErrorInsufficientDriver;  // sticky, like cudart's init failure
  DriverApi api;
};

}  // namespace

cudaError_t to_runtime_error(CUresult result) {
  switch (result) {
    case CUDA_SUCCESS: return cudaSuccess;
    case CUDA_ERROR_INVALID_VALUE: return cudaErrorInvalidValue;
    case CUDA_ERROR_OUT_OF_MEMORY: return cudaErrorMemoryAllocation;
    case CUDA_ERROR_NOT_INITIALIZED: return cudaErrorInitializationError;
    case CUDA_ERROR_DEINITIALIZED: return cudaErrorCudartUnloading;
    case CUDA_ERROR_NO_DEVICE: return cudaErrorNoDevice;
    case CUDA_ERROR_INVALID_DEVICE: return cudaErrorInvalidDevice;
    case CUDA_ERROR_INVALID_CONTEXT: return cudaErrorDeviceUninitialized;
    case CUDA_ERROR_INVALID_HANDLE: return cudaErrorInvalidResourceHandle;
    case CUDA_ERROR_NOT_FOUND: return cudaErrorSymbolNotFound;
    case CUDA_ERROR_NOT_PERMITTED: return cudaErrorNotPermitted;
    case CUDA_ERROR_NOT_SUPPORTED: return cudaErrorNotSupported;
    default: return cudaErrorUnknown;
  }
}

namespace {

// ------------------------------------------------------------ driver loading

template <typename Pfn>
bool resolve(PFN_cuGetProcAddress_v12000 get_proc_address, Pfn* out, const char* base_name, int version,
             cuuint64_t flags = CU_GET_PROC_ADDRESS_DEFAULT) {
  void* function = nullptr;
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  if (get_proc_address(base_name, &function, version, flags, &status) != CUDA_SUCCESS) return false;
  *out = reinterpret_cast<Pfn>(function);
  return status == CU_GET_PROC_ADDRESS_SUCCESS && function != nullptr;
}

bool resolve_all(DriverApi& api) {
  const auto get = api.cuGetProcAddress;
  constexpr cuuint64_t kPerThread = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
  return resolve(get, &api.cuInit, "cuInit", 2000) &&
         resolve(get, &api.cuDeviceGetCount, "cuDeviceGetCount", 2000) &&
         resolve(get, &api.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", 7000) &&
         resolve(get, &api.cuCtxSetCurrent, "cuCtxSetCurrent", 4000) &&
         resolve(get, &api.cuCtxGetCurrent, "cuCtxGetCurrent", 4000) &&
         resolve(get, &api.cuCtxGetDevice, "cuCtxGetDevice", 2000) &&
         resolve(get, &api.cuCtxSynchronize, "cuCtxSynchronize", 2000) &&
         resolve(get, &api.cuMemGetInfo, "cuMemGetInfo", 3020) &&
         resolve(get, &api.cuMemAlloc, "cuMemAlloc", 3020) &&
         resolve(get, &api.cuMemAllocPitch, "cuMemAllocPitch", 3020) &&
         resolve(get, &api.cuMemFree, "cuMemFree", 3020) &&
         resolve(get, &api.cuMemAllocManaged, "cuMemAllocManaged", 6000) &&
         resolve(get, &api.cuMemAllocHost, "cuMemAllocHost", 3020) &&
         resolve(get, &api.cuMemHostAlloc, "cuMemHostAlloc", 2020) &&
         resolve(get, &api.cuMemFreeHost, "cuMemFreeHost", 2000) &&
         resolve(get, &api.cuStreamCreate, "cuStreamCreate", 2000) &&
         resolve(get, &api.cuStreamDestroy, "cuStreamDestroy", 4000) &&
         resolve(get, &api.cuStreamSynchronize, "cuStreamSynchronize", 2000) &&
         resolve(get, &api.cuMemAllocAsync, "cuMemAllocAsync", 11020) &&
         resolve(get, &api.cuMemAllocAsync_ptsz, "cuMemAllocAsync", 11020, kPerThread) &&
         resolve(get, &api.cuMemFreeAsync, "cuMemFreeAsync", 11020) &&
         resolve(get, &api.cuMemFreeAsync_ptsz, "cuMemFreeAsync", 11020, kPerThread) &&
         resolve(get, &api.cuMemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 11020) &&
         resolve(get, &api.cuMemAllocFromPoolAsync_ptsz, "cuMemAllocFromPoolAsync", 11020, kPerThread) &&
         resolve(get, &api.cuDeviceGetDefaultMemPool, "cuDeviceGetDefaultMemPool", 11020) &&
         resolve(get, &api.cuMemPoolCreate, "cuMemPoolCreate", 11020) &&
         resolve(get, &api.cuMemPoolDestroy, "cuMemPoolDestroy", 11020) &&
         resolve(get, &api.cuMemPoolSetAttribute, "cuMemPoolSetAttribute", 11020) &&
         resolve(get, &api.cuMemPoolGetAttribute, "cuMemPoolGetAttribute", 11020) &&
         resolve(get, &api.cuMemPoolTrimTo, "cuMemPoolTrimTo", 11020) &&
         resolve(get, &api.cuDriverGetVersion, "cuDriverGetVersion", 2020) &&
         resolve(get, &api.cuDeviceGetName, "cuDeviceGetName", 2000) &&
         resolve(get, &api.cuDeviceTotalMem, "cuDeviceTotalMem", 3020) &&
         resolve(get, &api.cuDeviceGetAttribute, "cuDeviceGetAttribute", 2000) &&
         resolve(get, &api.cuDeviceGetPCIBusId, "cuDeviceGetPCIBusId", 4010);
}

LoadedDriver load_driver() {
  LoadedDriver driver;
  void* library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) return driver;
  driver.api.cuGetProcAddress =
      reinterpret_cast<PFN_cuGetProcAddress_v12000>(dlsym(library, "cuGetProcAddress_v2"));
  if (driver.api.cuGetProcAddress == nullptr || !resolve_all(driver.api)) return driver;
  driver.status = to_runtime_error(driver.api.cuInit(0));
  return driver;
}

// Loaded once, thread-safely (a function-local static is initialized under
// the same guarantee as std::call_once). The library handle is never closed.
const LoadedDriver& driver() {
  static const LoadedDriver loaded = load_driver();
  return loaded;
}

// ------------------------------------------------------------ per-thread state

thread_local int t_device = 0;
thread_local cudaError_t t_last_error = cudaSuccess;

}  // namespace

const DriverApi& api() { return driver().api; }

cudaError_t driver_status() { return driver().status; }

cudaError_t record(cudaError_t error) {
  if (error != cudaSuccess) t_last_error = error;
  return error;
}

cudaError_t record(CUresult result) { return record(to_runtime_error(result)); }

namespace {

// Primary contexts are retained once per device and never released, like
// cudart (which only lets go at cudaDeviceReset or exit).
cudaError_t primary_context(int device, CUcontext* context) {
  static std::mutex mutex;
  static std::map<int, CUcontext> retained;
  std::lock_guard<std::mutex> lock(mutex);
  auto found = retained.find(device);
  if (found == retained.end()) {
    CUcontext created = nullptr;
    const CUresult result = api().cuDevicePrimaryCtxRetain(&created, device);
    if (result != CUDA_SUCCESS) return to_runtime_error(result);
    found = retained.emplace(device, created).first;
  }
  *context = found->second;
  return cudaSuccess;
}

cudaError_t make_primary_context_current(int device) {
  CUcontext context = nullptr;
  const cudaError_t retained = primary_context(device, &context);
  if (retained != cudaSuccess) return retained;
  return to_runtime_error(api().cuCtxSetCurrent(context));
}

}  // namespace

// Lazy context activation done by every runtime call that needs a device: a
// context already current on the thread (possibly set through the driver
// API) is used as is; otherwise the current device's primary context is
// made current.
cudaError_t ensure_context() {
  if (driver().status != cudaSuccess) return driver().status;
  CUcontext current = nullptr;
  const CUresult queried = api().cuCtxGetCurrent(&current);
  if (queried != CUDA_SUCCESS) return to_runtime_error(queried);
  if (current != nullptr) return cudaSuccess;
  return make_primary_context_current(t_device);
}

cudaError_t check_device(int device) {
  if (driver().status != cudaSuccess) return driver().status;
  int count = 0;
  api().cuDeviceGetCount(&count);
  return device >= 0 && device < count ? cudaSuccess : cudaErrorInvalidDevice;
}

namespace {

std::size_t round_up(std::size_t value, std::size_t multiple) { return (value + multiple - 1) / multiple * multiple; }

cudaError_t entry_point(const char* symbol, void** funcPtr, int cuda_version, unsigned long long flags,
                        cudaDriverEntryPointQueryResult* driverStatus) {
  if (driver().status != cudaSuccess) return record(driver().status);
  if (symbol == nullptr || funcPtr == nullptr) return record(cudaErrorInvalidValue);
  CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  const CUresult result = api().cuGetProcAddress(symbol, funcPtr, cuda_version, flags, &status);
  if (driverStatus != nullptr) *driverStatus = static_cast<cudaDriverEntryPointQueryResult>(status);
  // Documented: an unknown or too-new symbol is cudaSuccess with a null
  // pointer; only the status tells why.
  if (result == CUDA_ERROR_NOT_FOUND) return cudaSuccess;
  return record(result);
}

// cudaEnableDefault means per-thread lookups for the _ptsz entry points.
unsigned long long per_thread_flags(unsigned long long flags) {
  constexpr unsigned long long kStreamModes = cudaEnableLegacyStream | cudaEnablePerThreadDefaultStream;
  return (flags & kStreamModes) == 0 ? flags | cudaEnablePerThreadDefaultStream : flags;
}

// ------------------------------------------------------------ shared allocation paths

cudaError_t malloc_async(PFN_cuMemAllocAsync_v11020 allocate, void** devPtr, size_t size, cudaStream_t stream) {
  if (devPtr == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  if (size == 0) {
    *devPtr = nullptr;
    return cudaSuccess;
  }
  CUdeviceptr address = 0;
  const CUresult result = allocate(&address, size, stream);
  if (result == CUDA_SUCCESS) *devPtr = reinterpret_cast<void*>(address);
  return record(result);
}

cudaError_t free_async(PFN_cuMemFreeAsync_v11020 release, void* devPtr, cudaStream_t stream) {
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  return record(release(reinterpret_cast<CUdeviceptr>(devPtr), stream));
}

cudaError_t malloc_from_pool_async(PFN_cuMemAllocFromPoolAsync_v11020 allocate, void** ptr, size_t size,
                                   cudaMemPool_t pool, cudaStream_t stream) {
  if (ptr == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  if (size == 0) {
    *ptr = nullptr;
    return cudaSuccess;
  }
  CUdeviceptr address = 0;
  const CUresult result = allocate(&address, size, pool, stream);
  if (result == CUDA_SUCCESS) *ptr = reinterpret_cast<void*>(address);
  return record(result);
}

// Row pitch and allocation through cuMemAllocPitch; zero-sized requests
// succeed with a null pointer as cudaMalloc's do.
cudaError_t malloc_pitched(size_t width, size_t rows, void** devPtr, size_t* pitch) {
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return ready;
  if (width == 0 || rows == 0) {
    *devPtr = nullptr;
    *pitch = round_up(width, kPitchAlignment);
    return cudaSuccess;
  }
  CUdeviceptr address = 0;
  const CUresult result = api().cuMemAllocPitch(&address, pitch, width, rows, kPitchElementSize);
  if (result == CUDA_SUCCESS) *devPtr = reinterpret_cast<void*>(address);
  return to_runtime_error(result);
}

// ------------------------------------------------------------ error text

struct RuntimeErrorText {
  cudaError_t code;
  const char* name;
  const char* description;
};

#define FAKE_CUDART_ERROR(code, description) {code, #code, description}
constexpr RuntimeErrorText kRuntimeErrorTexts[] = {
    FAKE_CUDART_ERROR(cudaSuccess, "no error"),
    FAKE_CUDART_ERROR(cudaErrorInvalidValue, "invalid argument"),
    FAKE_CUDART_ERROR(cudaErrorMemoryAllocation, "out of memory"),
    FAKE_CUDART_ERROR(cudaErrorInitializationError, "initialization error"),
    FAKE_CUDART_ERROR(cudaErrorCudartUnloading, "driver shutting down"),
    FAKE_CUDART_ERROR(cudaErrorInsufficientDriver, "CUDA driver version is insufficient for CUDA runtime version"),
    FAKE_CUDART_ERROR(cudaErrorNoDevice, "no CUDA-capable device is detected"),
    FAKE_CUDART_ERROR(cudaErrorInvalidDevice, "invalid device ordinal"),
    FAKE_CUDART_ERROR(cudaErrorDeviceUninitialized, "invalid device context"),
    FAKE_CUDART_ERROR(cudaErrorInvalidResourceHandle, "invalid resource handle"),
    FAKE_CUDART_ERROR(cudaErrorSymbolNotFound, "named symbol not found"),
    FAKE_CUDART_ERROR(cudaErrorNotPermitted, "operation not permitted"),
    FAKE_CUDART_ERROR(cudaErrorNotSupported, "operation not supported"),
    FAKE_CUDART_ERROR(cudaErrorUnknown, "unknown error"),
};
#undef FAKE_CUDART_ERROR

const RuntimeErrorText* find_runtime_error_text(cudaError_t error) {
  for (const RuntimeErrorText& entry : kRuntimeErrorTexts) {
    if (entry.code == error) return &entry;
  }
  return nullptr;
}

}  // namespace
}  // namespace fake_cudart

using namespace fake_cudart;

// ------------------------------------------------------------ devices and errors

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGetDeviceCount(int* count) {
  if (count == nullptr) return record(cudaErrorInvalidValue);
  *count = 0;
  if (driver().status != cudaSuccess) return record(driver().status);
  return record(api().cuDeviceGetCount(count));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaSetDevice(int device) {
  const cudaError_t valid = check_device(device);
  if (valid != cudaSuccess) return record(valid);
  // Since CUDA 12 cudaSetDevice initializes the device's primary context
  // right away instead of at the next call that needs it.
  const cudaError_t activated = make_primary_context_current(device);
  if (activated == cudaSuccess) t_device = device;
  return record(activated);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGetDevice(int* device) {
  if (device == nullptr) return record(cudaErrorInvalidValue);
  if (driver().status != cudaSuccess) return record(driver().status);
  CUcontext current = nullptr;
  api().cuCtxGetCurrent(&current);
  // A context made current through the driver API decides the device.
  if (current != nullptr) return record(api().cuCtxGetDevice(device));
  *device = t_device;
  return cudaSuccess;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaDeviceSynchronize(void) {
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  return record(api().cuCtxSynchronize());
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemGetInfo(size_t* free, size_t* total) {
  if (free == nullptr || total == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  return record(api().cuMemGetInfo(free, total));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGetLastError(void) {
  const cudaError_t error = t_last_error;
  t_last_error = cudaSuccess;
  return error;
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaPeekAtLastError(void) { return t_last_error; }

FAKE_CUDART_EXPORT const char* CUDARTAPI cudaGetErrorName(cudaError_t error) {
  const RuntimeErrorText* text = find_runtime_error_text(error);
  return text != nullptr ? text->name : "unrecognized error code";
}

FAKE_CUDART_EXPORT const char* CUDARTAPI cudaGetErrorString(cudaError_t error) {
  const RuntimeErrorText* text = find_runtime_error_text(error);
  return text != nullptr ? text->description : "unrecognized error code";
}

// ------------------------------------------------------------ streams

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaStreamCreate(cudaStream_t* pStream) {
  if (pStream == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  return record(api().cuStreamCreate(pStream, CU_STREAM_DEFAULT));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaStreamDestroy(cudaStream_t stream) {
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  return record(api().cuStreamDestroy(stream));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaStreamSynchronize(cudaStream_t stream) {
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  return record(api().cuStreamSynchronize(stream));
}

// ------------------------------------------------------------ device memory

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMalloc(void** devPtr, size_t size) {
  if (devPtr == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  if (size == 0) {
    *devPtr = nullptr;
    return cudaSuccess;
  }
  CUdeviceptr address = 0;
  const CUresult result = api().cuMemAlloc(&address, size);
  if (result == CUDA_SUCCESS) *devPtr = reinterpret_cast<void*>(address);
  return record(result);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaFree(void* devPtr) {
  // cudaFree(nullptr) is the classic way to force context creation.
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  if (devPtr == nullptr) return cudaSuccess;
  return record(api().cuMemFree(reinterpret_cast<CUdeviceptr>(devPtr)));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMallocPitch(void** devPtr, size_t* pitch, size_t width, size_t height) {
  if (devPtr == nullptr || pitch == nullptr) return record(cudaErrorInvalidValue);
  return record(malloc_pitched(width, height, devPtr, pitch));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMalloc3D(cudaPitchedPtr* pitchedDevPtr, cudaExtent extent) {
  if (pitchedDevPtr == nullptr) return record(cudaErrorInvalidValue);
  if (extent.depth != 0 && extent.height > SIZE_MAX / extent.depth) return record(cudaErrorMemoryAllocation);
  void* pointer = nullptr;
  size_t pitch = 0;
  // A 3D block is `depth` slices of `height` pitched rows each.
  const cudaError_t result = malloc_pitched(extent.width, extent.height * extent.depth, &pointer, &pitch);
  if (result == cudaSuccess) *pitchedDevPtr = cudaPitchedPtr{pointer, pitch, extent.width, extent.height};
  return record(result);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMallocManaged(void** devPtr, size_t size, unsigned int flags) {
  if (devPtr == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  CUdeviceptr address = 0;
  // cudaMemAttachGlobal/Host have the driver's CU_MEM_ATTACH_* values.
  const CUresult result = api().cuMemAllocManaged(&address, size, flags);
  if (result == CUDA_SUCCESS) *devPtr = reinterpret_cast<void*>(address);
  return record(result);
}

// ------------------------------------------------------------ pinned host memory

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMallocHost(void** ptr, size_t size) {
  if (ptr == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  if (size == 0) {
    *ptr = nullptr;
    return cudaSuccess;
  }
  return record(api().cuMemAllocHost(ptr, size));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaHostAlloc(void** pHost, size_t size, unsigned int flags) {
  if (pHost == nullptr) return record(cudaErrorInvalidValue);
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  if (size == 0) {
    *pHost = nullptr;
    return cudaSuccess;
  }
  // cudaHostAlloc* flags have the driver's CU_MEMHOSTALLOC_* values.
  return record(api().cuMemHostAlloc(pHost, size, flags));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaFreeHost(void* ptr) {
  const cudaError_t ready = ensure_context();
  if (ready != cudaSuccess) return record(ready);
  return record(api().cuMemFreeHost(ptr));
}

// ------------------------------------------------------------ stream-ordered allocation

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMallocAsync(void** devPtr, size_t size, cudaStream_t hStream) {
  return malloc_async(api().cuMemAllocAsync, devPtr, size, hStream);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMallocAsync_ptsz(void** devPtr, size_t size, cudaStream_t hStream) {
  return malloc_async(api().cuMemAllocAsync_ptsz, devPtr, size, hStream);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaFreeAsync(void* devPtr, cudaStream_t hStream) {
  return free_async(api().cuMemFreeAsync, devPtr, hStream);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaFreeAsync_ptsz(void* devPtr, cudaStream_t hStream) {
  return free_async(api().cuMemFreeAsync_ptsz, devPtr, hStream);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMallocFromPoolAsync(void** ptr, size_t size, cudaMemPool_t memPool,
                                                                 cudaStream_t stream) {
  return malloc_from_pool_async(api().cuMemAllocFromPoolAsync, ptr, size, memPool, stream);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMallocFromPoolAsync_ptsz(void** ptr, size_t size, cudaMemPool_t memPool,
                                                                      cudaStream_t stream) {
  return malloc_from_pool_async(api().cuMemAllocFromPoolAsync_ptsz, ptr, size, memPool, stream);
}

// ------------------------------------------------------------ pools

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaDeviceGetDefaultMemPool(cudaMemPool_t* memPool, int device) {
  if (driver().status != cudaSuccess) return record(driver().status);
  return record(api().cuDeviceGetDefaultMemPool(memPool, device));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemPoolCreate(cudaMemPool_t* memPool, const cudaMemPoolProps* poolProps) {
  if (poolProps == nullptr) return record(cudaErrorInvalidValue);
  if (driver().status != cudaSuccess) return record(driver().status);
  // Field by field: the runtime and driver structs match today, but copying
  // keeps the fake correct should one of them grow.
  CUmemPoolProps props{};
  props.allocType = static_cast<CUmemAllocationType>(poolProps->allocType);
  props.handleTypes = static_cast<CUmemAllocationHandleType>(poolProps->handleTypes);
  props.location.type = static_cast<CUmemLocationType>(poolProps->location.type);
  props.location.id = poolProps->location.id;
  props.win32SecurityAttributes = poolProps->win32SecurityAttributes;
  props.maxSize = poolProps->maxSize;
  props.usage = poolProps->usage;
  return record(api().cuMemPoolCreate(memPool, &props));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemPoolDestroy(cudaMemPool_t memPool) {
  if (driver().status != cudaSuccess) return record(driver().status);
  return record(api().cuMemPoolDestroy(memPool));
}

// cudaMemPoolAttr values equal the driver's CUmemPool_attribute values.
FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemPoolSetAttribute(cudaMemPool_t memPool, cudaMemPoolAttr attr,
                                                                 void* value) {
  if (driver().status != cudaSuccess) return record(driver().status);
  return record(api().cuMemPoolSetAttribute(memPool, static_cast<CUmemPool_attribute>(attr), value));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemPoolGetAttribute(cudaMemPool_t memPool, cudaMemPoolAttr attr,
                                                                 void* value) {
  if (driver().status != cudaSuccess) return record(driver().status);
  return record(api().cuMemPoolGetAttribute(memPool, static_cast<CUmemPool_attribute>(attr), value));
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaMemPoolTrimTo(cudaMemPool_t memPool, size_t minBytesToKeep) {
  if (driver().status != cudaSuccess) return record(driver().status);
  return record(api().cuMemPoolTrimTo(memPool, minBytesToKeep));
}

// ------------------------------------------------------------ driver entry points

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGetDriverEntryPoint(const char* symbol, void** funcPtr,
                                                                 unsigned long long flags,
                                                                 cudaDriverEntryPointQueryResult* driverStatus) {
  return entry_point(symbol, funcPtr, kRuntimeVersion, flags, driverStatus);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGetDriverEntryPoint_ptsz(const char* symbol, void** funcPtr,
                                                                      unsigned long long flags,
                                                                      cudaDriverEntryPointQueryResult* driverStatus) {
  return entry_point(symbol, funcPtr, kRuntimeVersion, per_thread_flags(flags), driverStatus);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGetDriverEntryPointByVersion(const char* symbol, void** funcPtr,
                                                                          unsigned int cudaVersion,
                                                                          unsigned long long flags,
                                                                          cudaDriverEntryPointQueryResult* driverStatus) {
  return entry_point(symbol, funcPtr, static_cast<int>(cudaVersion), flags, driverStatus);
}

FAKE_CUDART_EXPORT cudaError_t CUDARTAPI cudaGetDriverEntryPointByVersion_ptsz(
    const char* symbol, void** funcPtr, unsigned int cudaVersion, unsigned long long flags,
    cudaDriverEntryPointQueryResult* driverStatus) {
  return entry_point(symbol, funcPtr, static_cast<int>(cudaVersion), per_thread_flags(flags), driverStatus);
}
