#include "common.hpp"

#include <cmath>
#include <exception>
#include <new>
#include <string>
#include <limits>

namespace specopt {

std::mutex& BlasMutex() {
  static std::mutex mutex;
  return mutex;
}

Napi::Error ToJsError(const Napi::Env& env, const ComputeError& e) {
  if (e.badInput) return Napi::RangeError::New(env, e.what());
  return Napi::Error::New(env, e.what());
}

const char*& CurrentEntry() {
  thread_local const char* entry = "specopt";
  return entry;
}

std::string NamedMessage(const char* entry, const std::string& message) {
  std::string name = entry;
  if (name.rfind("optimizer", 0) == 0) return message;
  std::string base = name.size() > 5 && name.compare(name.size() - 5, 5, "Async") == 0 ? name.substr(0, name.size() - 5) : name;
  for (const std::string& own : {name, base}) {
    if (message.rfind(own + ":", 0) == 0 || message.rfind(own + " ", 0) == 0) {
      return own == name ? message : name + message.substr(own.size());
    }
  }
  size_t colon = message.find(": ");
  if (colon != std::string::npos && colon > 0 && colon <= 24 && message.find(' ') > colon) {
    return name + message.substr(colon);  // a shared routine's name: replaced
  }
  return name + ": " + message;
}

namespace {

template <bool RenameErrors>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  const Exported* entry = static_cast<const Exported*>(info.Data());
  struct Current {  // the entry's name while it runs (restored: a getter may call another)
    const char* saved;
    explicit Current(const char* name) : saved(CurrentEntry()) { CurrentEntry() = name; }
    ~Current() { CurrentEntry() = saved; }
  } current(entry->name);
  try {
    return entry->callback(info);
  } catch (const Napi::Error& error) {
    if (RenameErrors) {
      std::string message = error.Message();
      std::string named = NamedMessage(entry->name, message);
      if (named != message && !error.IsEmpty() && error.Value().IsObject()) error.Value().Set("message", named);
    }
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

void ExportGuarded(Napi::Env env, Napi::Object exports, const Exported* entries, size_t count, bool renameErrors) {
  for (size_t i = 0; i < count; ++i) {
    const Exported& entry = entries[i];
    exports.Set(entry.name, Napi::Function::New(env, renameErrors ? Guarded<true> : Guarded<false>, entry.name,
                                                const_cast<Exported*>(&entry)));
  }
}

static std::string Str(size_t n) { return std::to_string(n); }

size_t Dim(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) {
    throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d != std::floor(d) || d > static_cast<double>(kMaxLapackDim) * kMaxLapackDim) {
    throw Napi::RangeError::New(env, std::string(what) + " must be a non-negative integer, got " +
                                         v.ToString().Utf8Value());
  }
  return static_cast<size_t>(d);
}

size_t Count(const Napi::Env& env, size_t rows, size_t cols, const char* what) {
  // Float32Array length limit in V8 and the int32 indices LAPACK uses.
  constexpr size_t kMaxElements = (size_t{1} << 31) - 1;
  if (rows > kMaxLapackDim || cols > kMaxLapackDim) {
    throw Napi::RangeError::New(env, std::string(what) + ": " + Str(rows) + "x" + Str(cols) +
                                         " has a side longer than " + Str(kMaxLapackDim) +
                                         " (the largest the native routines index)");
  }
  if (cols != 0 && rows > kMaxElements / cols) {
    throw Napi::RangeError::New(env, std::string(what) + ": " + Str(rows) + "x" + Str(cols) +
                                         " has too many elements (max " + Str(kMaxElements) + ")");
  }
  return rows * cols;
}

FloatView Floats(const Napi::Env& env, const Napi::Value& v, size_t expected, const char* what) {
  // One napi_get_typedarray_info call: this runs for every array of every call. A detached
  // buffer reports length 0 and no data, so the length check below also rejects it.
  // (napi_get_typedarray_info fails with napi_invalid_arg on anything but a typed array.)
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok ||
      type != napi_float32_array) {
    throw Napi::TypeError::New(env, std::string(what) + " must be a Float32Array");
  }
  if (length != expected) {
    throw Napi::RangeError::New(env, std::string(what) + " must have " + Str(expected) +
                                         " elements, got " + Str(length) +
                                         (length == 0 ? " (detached, or a view past the end of its shrunk buffer?)" : ""));
  }
  return FloatView{static_cast<float*>(data), length};
}

FloatView OptionalFloats(const Napi::Env& env, const Napi::Value& v, size_t expected,
                         const char* what) {
  if (v.IsUndefined() || v.IsNull()) return FloatView{};
  return Floats(env, v, expected, what);
}

double Number(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (!v.IsNumber()) throw Napi::TypeError::New(env, std::string(what) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool Boolean(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (!v.IsBoolean()) throw Napi::TypeError::New(env, std::string(what) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

Napi::Float32Array NewFloats(const Napi::Env& env, size_t count) {
  return Napi::Float32Array::New(env, count);
}

}  // namespace specopt

namespace specopt {

Napi::Array Tuple(const Napi::Env& env, std::initializer_list<Napi::Value> values) {
  Napi::Array result = Napi::Array::New(env, values.size());
  uint32_t i = 0;
  for (const Napi::Value& v : values) result.Set(i++, v);
  return result;
}

}  // namespace specopt
