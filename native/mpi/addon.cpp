// The registration of specopt's optional MPI addon (specopt_mpi.node, built only where an MPI
// is found; src/distributed loads it). Its async collectives run on this addon's own job queue.
#include <napi.h>

#include "../common.hpp"
#include "../job.hpp"
#include "collectives.hpp"
#include "world.hpp"

namespace specopt::mpi {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData(env));
  // MPI_Finalize when this environment goes away (src/distributed loads the addon on the main
  // thread only, so that is the process's exit).
  napi_add_env_cleanup_hook(env, [](void*) { World::Finalize(); }, nullptr);
  static const Exported functions[] = {
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
  // Messages kept as they are: they name the collective, which is what the ranks agree on.
  ExportGuarded(env, exports, functions, sizeof(functions) / sizeof(functions[0]), false);
  return exports;
}

}  // namespace specopt::mpi

namespace {
Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return specopt::mpi::Init(env, exports); }
}  // namespace

NODE_API_MODULE(specopt_mpi, InitModule)
