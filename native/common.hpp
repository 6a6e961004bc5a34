// Shared pieces of the native boundary: argument checks that guard every raw pointer the
// routines touch, the lock that serialises OpenBLAS/LAPACK, and the error type routines throw.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace specopt {

// OpenBLAS is not guaranteed to be re-entrant across threads; every BLAS/LAPACK call of the
// process (all addon instances, sync and async) holds this lock.
std::mutex& BlasMutex();

// Errors raised by a compute routine (not by argument checks): LAPACK info != 0, non-finite
// input. They carry no JS objects so they can be thrown on a worker thread.
struct ComputeError : std::runtime_error {
  explicit ComputeError(const std::string& message, bool badInput = false)
      : std::runtime_error(message), badInput(badInput) {}
  bool badInput;  // true: the input's values were unusable (RangeError); false: LAPACK failed
};

// The JS error for a ComputeError: RangeError for unusable input values, Error otherwise.
Napi::Error ToJsError(const Napi::Env& env, const ComputeError& e);

// Runs a compute routine from a synchronous binding, turning its failure into a JS exception.
template <typename F>
void RunSync(const Napi::Env& env, F&& f) {
  try {
    std::lock_guard<std::mutex> lock(BlasMutex());
    f();
  } catch (const ComputeError& e) {
    throw ToJsError(env, e);
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(env, "out of memory");
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

// A view of a Float32Array checked against an expected element count.
struct FloatView {
  float* data = nullptr;
  size_t length = 0;
};

// Reads a non-negative integer dimension; throws RangeError naming `what` otherwise.
size_t Dim(const Napi::Env& env, const Napi::Value& v, const char* what);

// rows*cols with overflow and size checks (must fit a Float32Array and a LAPACK int).
size_t Count(const Napi::Env& env, size_t rows, size_t cols, const char* what);

// A Float32Array argument whose length must be exactly `expected`. Rejects other typed arrays,
// plain objects and detached buffers, naming the argument and both lengths.
FloatView Floats(const Napi::Env& env, const Napi::Value& v, size_t expected, const char* what);

// Same, but `undefined`/`null` gives an empty view.
FloatView OptionalFloats(const Napi::Env& env, const Napi::Value& v, size_t expected,
                         const char* what);

double Number(const Napi::Env& env, const Napi::Value& v, const char* what);
bool Boolean(const Napi::Env& env, const Napi::Value& v, const char* what);

// A fresh Float32Array of `count` elements (zero-filled by V8).
Napi::Float32Array NewFloats(const Napi::Env& env, size_t count);

// A JS array of the given values: how routines with several outputs return them.
Napi::Array Tuple(const Napi::Env& env, std::initializer_list<Napi::Value> values);

// The entry point running on this thread (set by addon.cpp for the length of each call): async
// jobs take it as their name.
const char*& CurrentEntry();

// `message` as the error of entry point `entry`: kept when it starts with the entry's name (or
// its sync twin's), else given that name in place of a shared routine's ("eigh: ..." raised
// for inverseRoot becomes "inverseRoot: ...") or in front. Optimizer entries keep theirs (the
// facade reads "optimizer step, parameter N").
std::string NamedMessage(const char* entry, const std::string& message);

// An exported function of an addon.
struct Exported {
  const char* name;
  Napi::Function::Callback callback;
};

// Sets `entries` (a static array) on `exports`, each through one guard: the entry's name is
// CurrentEntry() while it runs, and a C++ exception other than a JS error (an allocation that
// failed, a length_error from a size no check caught) becomes an Error naming the entry instead
// of reaching std::terminate and ending the process. With `renameErrors`, a JS error's message is
// put under the entry's name (NamedMessage): errors name the entry point, not the shared routine
// that raised them.
void ExportGuarded(Napi::Env env, Napi::Object exports, const Exported* entries, size_t count, bool renameErrors);

// Largest dimension LAPACK's 32-bit integers can index safely for our workspaces.
constexpr size_t kMaxLapackDim = 1u << 20;

}  // namespace specopt
