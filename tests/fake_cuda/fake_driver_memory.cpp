// Fake driver: cuMemAlloc/cuMemFree family, pitched, managed and pinned host
// memory, memory info, and streams.
//
// Device memory is bookkeeping only (see fake_driver_state.h). Managed and
// pinned host memory is real mmap'd memory so that code under test may touch
// it; neither consumes device capacity, since on a real system managed memory
// is only resident on the device once touched there, which the fake cannot see.
// The _v2, managed and pinned entry points report to a CUPTI subscriber
// (fake_driver_api_callbacks.h); the legacy 32-bit ones do not.
#include "fake_driver_api_callbacks.h"
#include "fake_driver_context.h"
#include "fake_driver_state.h"

using namespace fake_cuda;

namespace {

constexpr std::size_t kPitchAlignment = 512;

bool is_valid_element_size(unsigned int bytes) { return bytes == 4 || bytes == 8 || bytes == 16; }

CUresult memory_info(std::size_t* free, std::size_t* total) {
  if (free == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto locked = lock_driver_state();
  const int device = device_for_work(locked.state);
  if (device < 0) return CUDA_ERROR_INVALID_CONTEXT;
  const DeviceLedger& ledger = locked.state.device(device);
  *free = ledger.free_bytes();
  *total = ledger.config.total_bytes;
  return CUDA_SUCCESS;
}

// Shared by cuMemAlloc, cuMemAlloc_v2 and the pitched variants. `out` is only
// written on success, as the real driver leaves it alone on failure.
CUresult allocate_on_current_device(std::size_t bytes, AllocationKind kind, CUdeviceptr* out) {
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  auto locked = lock_driver_state();
  const int device = device_for_work(locked.state);
  if (device < 0) return CUDA_ERROR_INVALID_CONTEXT;
  return locked.state.allocate_device_memory(device, bytes, kind, out);
}

CUresult allocate_pitched(std::size_t width, std::size_t height, unsigned int element_size, AllocationKind kind,
                          CUdeviceptr* out, std::size_t* pitch) {
  if (width == 0 || height == 0 || !is_valid_element_size(element_size)) return CUDA_ERROR_INVALID_VALUE;
  const std::size_t row_pitch = round_up(width, kPitchAlignment);
  if (row_pitch > SIZE_MAX / height) return CUDA_ERROR_OUT_OF_MEMORY;
  const CUresult result = allocate_on_current_device(row_pitch * height, kind, out);
  if (result == CUDA_SUCCESS) *pitch = row_pitch;
  return result;
}

CUresult free_device(CUdeviceptr ptr) {
  if (ptr == 0) return CUDA_SUCCESS;
  auto locked = lock_driver_state();
  return locked.state.free_device_memory(ptr);
}

CUresult allocate_host(void** pp, std::size_t bytes, bool managed) {
  if (bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  auto locked = lock_driver_state();
  if (device_for_work(locked.state) < 0) return CUDA_ERROR_INVALID_CONTEXT;
  void* pointer = locked.state.map_host_memory(bytes, managed);
  if (pointer == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
  *pp = pointer;
  return CUDA_SUCCESS;
}

CUresult destroy_stream(CUstream stream) {
  auto locked = lock_driver_state();
  return locked.state.destroy_stream(reinterpret_cast<std::uint64_t>(stream)) ? CUDA_SUCCESS
                                                                             : CUDA_ERROR_INVALID_HANDLE;
}

CUresult synchronize_stream(CUstream stream) {
  auto locked = lock_driver_state();
  int device = 0;
  return device_for_stream(locked.state, stream, &device);
}

}  // namespace

// ------------------------------------------------------------ memory info

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemGetInfo(unsigned int* free, unsigned int* total) {
  if (free == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::size_t free_bytes = 0, total_bytes = 0;
  const CUresult result = memory_info(&free_bytes, &total_bytes);
  if (result != CUDA_SUCCESS) return result;
  *free = clamp_to_uint(free_bytes);
  *total = clamp_to_uint(total_bytes);
  return CUDA_SUCCESS;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemGetInfo_v2(size_t* free, size_t* total) { return memory_info(free, total); }

// ------------------------------------------------------------ device memory

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemAlloc(CUdeviceptr_v1* dptr, unsigned int bytesize) {
  if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUdeviceptr address = 0;
  const CUresult result = allocate_on_current_device(bytesize, AllocationKind::kLegacy32, &address);
  if (result == CUDA_SUCCESS) *dptr = static_cast<CUdeviceptr_v1>(address);
  return result;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  return traced_api_call(FAKE_CUDA_TRACED(cuMemAlloc_v2), cuMemAlloc_v2_params{dptr, bytesize}, [&]() -> CUresult {
    if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return allocate_on_current_device(bytesize, AllocationKind::kDevice, dptr);
  });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemAllocPitch(CUdeviceptr_v1* dptr, unsigned int* pPitch, unsigned int WidthInBytes,
                                                  unsigned int Height, unsigned int ElementSizeBytes) {
  if (dptr == nullptr || pPitch == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUdeviceptr address = 0;
  std::size_t pitch = 0;
  const CUresult result =
      allocate_pitched(WidthInBytes, Height, ElementSizeBytes, AllocationKind::kLegacy32, &address, &pitch);
  if (result != CUDA_SUCCESS) return result;
  *dptr = static_cast<CUdeviceptr_v1>(address);
  *pPitch = clamp_to_uint(pitch);
  return CUDA_SUCCESS;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pPitch, size_t WidthInBytes,
                                                     size_t Height, unsigned int ElementSizeBytes) {
  const cuMemAllocPitch_v2_params params{dptr, pPitch, WidthInBytes, Height, ElementSizeBytes};
  return traced_api_call(FAKE_CUDA_TRACED(cuMemAllocPitch_v2), params, [&]() -> CUresult {
    if (dptr == nullptr || pPitch == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return allocate_pitched(WidthInBytes, Height, ElementSizeBytes, AllocationKind::kDevice, dptr, pPitch);
  });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemFree(CUdeviceptr_v1 dptr) { return free_device(dptr); }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemFree_v2(CUdeviceptr dptr) {
  return traced_api_call(FAKE_CUDA_TRACED(cuMemFree_v2), cuMemFree_v2_params{dptr}, [&] { return free_device(dptr); });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemAllocManaged(CUdeviceptr* dptr, size_t bytesize, unsigned int flags) {
  const cuMemAllocManaged_params params{dptr, bytesize, flags};
  return traced_api_call(FAKE_CUDA_TRACED(cuMemAllocManaged), params, [&]() -> CUresult {
    if (dptr == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST) return CUDA_ERROR_INVALID_VALUE;
    void* pointer = nullptr;
    const CUresult result = allocate_host(&pointer, bytesize, /*managed=*/true);
    if (result == CUDA_SUCCESS) *dptr = reinterpret_cast<CUdeviceptr>(pointer);
    return result;
  });
}

// ------------------------------------------------------------ pinned host memory

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemAllocHost(void** pp, unsigned int bytesize) {
  if (pp == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return allocate_host(pp, bytesize, /*managed=*/false);
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemAllocHost_v2(void** pp, size_t bytesize) {
  return traced_api_call(FAKE_CUDA_TRACED(cuMemAllocHost_v2), cuMemAllocHost_v2_params{pp, bytesize}, [&]() -> CUresult {
    if (pp == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return allocate_host(pp, bytesize, /*managed=*/false);
  });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemHostAlloc(void** pp, size_t bytesize, unsigned int Flags) {
  return traced_api_call(FAKE_CUDA_TRACED(cuMemHostAlloc), cuMemHostAlloc_params{pp, bytesize, Flags}, [&]() -> CUresult {
    constexpr unsigned int kKnownFlags =
        CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP | CU_MEMHOSTALLOC_WRITECOMBINED;
    if (pp == nullptr || (Flags & ~kKnownFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
    return allocate_host(pp, bytesize, /*managed=*/false);
  });
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuMemFreeHost(void* p) {
  return traced_api_call(FAKE_CUDA_TRACED(cuMemFreeHost), cuMemFreeHost_params{p}, [&]() -> CUresult {
    if (p == nullptr) return CUDA_SUCCESS;
    auto locked = lock_driver_state();
    return locked.state.unmap_host_memory(p, /*managed=*/false);
  });
}

// ------------------------------------------------------------ streams

FAKE_CUDA_EXPORT CUresult CUDAAPI cuStreamCreate(CUstream* phStream, unsigned int Flags) {
  if (phStream == nullptr || (Flags != CU_STREAM_DEFAULT && Flags != CU_STREAM_NON_BLOCKING)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto locked = lock_driver_state();
  const int device = device_for_work(locked.state);
  if (device < 0) return CUDA_ERROR_INVALID_CONTEXT;
  *phStream = reinterpret_cast<CUstream>(locked.state.create_stream(device));
  return CUDA_SUCCESS;
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuStreamDestroy(CUstream hStream) { return destroy_stream(hStream); }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuStreamDestroy_v2(CUstream hStream) { return destroy_stream(hStream); }

// Streams complete their work immediately, so synchronizing only validates.
FAKE_CUDA_EXPORT CUresult CUDAAPI cuStreamSynchronize(CUstream hStream) { return synchronize_stream(hStream); }

FAKE_CUDA_EXPORT CUresult CUDAAPI cuStreamSynchronize_ptsz(CUstream hStream) { return synchronize_stream(hStream); }
