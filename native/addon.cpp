// The single registration point of the addon. Its state (the async job queue) is per instance,
// so each worker_thread that loads the addon gets its own.
#include <napi.h>

#include "backend.hpp"
#include "job.hpp"
#include "eigh.hpp"
#include "inverse_root.hpp"
#include "matmul.hpp"
#include "optimizer.hpp"
#include "orthogonalize.hpp"
#include "power_iteration.hpp"
#include "qr.hpp"
#include "svd.hpp"
#include "truncated_svd.hpp"

namespace specopt {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData(env));
  static const Exported functions[] = {
      {"backendInfo", BackendInfo},
      {"setNumThreads", SetNumThreads},
      {"matmul", Matmul},
      {"matmulAsync", MatmulAsync},
      {"eigh", Eigh},
      {"eighAsync", EighAsync},
      {"svd", Svd},
      {"svdAsync", SvdAsync},
      {"singularValues", SingularValues},
      {"truncatedSvd", TruncatedSvdSync},
      {"truncatedSvdAsync", TruncatedSvdAsync},
      {"qr", Qr},
      {"qrAsync", QrAsync},
      {"powerIteration", PowerIteration},
      {"inverseRoot", InverseRootSync},
      {"inverseRootAsync", InverseRootAsync},
      {"orthogonalize", OrthogonalizeSync},
      {"orthogonalizeAsync", OrthogonalizeAsync},
      {"spectralNormGrad", SpectralNormGradSync},
      {"spectralNormGradAsync", SpectralNormGradAsync},
      {"optimizerRules", OptimizerRules},
      {"optimizerStep", OptimizerStep},
      {"optimizerPlan", OptimizerPlan},
      {"optimizerRun", OptimizerRun},
      {"optimizerStepAsync", OptimizerStepAsync},
  };
  ExportGuarded(env, exports, functions, sizeof(functions) / sizeof(functions[0]), true);
  return exports;
}

}  // namespace specopt

using specopt::Init;
NODE_API_MODULE(specopt, Init)
