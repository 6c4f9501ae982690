// Fake CUPTI: its version and the names of its results, as NVIDIA's
// cuptiGetResultString gives them (the enumerator's own name).
#include <cupti.h>

#include "fake_cupti_export.h"

namespace {

struct ResultName {
  CUptiResult result;
  const char* name;
};

#define FAKE_CUPTI_RESULT(result) {result, #result}
constexpr ResultName kResultNames[] = {
    FAKE_CUPTI_RESULT(CUPTI_SUCCESS),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_INVALID_PARAMETER),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_INVALID_DEVICE),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_INVALID_CONTEXT),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_INVALID_OPERATION),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_OUT_OF_MEMORY),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_HARDWARE),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_API_NOT_IMPLEMENTED),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_NOT_READY),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_NOT_COMPATIBLE),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_NOT_INITIALIZED),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_INVALID_HANDLE),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_DISABLED),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_NOT_SUPPORTED),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_INSUFFICIENT_PRIVILEGES),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED),
    FAKE_CUPTI_RESULT(CUPTI_ERROR_UNKNOWN),
};
#undef FAKE_CUPTI_RESULT

}  // namespace

FAKE_CUPTI_EXPORT CUptiResult CUPTIAPI cuptiGetResultString(CUptiResult result, const char** str) {
  if (str == nullptr) return CUPTI_ERROR_INVALID_PARAMETER;
  for (const ResultName& entry : kResultNames) {
    if (entry.result == result) {
      *str = entry.name;
      return CUPTI_SUCCESS;
    }
  }
  return CUPTI_ERROR_INVALID_PARAMETER;
}

FAKE_CUPTI_EXPORT CUptiResult CUPTIAPI cuptiGetVersion(uint32_t* version) {
  if (version == nullptr) return CUPTI_ERROR_INVALID_PARAMETER;
  *version = CUPTI_API_VERSION;
  return CUPTI_SUCCESS;
}
