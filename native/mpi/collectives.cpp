#include "collectives.hpp"

#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "../common.hpp"
#include "../job.hpp"
#include "world.hpp"

namespace specopt::mpi {

namespace {

// Which collective a call is: every call first agrees on it with the other ranks. The codes of
// collectives and ops are mirrored in src/distributed/addon.ts.
enum Collective : long long { kAllReduce = 1, kBroadcast, kAllGather, kReduceScatter, kBarrier };
const char* NameOf(long long c) {
  switch (c) {
    case kAllReduce: return "allReduce";
    case kBroadcast: return "broadcast";
    case kAllGather: return "allGather";
    case kReduceScatter: return "reduceScatter";
    case kBarrier: return "barrier";
    default: return "an unknown collective";
  }
}

enum Kind : long long { kNone = 0, kFloat32 = 1, kFloat64 = 2 };
enum Op : long long { kSum = 1, kMean, kMax, kMin };

// The largest count one MPI call takes (its counts are ints); longer arrays go in chunks.
constexpr size_t kChunk = size_t{1} << 30;

struct Call {
  Collective collective;
  Kind kind = kNone;
  size_t count = 0;
  long long extra = 0;  // the op, or broadcast's root
};

size_t ElementSize(Kind kind) { return kind == kFloat64 ? sizeof(double) : sizeof(float); }
MPI_Datatype TypeOf(Kind kind) { return kind == kFloat64 ? MPI_DOUBLE : MPI_FLOAT; }
MPI_Op MpiOp(long long op) { return op == kMax ? MPI_MAX : op == kMin ? MPI_MIN : MPI_SUM; }

void Check(int code, const char* routine) {
  if (code != MPI_SUCCESS) throw ComputeError(std::string(routine) + " failed: " + ErrorString(code));
}

// Every rank's call must be the same collective on the same element type and count (and op or
// root): one MPI_Allreduce (max) of each value and its negation tells. A rank whose arguments
// were invalid takes part with `bad` set, so its peers fail too instead of waiting for ever.
void Agree(const Call& call, bool bad, const char* entry) {
  const long long count = static_cast<long long>(call.count);
  const int rank = World::Current().rank;
  long long v[9] = {call.collective, -call.collective, call.kind, -call.kind, count, -count, call.extra, -call.extra,
                    bad ? rank + 1 : 0};
  Check(MPI_Allreduce(MPI_IN_PLACE, v, 9, MPI_LONG_LONG, MPI_MAX, World::Comm()), "MPI_Allreduce");
  std::string name = entry;
  if (bad) return;  // the caller throws its own error
  if (v[8] != 0) {
    throw ComputeError(name + ": the arguments of rank " + std::to_string(v[8] - 1) +
                           " were invalid (its own error says why); nothing was done");
  }
  if (v[0] != -v[1]) {
    throw ComputeError(name + ": the ranks called different collectives (" + NameOf(v[0]) + " and " + NameOf(-v[1]) +
                       "); nothing was done");
  }
  if (v[2] != -v[3]) {
    throw ComputeError(name + ": the data is a Float32Array on some ranks and a Float64Array on others; nothing was done",
                       true);
  }
  if (v[4] != -v[5]) {
    throw ComputeError(name + ": the data has " + std::to_string(count) + " elements on this rank but from " +
                           std::to_string(-v[5]) + " to " + std::to_string(v[4]) + " across ranks; nothing was done",
                       true);
  }
  if (v[6] != -v[7]) {
    throw ComputeError(name + (call.collective == kBroadcast ? ": the ranks gave different roots" : ": the ranks gave different ops") +
                           "; nothing was done",
                       true);
  }
}

// The collective itself, over `data` (count elements), after Agree. `out` is allGather's and
// reduceScatter's result (size * count, count / size elements).
void Run(const Call& call, void* data, void* out) {
  MPI_Comm comm = World::Comm();
  const int size = World::Current().size;
  const MPI_Datatype type = TypeOf(call.kind);
  const size_t bytes = ElementSize(call.kind);
  char* base = static_cast<char*>(data);
  switch (call.collective) {
    case kAllReduce:
      for (size_t at = 0; at < call.count; at += kChunk) {
        int n = static_cast<int>(std::min(kChunk, call.count - at));
        Check(MPI_Allreduce(MPI_IN_PLACE, base + at * bytes, n, type, MpiOp(call.extra), comm), "MPI_Allreduce");
      }
      break;
    case kBroadcast:
      for (size_t at = 0; at < call.count; at += kChunk) {
        int n = static_cast<int>(std::min(kChunk, call.count - at));
        Check(MPI_Bcast(base + at * bytes, n, type, static_cast<int>(call.extra), comm), "MPI_Bcast");
      }
      break;
    case kAllGather:
      Check(MPI_Allgather(data, static_cast<int>(call.count), type, out, static_cast<int>(call.count), type, comm),
            "MPI_Allgather");
      break;
    case kReduceScatter:
      Check(MPI_Reduce_scatter_block(data, out, static_cast<int>(call.count / size), type, MpiOp(call.extra), comm),
            "MPI_Reduce_scatter_block");
      break;
    case kBarrier:
      Check(MPI_Barrier(comm), "MPI_Barrier");
      break;
  }
  if (call.extra == kMean && (call.collective == kAllReduce || call.collective == kReduceScatter)) {
    size_t n = call.collective == kAllReduce ? call.count : call.count / size;
    void* target = call.collective == kAllReduce ? data : out;
    if (call.kind == kFloat64) {
      double* x = static_cast<double*>(target);
      for (size_t i = 0; i < n; ++i) x[i] /= size;
    } else {
      float* x = static_cast<float*>(target);
      for (size_t i = 0; i < n; ++i) x[i] /= static_cast<float>(size);
    }
  }
}

size_t OutCount(const Call& call) {
  const size_t size = static_cast<size_t>(World::Current().size);
  if (call.collective == kAllGather) return call.count * size;
  if (call.collective == kReduceScatter) return call.count / size;
  return 0;
}

// The data argument: a Float32Array or Float64Array (possibly empty or detached: count 0).
struct Data {
  void* pointer = nullptr;
  Kind kind = kNone;
};

Data ReadData(const Napi::Env& env, const Napi::Value& value, const std::string& what, Call* call) {
  napi_typedarray_type type;
  size_t length = 0;
  void* pointer = nullptr;
  if (!value.IsTypedArray() ||
      napi_get_typedarray_info(env, value, &type, &length, &pointer, nullptr, nullptr) != napi_ok ||
      (type != napi_float32_array && type != napi_float64_array)) {
    throw Napi::TypeError::New(env, what + " must be a Float32Array or Float64Array");
  }
  call->kind = type == napi_float64_array ? kFloat64 : kFloat32;
  call->count = pointer == nullptr ? 0 : length;
  return {pointer, call->kind};
}

// Reads the arguments of `collective` (data at 0, then op or root at 1) into a Call.
Data ReadCall(const Napi::CallbackInfo& info, Call* call) {
  Napi::Env env = info.Env();
  std::string name = NameOf(call->collective);
  const int size = World::Init().size;
  if (call->collective == kBarrier) return {};
  Data data = ReadData(env, info[0], name + ": x", call);
  if (call->collective == kAllReduce || call->collective == kReduceScatter) {
    if (!info[1].IsNumber()) throw Napi::TypeError::New(env, name + ": op code must be a number");
    long long op = static_cast<long long>(info[1].As<Napi::Number>().Int64Value());
    if (op < kSum || op > kMin) throw Napi::RangeError::New(env, name + ": unknown op code " + std::to_string(op));
    call->extra = op;
  }
  if (call->collective == kBroadcast) {
    double root = Number(env, info[1], "broadcast: root");
    if (root != static_cast<double>(static_cast<long long>(root)) || root < 0 || root >= size) {
      throw Napi::RangeError::New(env, "broadcast: root must be an integer from 0 to " + std::to_string(size - 1));
    }
    call->extra = static_cast<long long>(root);
  }
  if (call->collective == kReduceScatter && call->count % static_cast<size_t>(size) != 0) {
    throw Napi::RangeError::New(env, "reduceScatter: x.length must be a multiple of the number of ranks (" +
                                         std::to_string(size) + "), got " + std::to_string(call->count));
  }
  size_t perCall = call->collective == kReduceScatter ? call->count / size : call->count;
  if ((call->collective == kAllGather || call->collective == kReduceScatter) &&
      (perCall > static_cast<size_t>(std::numeric_limits<int>::max()) ||
       perCall > std::numeric_limits<size_t>::max() / static_cast<size_t>(size) / sizeof(double))) {
    throw Napi::RangeError::New(env, name + ": x is too long for one MPI call (2^31 - 1 elements per rank)");
  }
  return data;
}

Napi::Value NewTyped(const Napi::Env& env, Kind kind, size_t count, const void* from) {
  if (kind == kFloat64) {
    auto array = Napi::Float64Array::New(env, count);
    if (count) std::memcpy(array.Data(), from, count * sizeof(double));
    return array;
  }
  auto array = Napi::Float32Array::New(env, count);
  if (count) std::memcpy(array.Data(), from, count * sizeof(float));
  return array;
}

void RefuseWhilePending(const Napi::Env& env, const char* name) {
  if (World::Pending() > 0) {
    throw Napi::Error::New(env, std::string(name) +
                                    ": an async collective of this process has not settled yet; await it first "
                                    "(collectives must run in the same order on every rank)");
  }
}

Napi::Value SyncCollective(const Napi::CallbackInfo& info, Collective collective) {
  Napi::Env env = info.Env();
  const char* name = NameOf(collective);
  RefuseWhilePending(env, name);
  Call call{collective};
  Data data;
  try {
    data = ReadCall(info, &call);
  } catch (const Napi::Error&) {
    {
      std::lock_guard<std::mutex> lock(World::Lock());
      Agree(call, true, name);  // release the peers, then report this rank's own error
    }
    throw;
  }
  std::vector<char> out(OutCount(call) * ElementSize(call.kind));
  try {
    std::lock_guard<std::mutex> lock(World::Lock());
    Agree(call, false, name);
    Run(call, data.pointer, out.data());
  } catch (const ComputeError& e) {
    throw ToJsError(env, e);
  }
  if (collective == kAllGather || collective == kReduceScatter) return NewTyped(env, call.kind, OutCount(call), out.data());
  return env.Undefined();
}

// An async collective: the data is copied at the call (JS may detach it meanwhile), the
// collective runs on the job queue on that copy, and in-place results are written back at the
// completion after checking the array is still the one it was; otherwise the promise rejects
// and nothing is written. A call with invalid arguments still takes part in the agreement (in
// its place in the queue), then rejects with its own error.
Napi::Value AsyncCollective(const Napi::CallbackInfo& info, Collective collective) {
  Napi::Env env = info.Env();
  struct State {
    Call call;
    std::vector<char> data, out;
    std::unique_ptr<Napi::Reference<Napi::Value>> target;  // in-place results: the caller's array
    std::string problem;
    bool typeError = false;
    State() { ++World::Pending(); }
    ~State() { --World::Pending(); }  // on the main thread, when the job is freed
  };
  auto state = std::make_shared<State>();
  state->call.collective = collective;
  try {
    Data data = ReadCall(info, &state->call);
    const size_t bytes = state->call.count * ElementSize(state->call.kind);
    state->data.assign(static_cast<char*>(data.pointer), static_cast<char*>(data.pointer) + bytes);
    state->out.resize(OutCount(state->call) * ElementSize(state->call.kind));
    if (collective == kAllReduce || collective == kBroadcast) {
      state->target = std::make_unique<Napi::Reference<Napi::Value>>(Napi::Persistent(info[0]));
    }
  } catch (const Napi::TypeError& e) {
    state->problem = e.Message();
    state->typeError = true;
  } catch (const Napi::Error& e) {
    state->problem = e.Message();
  }
  const char* name = NameOf(collective);
  return Job::Start(
      env,
      [state, name] {
        std::lock_guard<std::mutex> lock(World::Lock());
        Agree(state->call, !state->problem.empty(), name);
        if (!state->problem.empty()) return;
        Run(state->call, state->data.data(), state->out.data());
      },
      [state, name](Napi::Env env) -> Napi::Value {
        const Call& call = state->call;
        if (!state->problem.empty()) {
          if (state->typeError) throw Napi::TypeError::New(env, state->problem);
          throw Napi::RangeError::New(env, state->problem);
        }
        if (call.collective == kAllGather || call.collective == kReduceScatter) {
          return NewTyped(env, call.kind, OutCount(call), state->out.data());
        }
        if (state->target != nullptr && call.count > 0) {
          Call now{call.collective};
          Data data;
          try {
            data = ReadData(env, state->target->Value(), "x", &now);
          } catch (const Napi::Error&) {
          }
          if (now.kind != call.kind || now.count != call.count || data.pointer == nullptr) {
            throw Napi::Error::New(env, std::string(name) +
                                            "Async: x was detached or resized before the collective completed; "
                                            "nothing was written to it");
          }
          std::memcpy(data.pointer, state->data.data(), state->data.size());
        }
        return env.Undefined();
      });
}

}  // namespace

Napi::Value Abandon(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double code = Number(env, info[0], "abandon: collective");
  if (code < kAllReduce || code > kBarrier || code != static_cast<double>(static_cast<long long>(code))) {
    throw Napi::RangeError::New(env, "abandon: unknown collective code");
  }
  const char* name = NameOf(static_cast<long long>(code));
  RefuseWhilePending(env, name);
  World::Init();
  Call call{static_cast<Collective>(static_cast<long long>(code))};
  try {
    std::lock_guard<std::mutex> lock(World::Lock());
    Agree(call, true, name);
  } catch (const ComputeError& e) {
    throw ToJsError(env, e);
  }
  return env.Undefined();
}

Napi::Value AbandonAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double code = Number(env, info[0], "abandonAsync: collective");
  if (code < kAllReduce || code > kBarrier || code != static_cast<double>(static_cast<long long>(code))) {
    throw Napi::RangeError::New(env, "abandonAsync: unknown collective code");
  }
  World::Init();
  struct Pending {
    Pending() { ++World::Pending(); }
    ~Pending() { --World::Pending(); }
  };
  auto pending = std::make_shared<Pending>();
  Call call{static_cast<Collective>(static_cast<long long>(code))};
  return Job::Start(
      env,
      [call, pending] {
        std::lock_guard<std::mutex> lock(World::Lock());
        Agree(call, true, NameOf(call.collective));
      },
      [pending](Napi::Env env) -> Napi::Value { return env.Undefined(); });
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WorldInfo world = World::Init();
  Napi::Object result = Napi::Object::New(env);
  result.Set("rank", world.rank);
  result.Set("size", world.size);
  const char* levels[] = {"single", "funneled", "serialized", "multiple"};
  int level = world.threadLevel;
  result.Set("threadLevel", level >= MPI_THREAD_SINGLE && level <= MPI_THREAD_MULTIPLE
                                ? levels[level - MPI_THREAD_SINGLE]
                                : "unknown");
  result.Set("initializedHere", world.initialisedHere);
  result.Set("library", world.library);
  return result;
}

Napi::Value AllReduce(const Napi::CallbackInfo& info) { return SyncCollective(info, kAllReduce); }
Napi::Value AllReduceAsync(const Napi::CallbackInfo& info) { return AsyncCollective(info, kAllReduce); }
Napi::Value Broadcast(const Napi::CallbackInfo& info) { return SyncCollective(info, kBroadcast); }
Napi::Value BroadcastAsync(const Napi::CallbackInfo& info) { return AsyncCollective(info, kBroadcast); }
Napi::Value AllGather(const Napi::CallbackInfo& info) { return SyncCollective(info, kAllGather); }
Napi::Value AllGatherAsync(const Napi::CallbackInfo& info) { return AsyncCollective(info, kAllGather); }
Napi::Value ReduceScatter(const Napi::CallbackInfo& info) { return SyncCollective(info, kReduceScatter); }
Napi::Value ReduceScatterAsync(const Napi::CallbackInfo& info) { return AsyncCollective(info, kReduceScatter); }
Napi::Value Barrier(const Napi::CallbackInfo& info) { return SyncCollective(info, kBarrier); }
Napi::Value BarrierAsync(const Napi::CallbackInfo& info) { return AsyncCollective(info, kBarrier); }

}  // namespace specopt::mpi
