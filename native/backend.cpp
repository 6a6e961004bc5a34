#include "backend.hpp"

#include <mutex>

#include "blas.hpp"

extern "C" {
// OpenBLAS extensions (declared here too so a generic cblas.h is enough to build against).
char* openblas_get_config(void);
char* openblas_get_corename(void);
int openblas_get_num_threads(void);
int openblas_get_num_procs(void);
void openblas_set_num_threads(int);
}

namespace specopt {

SerialBelow::SerialBelow(double work) {
  constexpr double kSerialWork = 3e8;
  if (work >= kSerialWork) return;
  int threads = openblas_get_num_threads();
  if (threads > 1) {
    openblas_set_num_threads(1);
    restore_ = threads;
  }
}

SerialBelow::~SerialBelow() {
  if (restore_) openblas_set_num_threads(restore_);
}

Napi::Value BackendInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  std::lock_guard<std::mutex> lock(BlasMutex());
  result.Set("config", openblas_get_config());
  result.Set("coreType", openblas_get_corename());
  result.Set("threads", openblas_get_num_threads());
  result.Set("processors", openblas_get_num_procs());
  return result;
}

Napi::Value SetNumThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t n = Dim(env, info[0], "setNumThreads: n");
  if (n < 1 || n > 1024) throw Napi::RangeError::New(env, "setNumThreads: n must be in 1..1024");
  std::lock_guard<std::mutex> lock(BlasMutex());
  openblas_set_num_threads(static_cast<int>(n));
  return env.Undefined();
}

}  // namespace specopt
