// The collectives on Float32Array/Float64Array data, sync and async. Every call first agrees
// with the other ranks on the element type and count (one small MPI_Allreduce): ranks that
// disagree all get the same RangeError, instead of MPI reading or writing past a buffer.
#pragma once

#include <napi.h>

namespace specopt::mpi {

Napi::Value Info(const Napi::CallbackInfo& info);            // () -> { rank, size, threadLevel, ... }
Napi::Value AllReduce(const Napi::CallbackInfo& info);       // (x, op) in place
Napi::Value AllReduceAsync(const Napi::CallbackInfo& info);  // (x, op) -> Promise<void>, x written at the end
Napi::Value Broadcast(const Napi::CallbackInfo& info);       // (x, root) in place
Napi::Value BroadcastAsync(const Napi::CallbackInfo& info);
Napi::Value AllGather(const Napi::CallbackInfo& info);       // (x) -> size * x.length, rank order
Napi::Value AllGatherAsync(const Napi::CallbackInfo& info);
Napi::Value ReduceScatter(const Napi::CallbackInfo& info);   // (x, op) -> this rank's x.length / size block
Napi::Value ReduceScatterAsync(const Napi::CallbackInfo& info);
Napi::Value Barrier(const Napi::CallbackInfo& info);
Napi::Value BarrierAsync(const Napi::CallbackInfo& info);
// A rank whose arguments were invalid (found by the TS facade) takes part in the agreement of
// collective `code` as invalid, so its peers fail too; the facade then throws its own error.
Napi::Value Abandon(const Napi::CallbackInfo& info);       // (code)
Napi::Value AbandonAsync(const Napi::CallbackInfo& info);  // (code) -> Promise<void>, in queue order

}  // namespace specopt::mpi
