#pragma once

#include <napi.h>

namespace specopt {

// optimizerRules() -> the rule names, in kernel-id order.
Napi::Value OptimizerRules(const Napi::CallbackInfo& info);

// optimizerStep(arrays, numbers, count) -> indices of skipped entries: `count` parameters'
// updates, described as in optimizer.cpp's BatchReader. Everything is checked, and every
// gradient scanned for NaN/Inf, before the first parameter is written: a failure changes nothing.
Napi::Value OptimizerStep(const Napi::CallbackInfo& info);

// optimizerPlan(arrays, numbers, count) -> a plan: the same batch, checked as optimizerStep
// checks it, kept natively (with references to its arrays) for the next steps.
// optimizerRun(plan, numbers) -> as optimizerStep, for the planned batch with `numbers` (laid out
// as when planned) giving the new per-step scalars; or null, having done nothing, when any of
// its arrays was detached or resized since (every array is re-verified first).
Napi::Value OptimizerPlan(const Napi::CallbackInfo& info);

// optimizerStepAsync(arrays, numbers, count, clip?) -> a promise of what optimizerStep returns:
// the same batch stepped on the addon's job queue, off the event loop (see AsyncStep).
Napi::Value OptimizerStepAsync(const Napi::CallbackInfo& info);
Napi::Value OptimizerRun(const Napi::CallbackInfo& info);

}  // namespace specopt
