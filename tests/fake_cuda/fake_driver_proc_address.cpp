// Fake driver: cuGetProcAddress / cuGetProcAddress_v2.
//
// Callers ask for a BASE name ("cuMemAlloc") plus the CUDA version they were
// built against; the driver answers with the newest variant whose ABI was
// introduced at or before that version (cuMemAlloc_v2 from 3020 on, the
// legacy cuMemAlloc before). With CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
// the _ptsz variant is preferred where one exists. The returned pointers are
// the addresses of this library's own exported functions, so they equal what
// dlsym() returns for the versioned names (-Bsymbolic makes that hold).
//
// The table lists every driver API function the fake exports; the test-only
// fake_cuda_* hooks are deliberately absent, as no real driver knows them.
// A cudaVersion newer than the driver's is accepted (the real driver serves
// newer runtimes under minor-version compatibility).
#include <cstring>
#include <vector>

#include "fake_driver_state.h"

namespace {

struct ProcEntry {
  const char* base_name;
  int introduced;   // first cudaVersion that gets this variant
  bool per_thread;  // _ptsz variant, only with PER_THREAD_DEFAULT_STREAM
  void* function;
};

template <typename Function>
void* address_of(Function* function) {
  return reinterpret_cast<void*>(function);
}

const std::vector<ProcEntry>& proc_table() {
  // Built on first use, so it is ready even when called from another
  // library's constructor.
  static const std::vector<ProcEntry> table = {
      {"cuGetProcAddress", 11030, false, address_of(&cuGetProcAddress)},
      {"cuGetProcAddress", 12000, false, address_of(&cuGetProcAddress_v2)},
      {"cuGetErrorString", 6000, false, address_of(&cuGetErrorString)},
      {"cuGetErrorName", 6000, false, address_of(&cuGetErrorName)},
      {"cuInit", 2000, false, address_of(&cuInit)},
      {"cuDriverGetVersion", 2020, false, address_of(&cuDriverGetVersion)},
      {"cuDeviceGet", 2000, false, address_of(&cuDeviceGet)},
      {"cuDeviceGetCount", 2000, false, address_of(&cuDeviceGetCount)},
      {"cuDeviceGetName", 2000, false, address_of(&cuDeviceGetName)},
      {"cuDeviceTotalMem", 2000, false, address_of(&cuDeviceTotalMem)},
      {"cuDeviceTotalMem", 3020, false, address_of(&cuDeviceTotalMem_v2)},
      {"cuDeviceGetAttribute", 2000, false, address_of(&cuDeviceGetAttribute)},
      {"cuDeviceGetPCIBusId", 4010, false, address_of(&cuDeviceGetPCIBusId)},
      {"cuDevicePrimaryCtxRetain", 7000, false, address_of(&cuDevicePrimaryCtxRetain)},
      {"cuDevicePrimaryCtxRelease", 7000, false, address_of(&cuDevicePrimaryCtxRelease)},
      {"cuDevicePrimaryCtxRelease", 11000, false, address_of(&cuDevicePrimaryCtxRelease_v2)},
      {"cuCtxSetCurrent", 4000, false, address_of(&cuCtxSetCurrent)},
      {"cuCtxGetCurrent", 4000, false, address_of(&cuCtxGetCurrent)},
      {"cuCtxPushCurrent", 2000, false, address_of(&cuCtxPushCurrent)},
      {"cuCtxPushCurrent", 4000, false, address_of(&cuCtxPushCurrent_v2)},
      {"cuCtxPopCurrent", 2000, false, address_of(&cuCtxPopCurrent)},
      {"cuCtxPopCurrent", 4000, false, address_of(&cuCtxPopCurrent_v2)},
      {"cuCtxGetDevice", 2000, false, address_of(&cuCtxGetDevice)},
      {"cuCtxGetDevice", 13000, false, address_of(&cuCtxGetDevice_v2)},
      {"cuCtxSynchronize", 2000, false, address_of(&cuCtxSynchronize)},
      {"cuCtxSynchronize", 13000, false, address_of(&cuCtxSynchronize_v2)},
      {"cuMemGetInfo", 2000, false, address_of(&cuMemGetInfo)},
      {"cuMemGetInfo", 3020, false, address_of(&cuMemGetInfo_v2)},
      {"cuMemAlloc", 2000, false, address_of(&cuMemAlloc)},
      {"cuMemAlloc", 3020, false, address_of(&cuMemAlloc_v2)},
      {"cuMemAllocPitch", 2000, false, address_of(&cuMemAllocPitch)},
      {"cuMemAllocPitch", 3020, false, address_of(&cuMemAllocPitch_v2)},
      {"cuMemFree", 2000, false, address_of(&cuMemFree)},
      {"cuMemFree", 3020, false, address_of(&cuMemFree_v2)},
      {"cuMemAllocManaged", 6000, false, address_of(&cuMemAllocManaged)},
      {"cuMemAllocHost", 2000, false, address_of(&cuMemAllocHost)},
      {"cuMemAllocHost", 3020, false, address_of(&cuMemAllocHost_v2)},
      {"cuMemHostAlloc", 2020, false, address_of(&cuMemHostAlloc)},
      {"cuMemFreeHost", 2000, false, address_of(&cuMemFreeHost)},
      {"cuStreamCreate", 2000, false, address_of(&cuStreamCreate)},
      {"cuStreamDestroy", 2000, false, address_of(&cuStreamDestroy)},
      {"cuStreamDestroy", 4000, false, address_of(&cuStreamDestroy_v2)},
      {"cuStreamSynchronize", 2000, false, address_of(&cuStreamSynchronize)},
      {"cuStreamSynchronize", 7000, true, address_of(&cuStreamSynchronize_ptsz)},
      {"cuMemAllocAsync", 11020, false, address_of(&cuMemAllocAsync)},
      {"cuMemAllocAsync", 11020, true, address_of(&cuMemAllocAsync_ptsz)},
      {"cuMemFreeAsync", 11020, false, address_of(&cuMemFreeAsync)},
      {"cuMemFreeAsync", 11020, true, address_of(&cuMemFreeAsync_ptsz)},
      {"cuMemAllocFromPoolAsync", 11020, false, address_of(&cuMemAllocFromPoolAsync)},
      {"cuMemAllocFromPoolAsync", 11020, true, address_of(&cuMemAllocFromPoolAsync_ptsz)},
      {"cuDeviceGetDefaultMemPool", 11020, false, address_of(&cuDeviceGetDefaultMemPool)},
      {"cuDeviceGetMemPool", 11020, false, address_of(&cuDeviceGetMemPool)},
      {"cuMemPoolCreate", 11020, false, address_of(&cuMemPoolCreate)},
      {"cuMemPoolDestroy", 11020, false, address_of(&cuMemPoolDestroy)},
      {"cuMemPoolSetAttribute", 11020, false, address_of(&cuMemPoolSetAttribute)},
      {"cuMemPoolGetAttribute", 11020, false, address_of(&cuMemPoolGetAttribute)},
      {"cuMemPoolTrimTo", 11020, false, address_of(&cuMemPoolTrimTo)},
      {"cuMemGetAllocationGranularity", 10020, false, address_of(&cuMemGetAllocationGranularity)},
      {"cuMemAddressReserve", 10020, false, address_of(&cuMemAddressReserve)},
      {"cuMemAddressFree", 10020, false, address_of(&cuMemAddressFree)},
      {"cuMemCreate", 10020, false, address_of(&cuMemCreate)},
      {"cuMemRelease", 10020, false, address_of(&cuMemRelease)},
      {"cuMemMap", 10020, false, address_of(&cuMemMap)},
      {"cuMemUnmap", 10020, false, address_of(&cuMemUnmap)},
      {"cuMemSetAccess", 10020, false, address_of(&cuMemSetAccess)},
      {"cuMemGetAllocationPropertiesFromHandle", 10020, false, address_of(&cuMemGetAllocationPropertiesFromHandle)},
      {"cuDevicePrimaryCtxGetState", 7000, false, address_of(&cuDevicePrimaryCtxGetState)},
      // Present so that lookups succeed; the features are not simulated
      // (fake_driver_unsupported.cpp).
      {"cuStreamWriteValue32", 8000, false, address_of(&cuStreamWriteValue32)},
      {"cuStreamWriteValue32", 11070, false, address_of(&cuStreamWriteValue32_v2)},
      {"cuMemsetD32Async", 3020, false, address_of(&cuMemsetD32Async)},
      {"cuMemsetD32Async", 7000, true, address_of(&cuMemsetD32Async_ptsz)},
      {"cuMemExportToShareableHandle", 10020, false, address_of(&cuMemExportToShareableHandle)},
      {"cuMemImportFromShareableHandle", 10020, false, address_of(&cuMemImportFromShareableHandle)},
      {"cuMemRetainAllocationHandle", 11000, false, address_of(&cuMemRetainAllocationHandle)},
      {"cuMulticastCreate", 12010, false, address_of(&cuMulticastCreate)},
      {"cuMulticastAddDevice", 12010, false, address_of(&cuMulticastAddDevice)},
      {"cuMulticastBindMem", 12010, false, address_of(&cuMulticastBindMem)},
      {"cuMulticastUnbind", 12010, false, address_of(&cuMulticastUnbind)},
      {"cuDeviceGetDevResource", 12040, false, address_of(&cuDeviceGetDevResource)},
      {"cuDevSmResourceSplitByCount", 12040, false, address_of(&cuDevSmResourceSplitByCount)},
      {"cuDevResourceGenerateDesc", 12040, false, address_of(&cuDevResourceGenerateDesc)},
      {"cuGreenCtxCreate", 12040, false, address_of(&cuGreenCtxCreate)},
      {"cuGreenCtxDestroy", 12040, false, address_of(&cuGreenCtxDestroy)},
      {"cuGreenCtxStreamCreate", 12040, false, address_of(&cuGreenCtxStreamCreate)},
      {"cuCtxFromGreenCtx", 12040, false, address_of(&cuCtxFromGreenCtx)},
      // Modules, linking and launches (fake_driver_modules.cpp).
      {"cuModuleLoadData", 2000, false, address_of(&cuModuleLoadData)},
      {"cuModuleLoadDataEx", 2010, false, address_of(&cuModuleLoadDataEx)},
      {"cuModuleLoadFatBinary", 2000, false, address_of(&cuModuleLoadFatBinary)},
      {"cuModuleUnload", 2000, false, address_of(&cuModuleUnload)},
      {"cuModuleGetFunction", 2000, false, address_of(&cuModuleGetFunction)},
      {"cuModuleGetGlobal", 3020, false, address_of(&cuModuleGetGlobal_v2)},
      {"cuLinkCreate", 6050, false, address_of(&cuLinkCreate_v2)},
      {"cuLinkAddData", 6050, false, address_of(&cuLinkAddData_v2)},
      {"cuLinkAddFile", 6050, false, address_of(&cuLinkAddFile_v2)},
      {"cuLinkComplete", 5050, false, address_of(&cuLinkComplete)},
      {"cuLinkDestroy", 5050, false, address_of(&cuLinkDestroy)},
      {"cuLaunchKernel", 4000, false, address_of(&cuLaunchKernel)},
      {"cuLaunchKernelEx", 11060, false, address_of(&cuLaunchKernelEx)},
      {"cuFuncGetAttribute", 2020, false, address_of(&cuFuncGetAttribute)},
      {"cuFuncSetAttribute", 9000, false, address_of(&cuFuncSetAttribute)},
      {"cuOccupancyMaxActiveBlocksPerMultiprocessor", 6050, false,
       address_of(&cuOccupancyMaxActiveBlocksPerMultiprocessor)},
      {"cuTensorMapEncodeTiled", 12000, false, address_of(&cuTensorMapEncodeTiled)},
      {"cuDevicePrimaryCtxReset", 7000, false, address_of(&cuDevicePrimaryCtxReset)},
      {"cuDevicePrimaryCtxReset", 11000, false, address_of(&cuDevicePrimaryCtxReset_v2)},
      {"cuMemcpyDtoH", 3020, false, address_of(&cuMemcpyDtoH_v2)},
      {"cuCtxGetLimit", 3010, false, address_of(&cuCtxGetLimit)},
  };
  return table;
}

// Newest variant of `symbol` of the requested stream flavour whose ABI is
// not newer than `cuda_version`. Sets *name_known when the base name exists
// at all, whatever its versions.
const ProcEntry* newest_variant(const char* symbol, int cuda_version, bool per_thread, bool* name_known) {
  const ProcEntry* best = nullptr;
  for (const ProcEntry& entry : proc_table()) {
    if (std::strcmp(entry.base_name, symbol) != 0) continue;
    *name_known = true;
    if (entry.per_thread != per_thread || entry.introduced > cuda_version) continue;
    if (best == nullptr || entry.introduced > best->introduced) best = &entry;
  }
  return best;
}

CUresult look_up(const char* symbol, void** pfn, int cuda_version, cuuint64_t flags,
                 CUdriverProcAddressQueryResult* status) {
  constexpr cuuint64_t kKnownFlags = CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
  if (symbol == nullptr || pfn == nullptr || (flags & ~kKnownFlags) != 0) return CUDA_ERROR_INVALID_VALUE;

  bool name_known = false;
  const ProcEntry* found = nullptr;
  // Per-thread lookups fall back to the legacy variant when there is no _ptsz one.
  if ((flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0) {
    found = newest_variant(symbol, cuda_version, /*per_thread=*/true, &name_known);
  }
  if (found == nullptr) found = newest_variant(symbol, cuda_version, /*per_thread=*/false, &name_known);

  *pfn = found != nullptr ? found->function : nullptr;
  if (status != nullptr) {
    *status = found != nullptr ? CU_GET_PROC_ADDRESS_SUCCESS
              : name_known     ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
                               : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  }
  return found != nullptr ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

}  // namespace

FAKE_CUDA_EXPORT CUresult CUDAAPI cuGetProcAddress(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags) {
  return look_up(symbol, pfn, cudaVersion, flags, nullptr);
}

FAKE_CUDA_EXPORT CUresult CUDAAPI cuGetProcAddress_v2(const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
                                                      CUdriverProcAddressQueryResult* symbolStatus) {
  return look_up(symbol, pfn, cudaVersion, flags, symbolStatus);
}
