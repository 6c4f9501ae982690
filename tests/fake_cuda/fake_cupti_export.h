// The fake CUPTI is built with -fvisibility=hidden like every fake; only
// its C API is exported (fake_cupti_exports.map puts it under NVIDIA's
// version node).
#pragma once

#define FAKE_CUPTI_EXPORT extern "C" __attribute__((visibility("default")))
