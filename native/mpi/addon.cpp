// The registration of specopt's optional MPI addon (specopt_mpi.node, built only where an MPI
// is found; src/distributed loads it). Its async collectives run on this addon's own job queue.
#include <napi.h>

#include <exception>
#include <new>
#include <string>

#include "../common.hpp"
#include "../job.hpp"
#include "collectives.hpp"
#include "world.hpp"

namespace specopt::mpi {

namespace {

struct Entry {
  const char* name;
  Napi::Function::Callback callback;
};

// As in ../addon.cpp: no C++ exception reaches std::terminate; each becomes a JS error.
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  const Entry* entry = static_cast<const Entry*>(info.Data());
  const char* saved = CurrentEntry();
  CurrentEntry() = entry->name;
  struct Restore {
    const char* saved;
    ~Restore() { CurrentEntry() = saved; }
  } restore{saved};
  try {
    return entry->callback(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(info.Env(), std::string(entry->name) + ": out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string(entry->name) + ": " + e.what());
  } catch (...) {
    throw Napi::Error::New(info.Env(), std::string(entry->name) + ": unexpected native error");
  }
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData(env));
  // MPI_Finalize when this environment goes away (src/distributed loads the addon on the main
  // thread only, so that is the process's exit).
  napi_add_env_cleanup_hook(env, [](void*) { World::Finalize(); }, nullptr);
  static const Entry functions[] = {
      {"info", Info},
      {"allReduce", AllReduce},
      {"allReduceAsync", AllReduceAsync},
      {"broadcast", Broadcast},
      {"broadcastAsync", BroadcastAsync},
      {"allGather", AllGather},
      {"allGatherAsync", AllGatherAsync},
      {"reduceScatter", ReduceScatter},
      {"reduceScatterAsync", ReduceScatterAsync},
      {"barrier", Barrier},
      {"barrierAsync", BarrierAsync},
      {"abandon", Abandon},
      {"abandonAsync", AbandonAsync},
  };
  for (const Entry& entry : functions) {
    exports.Set(entry.name, Napi::Function::New(env, Guarded, entry.name, const_cast<Entry*>(&entry)));
  }
  return exports;
}

}  // namespace specopt::mpi

namespace {
Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return specopt::mpi::Init(env, exports); }
}  // namespace

NODE_API_MODULE(specopt_mpi, InitModule)
