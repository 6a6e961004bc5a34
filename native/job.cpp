#include "job.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define SPECOPT_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define SPECOPT_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define SPECOPT_POISON(p, n)
#define SPECOPT_UNPOISON(p, n)
#endif

namespace specopt {

AddonData::AddonData(napi_env e) : env(e) {
  // The Promise constructor as it is when the addon loads (a later globalThis.Promise = ... does
  // not change what the async twins return).
  const char* source =
      "(function (P) { return function () { let resolve, reject; const promise = new P((a, b) => { resolve = a; "
      "reject = b; }); return [promise, resolve, reject]; }; })(Promise)";
  napi_value script = nullptr, factory = nullptr;
  if (napi_create_string_utf8(env, source, NAPI_AUTO_LENGTH, &script) != napi_ok ||
      napi_run_script(env, script, &factory) != napi_ok || napi_create_reference(env, factory, 1, &promiseFactory) != napi_ok) {
    promiseFactory = nullptr;  // Job::Start reports it
  }
  // Without them, jobs start at once (Kick fails).
  napi_value global = nullptr, enqueue = nullptr, start = nullptr;
  napi_valuetype type = napi_undefined;
  if (napi_get_global(env, &global) == napi_ok && napi_get_named_property(env, global, "queueMicrotask", &enqueue) == napi_ok &&
      napi_typeof(env, enqueue, &type) == napi_ok && type == napi_function &&
      napi_create_function(env, "specoptStartNext", NAPI_AUTO_LENGTH, StartNextCallback, nullptr, &start) == napi_ok &&
      napi_create_reference(env, enqueue, 1, &queueMicrotask) == napi_ok) {
    if (napi_create_reference(env, start, 1, &startNext) != napi_ok) startNext = nullptr;
  }
}

AddonData::~AddonData() {
  queue->Close();
  for (napi_ref ref : {promiseFactory, queueMicrotask, startNext}) {
    if (ref != nullptr) napi_delete_reference(env, ref);
  }
}

napi_value AddonData::StartNextCallback(napi_env env, napi_callback_info) {
  void* data = nullptr;
  if (napi_get_instance_data(env, &data) == napi_ok && data != nullptr) {
    // A local owner: the job started may complete (and drop its owner) before this returns.
    std::shared_ptr<JobQueue> queue = static_cast<AddonData*>(data)->queue;
    queue->StartNext();
  }
  return nullptr;
}

bool AddonData::Kick(napi_env e) {
  napi_value enqueue = nullptr, start = nullptr, undefined = nullptr;
  bool pending = true;
  return queueMicrotask != nullptr && startNext != nullptr && napi_is_exception_pending(e, &pending) == napi_ok && !pending &&
         napi_get_reference_value(e, queueMicrotask, &enqueue) == napi_ok && enqueue != nullptr &&
         napi_get_reference_value(e, startNext, &start) == napi_ok && start != nullptr &&
         napi_get_undefined(e, &undefined) == napi_ok && napi_call_function(e, undefined, enqueue, 1, &start, nullptr) == napi_ok;
}

JobQueue::~JobQueue() { Close(); }

void JobQueue::Push(Job* job, const std::function<bool()>& kick) {
  if (closed_) {
    delete job;
    return;
  }
  pending_.push_back(job);
  Schedule(kick);
}

void JobQueue::Finished(bool closing, const std::function<bool()>& kick) {
  running_ = false;
  if (closing) Close();
  Schedule(kick);
}

void JobQueue::Schedule(const std::function<bool()>& kick) {
  if (closed_ || running_ || scheduled_ || pending_.empty()) return;
  scheduled_ = true;
  if (!kick()) StartNext();  // no microtask: start now rather than never
}

void JobQueue::StartNext() {
  scheduled_ = false;
  if (closed_ || running_ || pending_.empty()) return;
  Job* job = pending_.front();
  pending_.pop_front();
  running_ = true;
  if (!job->Queue()) {
    running_ = false;
    delete job;
    Close();
  }
}

void JobQueue::Close() {
  closed_ = true;
  // Deleting a job may release the last other owner of this queue, never the last one: the
  // caller (instance data, or a completing job) holds one.
  std::deque<Job*> dropped;
  dropped.swap(pending_);
  for (Job* job : dropped) delete job;
}

Napi::Promise Job::Start(Napi::Env env, Compute compute, Finish finish) {
  auto* data = env.GetInstanceData<AddonData>();
  std::unique_ptr<Job> job(new Job(env, data->queue, std::move(compute), std::move(finish)));
  napi_value factory = nullptr, undefined = nullptr, parts = nullptr, promise = nullptr, resolve = nullptr,
             reject = nullptr;
  if (data->promiseFactory == nullptr || napi_get_reference_value(env, data->promiseFactory, &factory) != napi_ok ||
      napi_get_undefined(env, &undefined) != napi_ok ||
      napi_call_function(env, undefined, factory, 0, nullptr, &parts) != napi_ok ||
      napi_get_element(env, parts, 0, &promise) != napi_ok || napi_get_element(env, parts, 1, &resolve) != napi_ok ||
      napi_get_element(env, parts, 2, &reject) != napi_ok ||
      napi_create_reference(env, resolve, 1, &job->resolve_) != napi_ok ||
      napi_create_reference(env, reject, 1, &job->reject_) != napi_ok) {
    // A JS exception (a stack overflow, say) is the error itself: throwing another while it is
    // pending would make node-addon-api's rethrow fail, and that aborts.
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) throw Napi::Error::New(env);
    throw Napi::Error::New(env, std::string(CurrentEntry()) + ": cannot create a promise");
  }
  std::shared_ptr<JobQueue> queue = data->queue;
  queue->Push(job.release(), [&] { return data->Kick(env); });
  return Napi::Promise(env, promise);
}

