#pragma once

#include <napi.h>

namespace specopt {

// optimizerRules() -> the rule names, in kernel-id order.
Napi::Value OptimizerRules(const Napi::CallbackInfo& info);

// optimizerStep(entries) -> indices of skipped entries. Each entry is
// [rule, w, g, rows, cols, buffers[], scalars: Float64Array, penalty, spectralDecay,
//  spectralIters, warm: Float32Array | null, skipNonFinite]. Everything is checked, and every
// gradient scanned for NaN/Inf, before the first parameter is written: a failure changes nothing.
Napi::Value OptimizerStep(const Napi::CallbackInfo& info);

}  // namespace specopt
