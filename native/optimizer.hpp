#pragma once

#include <napi.h>

namespace specopt {

// optimizerRules() -> the rule names, in kernel-id order.
Napi::Value OptimizerRules(const Napi::CallbackInfo& info);

// optimizerStep(arrays, numbers, count) -> indices of skipped entries: `count` parameters'
// updates, described as in optimizer.cpp's BatchReader. Everything is checked, and every
// gradient scanned for NaN/Inf, before the first parameter is written: a failure changes nothing.
Napi::Value OptimizerStep(const Napi::CallbackInfo& info);

}  // namespace specopt
