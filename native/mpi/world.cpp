#include "world.hpp"

#include <dlfcn.h>

#include <stdexcept>

namespace specopt::mpi {

namespace {

struct State {
  WorldInfo info;
  MPI_Comm comm = MPI_COMM_NULL;
  bool finalized = false;
  int pending = 0;
};

State& TheState() {
  static State* state = new State;  // never destroyed: a libuv thread may use it at exit
  return *state;
}

// Node loads addons with RTLD_LOCAL, so the MPI library this addon links is not in the global
// symbol scope; an Open MPI whose components (plugins it dlopens in MPI_Init) are not linked
// against libmpi resolves their symbols there and fails to load them. Reopening the library
// with RTLD_GLOBAL (RTLD_NOLOAD: never a second copy) promotes it. (Debian's Open MPI 4.1.4
// initialises without it too, tested: its plugins link their libraries themselves.)
void PromoteToGlobalScope() {
  Dl_info where{};
  if (dladdr(reinterpret_cast<void*>(&MPI_Init_thread), &where) != 0 && where.dli_fname != nullptr) {
    dlopen(where.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);  // a failure shows in MPI_Init
  }
}

}  // namespace

std::string ErrorString(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, static_cast<size_t>(length));
}

std::mutex& World::Lock() {
  static std::mutex* mutex = new std::mutex;
  return *mutex;
}

bool World::Initialised() { return TheState().comm != MPI_COMM_NULL; }

MPI_Comm World::Comm() { return TheState().comm; }

int& World::Pending() { return TheState().pending; }

const WorldInfo& World::Current() { return TheState().info; }

const WorldInfo& World::Init() {
  std::lock_guard<std::mutex> lock(Lock());
  State& s = TheState();
  if (s.comm != MPI_COMM_NULL) return s.info;
  if (s.finalized) throw std::runtime_error("MPI was finalized already");
  int already = 0, finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) throw std::runtime_error("MPI was finalized already (by the application)");
  MPI_Initialized(&already);
  if (already) {
    MPI_Query_thread(&s.info.threadLevel);
  } else {
    PromoteToGlobalScope();
    int provided = MPI_THREAD_SINGLE;
    int code = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided);
    if (code != MPI_SUCCESS) throw std::runtime_error("MPI_Init_thread failed: " + ErrorString(code));
    s.info.threadLevel = provided;
    s.info.initialisedHere = true;
  }
  MPI_Comm comm = MPI_COMM_NULL;
  int code = MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  if (code != MPI_SUCCESS) throw std::runtime_error("MPI_Comm_dup failed: " + ErrorString(code));
  // Errors come back as codes (turned into JS errors), instead of aborting the job.
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(comm, &s.info.rank);
  MPI_Comm_size(comm, &s.info.size);
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  if (MPI_Get_library_version(version, &length) == MPI_SUCCESS) {
    std::string text(version, static_cast<size_t>(length));
    s.info.library = text.substr(0, text.find_first_of(",\n"));
  }
  s.comm = comm;
  return s.info;
}

void World::Finalize() {
  // A collective still running holds the lock, possibly for ever (a peer that never comes):
  // then the process exits without MPI_Finalize, which mpirun reports, rather than hang here.
  std::unique_lock<std::mutex> lock(Lock(), std::try_to_lock);
  if (!lock.owns_lock()) return;
  State& s = TheState();
  if (s.comm == MPI_COMM_NULL || s.finalized) return;
  MPI_Comm_free(&s.comm);
  s.comm = MPI_COMM_NULL;
  s.finalized = true;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (s.info.initialisedHere && !finalized) MPI_Finalize();
}

}  // namespace specopt::mpi
