// The single registration point of the addon. Its state (the async job queue) is per instance,
// so each worker_thread that loads the addon gets its own.
#include <napi.h>

#include <exception>
#include <new>
#include <string>

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

namespace {

struct Entry {
  const char* name;
  Napi::Function::Callback callback;
};

// Every entry point runs through here: a C++ exception other than a JS error (an allocation
// that failed, a length_error from a size no check caught) would otherwise reach
// std::terminate and end the process; it becomes an Error naming the function instead.
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  const Entry* entry = static_cast<const Entry*>(info.Data());
  struct Current {  // the entry's name while it runs (restored: a getter may call another)
    const char* saved;
    explicit Current(const char* name) : saved(CurrentEntry()) { CurrentEntry() = name; }
    ~Current() { CurrentEntry() = saved; }
  } current(entry->name);
  try {
    return entry->callback(info);
  } catch (const Napi::Error& error) {
    // Errors name the entry point, not the shared routine that raised them.
    std::string message = error.Message();
    std::string named = NamedMessage(entry->name, message);
    if (named != message && !error.IsEmpty() && error.Value().IsObject()) error.Value().Set("message", named);
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
  static const Entry functions[] = {
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
  for (const Entry& entry : functions) {
    exports.Set(entry.name, Napi::Function::New(env, Guarded, entry.name, const_cast<Entry*>(&entry)));
  }
  return exports;
}

}  // namespace specopt

using specopt::Init;
NODE_API_MODULE(specopt, Init)