Job::~Job() {
  // All safe while the environment is torn down.
  if (work_ != nullptr) napi_delete_async_work(env_, work_);
  if (resolve_ != nullptr) napi_delete_reference(env_, resolve_);
  if (reject_ != nullptr) napi_delete_reference(env_, reject_);
}

bool Job::Queue() {
  napi_value name = nullptr;
  if (napi_create_string_utf8(env_, "specopt", NAPI_AUTO_LENGTH, &name) != napi_ok) return false;
  if (napi_create_async_work(env_, nullptr, name, Execute, Complete, this, &work_) != napi_ok) {
    work_ = nullptr;
    return false;
  }
  return napi_queue_async_work(env_, work_) == napi_ok;
}

void Job::Execute(napi_env, void* data) {
  Job* job = static_cast<Job*>(data);
  try {
    std::lock_guard<std::mutex> lock(BlasMutex());
    job->compute_();
  } catch (const ComputeError& e) {
    job->failed_ = true;
    job->badInput_ = e.badInput;
    job->error_ = e.what();
  } catch (const std::bad_alloc&) {
    job->failed_ = true;
    job->badInput_ = true;
    job->error_ = "out of memory";
  } catch (const std::exception& e) {
    job->failed_ = true;
    job->error_ = e.what();
  } catch (...) {
    job->failed_ = true;
    job->error_ = "unexpected native error";
  }
}

void Job::Complete(napi_env env, napi_status status, void* data) {
  std::unique_ptr<Job> job(static_cast<Job*>(data));
  std::shared_ptr<JobQueue> queue = job->queue_;
  bool alive = job->Settle(env, status);
  job.reset();
  void* instance = nullptr;
  queue->Finished(!alive, [&] {
    return alive && napi_get_instance_data(env, &instance) == napi_ok && instance != nullptr &&
           static_cast<AddonData*>(instance)->Kick(env);
  });
}

