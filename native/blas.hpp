// One place that includes the BLAS/LAPACK headers and turns LAPACK status codes into errors.
#pragma once

#include <complex>
#include <string>

#include <cblas.h>
#include <lapacke.h>

#include "common.hpp"

extern "C" int openblas_get_num_threads(void);

namespace specopt {

// LAPACK routines report through `info`: < 0 is an argument we got wrong (a bug here), > 0 a
// numerical failure (no convergence). Either way the caller gets an error, never garbage.
inline void CheckInfo(lapack_int info, const char* routine, const char* what) {
  if (info == 0) return;
  if (info < 0) {
    throw ComputeError(std::string(what) + ": LAPACK " + routine + " rejected argument " +
                       std::to_string(-info) + " (internal error, please report)");
  }
  throw ComputeError(std::string(what) + ": LAPACK " + routine +
                     " did not converge (info = " + std::to_string(info) + ")");
}

// LAPACK workspace sizes come back as floats; round up so a size like 1.0000001e7 is not cut.
inline lapack_int WorkspaceSize(float query) {
  return static_cast<lapack_int>(query * (1.0f + 1e-6f)) + 1;
}

// LAPACK's blocked routines lose more to thread hand-offs than they gain from a second core
// below roughly 3e8 multiply-adds (measured on 2 cores: svd 512x256 13 ms on one thread vs 19 on
// two, 1024x512 70 vs 87; eigh breaks even near n = 640). Such calls run OpenBLAS on one thread;
// the caller holds BlasMutex, so no other call sees the change.
class SerialBelow {
 public:
  explicit SerialBelow(double work);
  ~SerialBelow();
  SerialBelow(const SerialBelow&) = delete;
  SerialBelow& operator=(const SerialBelow&) = delete;

 private:
  int restore_ = 0;
};

}  // namespace specopt
