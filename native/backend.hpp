#pragma once

#include <napi.h>

namespace specopt {

// backendInfo() -> { config, coreType, threads }: what OpenBLAS reports about itself.
Napi::Value BackendInfo(const Napi::CallbackInfo& info);

// setNumThreads(n)
Napi::Value SetNumThreads(const Napi::CallbackInfo& info);

}  // namespace specopt