bool Job::Settle(napi_env env, napi_status status) {
  if (status != napi_ok) return false;  // cancelled: only at teardown
  napi_handle_scope scope = nullptr;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  // napi_create_arraybuffer is one of the calls that refuse once the environment cannot run JS
  // (worker termination, exit): probe with it before any node-addon-api call, which would throw.
  // Only this probe decides that the environment is closing (which stops the queue for good);
  // a later step that fails leaves the queue running.
  napi_value probe = nullptr;
  if (napi_create_arraybuffer(env, 0, nullptr, &probe) != napi_ok) {
    napi_close_handle_scope(env, scope);
    return false;
  }
  napi_value value = nullptr;
  bool resolve = false;
  if (!failed_) {
    try {
      value = finish_(Napi::Env(env));
      resolve = value != nullptr;
    } catch (const Napi::Error& e) {
      if (!e.IsEmpty()) value = e.Value();
    } catch (const std::bad_alloc&) {
      badInput_ = true;
      error_ = "out of memory";
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }
  bool made = true;
  if (value == nullptr) {
    resolve = false;
    std::string text = NamedMessage(name_, error_.empty() ? "cannot build the result" : error_);
    napi_value message = nullptr;
    made = napi_create_string_utf8(env, text.c_str(), text.size(), &message) == napi_ok &&
           (badInput_ ? napi_create_range_error(env, nullptr, message, &value)
                      : napi_create_error(env, nullptr, message, &value)) == napi_ok;
  }
  if (made) {
    napi_value settle = nullptr, undefined = nullptr;
    if (napi_get_reference_value(env, resolve ? resolve_ : reject_, &settle) == napi_ok && settle != nullptr &&
        napi_get_undefined(env, &undefined) == napi_ok) {
      napi_call_function(env, undefined, settle, 1, &value, nullptr);
    }
  }
  napi_close_handle_scope(env, scope);
  return true;  // JS can run: the queue goes on (a step above that failed leaves this promise unsettled)
}

namespace {

// Blocks released by jobs, kept for the next ones: at most kPoolBlocks of them and kPoolBytes in
// all, the least recently released dropped first. Never destroyed: a job may release its block
// on a libuv thread while the process exits. Under ASan, pooled blocks are poisoned: a use after
// release is reported as if they had been freed.
constexpr size_t kPooledMin = size_t{256} << 10, kPoolBytes = size_t{64} << 20, kPoolBlocks = 8;
struct Pool {
  std::mutex mutex;
  std::vector<std::pair<float*, size_t>> blocks;  // (data, capacity), oldest first
  size_t bytes = 0;
};
Pool& ThePool() {
  static Pool* pool = new Pool;
  return *pool;
}

}  // namespace

namespace {

#if defined(__SSE2__)
// Streaming stores from `to`'s first 16-byte boundary; the caller fences once at the end.
void StreamRun(float* to, const float* from, size_t count) {
  size_t i = 0;
  for (; i < count && reinterpret_cast<uintptr_t>(to + i) % 16 != 0; ++i) std::memcpy(to + i, from + i, sizeof(float));
  for (; i + 16 <= count; i += 16) {
    __m128 a = _mm_loadu_ps(from + i), b = _mm_loadu_ps(from + i + 4), c = _mm_loadu_ps(from + i + 8),
           d = _mm_loadu_ps(from + i + 12);
    _mm_stream_ps(to + i, a);
    _mm_stream_ps(to + i + 4, b);
    _mm_stream_ps(to + i + 8, c);
    _mm_stream_ps(to + i + 12, d);
  }
  if (i < count) std::memcpy(to + i, from + i, (count - i) * sizeof(float));
}
#endif

}  // namespace

void StreamCopy(float* to, const float* from, size_t count) {
#if defined(__SSE2__)
  if (count * sizeof(float) >= kPooledMin) {
    StreamRun(to, from, count);
    _mm_sfence();  // streaming stores are weakly ordered: done before another thread reads them
    return;
  }
#endif
  if (count > 0) std::memcpy(to, from, count * sizeof(float));
}

void StreamCopyLower(float* to, const float* from, size_t n) {
#if defined(__SSE2__)
  if (n * (n + 1) / 2 * sizeof(float) >= kPooledMin) {
    // Streaming stores only for whole 64-byte lines: a partly written line in the write-combining
    // buffers is flushed as a slow partial write (measured: slower than the full copy). The
    // partial lines at each row's ends are ordinary stores.
    for (size_t i = 0; i < n; ++i) {
      float* t = to + i * n;
      const float* f = from + i * n;
      size_t count = i + 1;
      size_t head = std::min(count, ((64 - reinterpret_cast<uintptr_t>(t) % 64) % 64) / sizeof(float));
      size_t body = (count - head) / 16 * 16;
      if (head) std::memcpy(t, f, head * sizeof(float));
      if (body) StreamRun(t + head, f + head, body);
      if (head + body < count) std::memcpy(t + head + body, f + head + body, (count - head - body) * sizeof(float));
    }
    _mm_sfence();
    return;
  }
#endif
  for (size_t i = 0; i < n; ++i) std::memcpy(to + i * n, from + i * n, (i + 1) * sizeof(float));
}

Block::Block(size_t count) : size_(count) {
  if (count == 0) return;
  if (count * sizeof(float) >= kPooledMin) {
    // The smallest pooled block that fits, unless it is more than twice the size.
    Pool& pool = ThePool();
    std::lock_guard<std::mutex> lock(pool.mutex);
    auto best = pool.blocks.end();
    for (auto it = pool.blocks.begin(); it != pool.blocks.end(); ++it) {
      if (it->second >= count && it->second / 2 <= count && (best == pool.blocks.end() || it->second < best->second)) best = it;
    }
    if (best != pool.blocks.end()) {
      data_ = best->first;
      capacity_ = best->second;
      pool.bytes -= capacity_ * sizeof(float);
      pool.blocks.erase(best);
      SPECOPT_UNPOISON(data_, capacity_ * sizeof(float));
      return;
    }
  }
  data_ = static_cast<float*>(std::malloc(count * sizeof(float)));
  if (data_ == nullptr) throw std::bad_alloc();
  capacity_ = count;
}

Block& Block::operator=(Block&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

void Block::Release() {
  float* data = std::exchange(data_, nullptr);
  size_t bytes = capacity_ * sizeof(float);
  size_ = capacity_ = 0;
  if (data == nullptr) return;
  if (bytes < kPooledMin || bytes > kPoolBytes) {
    std::free(data);
    return;
  }
  std::vector<std::pair<float*, size_t>> dropped;
  SPECOPT_POISON(data, bytes);
  {
    Pool& pool = ThePool();
    std::lock_guard<std::mutex> lock(pool.mutex);
    pool.blocks.emplace_back(data, bytes / sizeof(float));
    pool.bytes += bytes;
    while (pool.blocks.size() > kPoolBlocks || pool.bytes > kPoolBytes) {
      dropped.push_back(pool.blocks.front());
      pool.bytes -= pool.blocks.front().second * sizeof(float);
      pool.blocks.erase(pool.blocks.begin());
    }
  }
  for (auto& block : dropped) {
    SPECOPT_UNPOISON(block.first, block.second * sizeof(float));
    std::free(block.first);
  }
}

Input::Input(napi_env env, napi_value array, const FloatView& view, size_t lowerOf)
    : env_(env), source_(view.data), length_(view.length), lowerOf_(lowerOf) {
  // A typed array's buffer is an ArrayBuffer or a SharedArrayBuffer: napi_is_arraybuffer is
  // false only for the latter (Node 20's Node-API has no direct test for it). Anything unsure
  // takes the safe way, the copy now.
  napi_value buffer = nullptr;
  bool plain = true;
  if (length_ > 0 && napi_get_typedarray_info(env, array, nullptr, nullptr, nullptr, &buffer, nullptr) == napi_ok &&
      buffer != nullptr && napi_is_arraybuffer(env, buffer, &plain) == napi_ok && !plain &&
      napi_create_reference(env, array, 1, &shared_) == napi_ok) {
    return;
  }
  shared_ = nullptr;
  CopyNow();
}

void Input::CopyNow() {
  copy_ = Block(length_);
  if (lowerOf_ != 0 && lowerOf_ * lowerOf_ == length_) StreamCopyLower(copy_.data(), source_, lowerOf_);
  else StreamCopy(copy_.data(), source_, length_);
  copied_ = true;
}

Input::~Input() {
  if (shared_ != nullptr) napi_delete_reference(env_, shared_);
}

float* Input::Data() {
  if (!copied_) {
    // Other threads may write the SharedArrayBuffer meanwhile: the job computes on this snapshot.
    CopyNow();
  }
  return copy_.data();
}

float* Output::Zeroed() {
  // calloc: memory fresh from the system is zero already (its pages fault in as compute writes).
  if (data_ == nullptr) data_ = static_cast<float*>(std::calloc(std::max<size_t>(count_, 1), sizeof(float)));
  if (data_ == nullptr) throw std::bad_alloc();
  return data_;
}

namespace {
// Node 20's external ArrayBuffers are Buffers underneath, limited to 2^32 bytes; larger outputs
// are copied into an ordinary ArrayBuffer. (Node marks external ArrayBuffers untransferable:
// postMessage and structuredClone with `transfer` copy them rather than move them.)
constexpr size_t kMaxExternalBytes = size_t{1} << 32;
void FreeOutput(napi_env, void* data, void*) { std::free(data); }
}  // namespace

Napi::Float32Array Output::Take(Napi::Env env) {
  if (data_ == nullptr) throw Napi::Error::New(env, "internal error: an output taken before it was computed");
  size_t bytes = count_ * sizeof(float);
  napi_value buffer = nullptr, array = nullptr;
  bool made = false;
  if (bytes <= kMaxExternalBytes) {
    napi_status status = napi_create_external_arraybuffer(env, data_, bytes, FreeOutput, nullptr, &buffer);
    made = status == napi_ok;
    // Refused (a runtime without external buffers): copied below. Any other failure may have
    // freed the memory already (Node frees it when it cannot make the Buffer): never again here.
    if (status != napi_no_external_buffers_allowed) data_ = nullptr;
  }
  if (!made && data_ != nullptr) {
    void* copy = nullptr;
    made = napi_create_arraybuffer(env, bytes, &copy, &buffer) == napi_ok;
    if (made && bytes > 0) std::memcpy(copy, data_, bytes);
  }
  if (!made || napi_create_typedarray(env, napi_float32_array, count_, buffer, 0, &array) != napi_ok) {
    throw Napi::Error::New(env);  // the pending exception, or Node-API's last error
  }
  return Napi::Float32Array(env, array);
}

}  // namespace specopt
