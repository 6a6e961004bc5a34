// The process's MPI: initialised once, by the first addon instance that asks, on the main thread,
// and finalised when that thread's environment is torn down. Every MPI call of the addon holds
// World::Lock (sync calls on the main thread, async jobs on libuv threads one at a time), so
// MPI_THREAD_SERIALIZED is all it needs. Collectives run on a duplicate of MPI_COMM_WORLD, so an
// application's own MPI traffic never matches ours.
#pragma once

#include <mpi.h>

#include <mutex>
#include <string>

namespace specopt::mpi {

struct WorldInfo {
  int rank = 0, size = 1;
  int threadLevel = MPI_THREAD_SINGLE;  // what MPI_Init_thread provided
  bool initialisedHere = false;         // false: the application had initialised MPI itself
  std::string library;                  // MPI_Get_library_version, first line
};

class World {
 public:
  // Initialises MPI unless done already; throws std::runtime_error with MPI's message.
  static const WorldInfo& Init();
  // Init's result, once Init has succeeded (no lock: for calls that hold Lock already).
  static const WorldInfo& Current();
  static bool Initialised();
  static MPI_Comm Comm();
  static std::mutex& Lock();
  // MPI_Finalize, if this addon initialised MPI and no collective is running; idempotent.
  static void Finalize();
  // Async collectives queued or running: a sync collective meanwhile could run out of order.
  static int& Pending();
};

// MPI's message for an error code.
std::string ErrorString(int code);

}  // namespace specopt::mpi
