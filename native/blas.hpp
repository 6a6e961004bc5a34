// One place that includes the BLAS/LAPACK headers and turns LAPACK status codes into errors.
#pragma once

#include <complex>
#include <string>

#include <cblas.h>
#include <lapacke.h>

#include "common.hpp"

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

}  // namespace specopt
