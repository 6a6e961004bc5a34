// An async twin's unit of work: `compute` runs on a libuv worker thread over memory the job owns
// (never JS memory, which could be detached meanwhile), `finish` builds the JS result on the main
// thread. Failures reject the promise with the error's message.
//
// Jobs are plain napi_async_work, not Napi::AsyncWorker: a job may complete while its environment
// is being torn down (a worker thread terminated with jobs in flight), when every call into JS
// fails. Node-addon-api turns such a failure into a C++ exception thrown where nothing can catch
// it (std::terminate, the whole process). Here every Node-API status is checked instead: a job
// whose environment can no longer run JS is freed without touching JS, and the jobs queued behind
// it are dropped unstarted. The promise is made in JS and settled through references to its
// resolve and reject functions, not with a napi_deferred: Node-API frees a deferred only when it
// settles, which it refuses to do once JS cannot run, so every dropped job would leak it; a
// reference can always be deleted.
#pragma once

#include <napi.h>

#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <utility>
#include <string>
#include <vector>

#include "common.hpp"

namespace specopt {

class Job;

// The addon instance's queue of async jobs: one runs at a time, in call order, so async BLAS
// work never competes with itself for the cores (and inputs are copied when the call is made,
// not when the job starts). Jobs hold it by shared_ptr: it outlives the instance data if a job
// is still running when the environment's cleanup frees that.
//
// A job does not start at its call, nor at its predecessor's completion, but in a microtask, once
// the JS that is running has finished: the main thread copies a batch of calls' inputs (and runs
// the completion's promise handlers) with both cores to itself. Started at once, the job's BLAS
// threads took them, and the main thread, one runnable thread too many on 2 cores, was preempted
// for 2-5 ms in the middle of its next call (and V8's parallel scavenge, which waits for helper
// threads, took 3-5 ms instead of 0.2).
class JobQueue : public std::enable_shared_from_this<JobQueue> {
 public:
  ~JobQueue();
  // Queues `job`; `kick` schedules a microtask that calls StartNext (false: it could not).
  void Push(Job* job, const std::function<bool()>& kick);
  // The running job completed; when the environment is closing, drops every pending job (freed;
  // their promises never settle, nothing is left to observe them).
  void Finished(bool closing, const std::function<bool()>& kick);
  // The microtask: starts the next job unless one is running.
  void StartNext();
  // The environment is being torn down: nothing more starts.
  void Close();
  size_t Pending() const { return pending_.size(); }

 private:
  void Schedule(const std::function<bool()>& kick);
  std::deque<Job*> pending_;
  bool running_ = false;
  bool scheduled_ = false;  // a StartNext microtask is queued
  bool closed_ = false;
};

// What the addon instance keeps (napi instance data): the queue, shared with its jobs.
struct AddonData {
  explicit AddonData(napi_env env);
  ~AddonData();
  napi_env env;
  std::shared_ptr<JobQueue> queue = std::make_shared<JobQueue>();
  napi_ref promiseFactory = nullptr;  // () => [promise, resolve, reject]
  napi_ref queueMicrotask = nullptr;  // globalThis.queueMicrotask as it was when the addon loaded
  napi_ref startNext = nullptr;       // the native function that microtask calls
  // Schedules queue->StartNext in a microtask; false when that failed.
  bool Kick(napi_env env);
  static napi_value StartNextCallback(napi_env env, napi_callback_info info);
};

class Job {
 public:
  using Compute = std::function<void()>;
  using Finish = std::function<Napi::Value(Napi::Env)>;

  // The promise of `compute` then `finish`, queued behind the instance's earlier jobs.
  static Napi::Promise Start(Napi::Env env, Compute compute, Finish finish);

  ~Job();

 private:
  friend class JobQueue;
  Job(napi_env env, std::shared_ptr<JobQueue> queue, Compute compute, Finish finish)
      : env_(env), name_(CurrentEntry()), queue_(std::move(queue)), compute_(std::move(compute)), finish_(std::move(finish)) {}

  bool Queue();  // false when Node-API refused (the environment is closing)
  static void Execute(napi_env env, void* data);
  static void Complete(napi_env env, napi_status status, void* data);
  // Settles the promise; false (nothing called into JS) when the environment can no longer run JS.
  bool Settle(napi_env env, napi_status status);

  napi_env env_;
  const char* name_;  // the entry point that made it, for its error messages (a static string)
  std::shared_ptr<JobQueue> queue_;
  napi_ref resolve_ = nullptr, reject_ = nullptr;
  napi_async_work work_ = nullptr;
  Compute compute_;
  Finish finish_;
  std::string error_;  // set by Execute on failure
  bool failed_ = false, badInput_ = false;
};

// Float memory a job owns, uninitialised. Memory fresh from the system costs a page fault per
// 4 KiB page when first written (measured here: about 1 ms per MB, several times a copy into
// memory already paged in), and input copies are written on the main thread, so blocks of
// 256 KiB or more come from a small process-wide pool of blocks that earlier jobs released.
class Block {
 public:
  Block() = default;
  explicit Block(size_t count);
  Block(Block&& other) noexcept { *this = std::move(other); }
  Block& operator=(Block&& other) noexcept;
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
  ~Block() { Release(); }
  float* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void Release();
  float* data_ = nullptr;
  size_t size_ = 0, capacity_ = 0;
};

// Copies `count` floats to memory that is likely not in the cache (a job's block, a caller's
// `out`). From 256 KiB, with streaming stores, which do not read the destination's lines first:
// measured here, 4 MiB the caller had just written in 0.24-0.36 ms against memcpy's 0.56-1.0 ms
// (0.8-1.1 against 1.0-1.3 ms when it had to come from memory).
void StreamCopy(float* to, const float* from, size_t count);
// The lower triangle of an n x n row-major matrix (row i's first i + 1 floats): half the bytes
// of StreamCopy's, when only that triangle is read. The rest of `to` is not written.
void StreamCopyLower(float* to, const float* from, size_t n);

// A Float32Array argument of an async job, as the job's own copy. An ordinary ArrayBuffer is
// copied at the call, on the main thread: JS may detach or transfer it as soon as the call
// returns. A SharedArrayBuffer cannot be detached, and the reference held here keeps it alive
// until the job is freed (Node finishes running threadpool work before it tears an environment
// down), so its copy is made on the worker when the job starts: the main thread never copies it.
// With `lowerOf` = n, the input is an n x n matrix of which only the lower triangle is read
// (eigh): only that triangle is copied, and the copy's strictly upper part is not initialised.
// Construct and destroy on the main thread.
class Input {
 public:
  Input(napi_env env, napi_value array, const FloatView& view, size_t lowerOf = 0);
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;
  ~Input();
  // The job's copy (made now, for a SharedArrayBuffer). Only from the job's compute.
  float* Data();
  size_t size() const { return length_; }

 private:
  napi_env env_;
  napi_ref shared_ = nullptr;  // the SharedArrayBuffer's view, until the job is freed
  const float* source_ = nullptr;
  size_t length_ = 0, lowerOf_ = 0;
  bool copied_ = false;
  Block copy_;
  void CopyNow();
};

// An output Float32Array of an async job, computed by the worker into memory of its own and
// handed to JS at the finish. The memory is allocated on the worker (Zeroed), not at the call,
// and not from the pool of blocks: pooled blocks, whose pages are mapped already, are for the
// inputs the main thread copies (a fresh 4 MB block costs it ~3 ms of page faults, measured),
// and results live as long as JS keeps them. Nothing of an output reaches V8 before the finish:
// an ArrayBuffer made at the call counted towards V8's external memory there, and the young-
// generation GC this triggers every ~32 MB ran in the middle of the call. From 256 KiB the
// memory becomes the ArrayBuffer's (an external ArrayBuffer, no copy, freed when it is
// collected); smaller outputs are copied into an ordinary one.
// Construct, Take and destroy on the main thread.
class Output {
 public:
  Output(size_t count) : count_(count) {}  // not explicit: a job's State makes it from {n}
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;
  ~Output() { std::free(data_); }
  // The output's memory, zero-filled: once, on the worker, before compute writes into it.
  float* Zeroed();
  size_t size() const { return count_; }
  // The Float32Array, exactly its size; once only, after Zeroed.
  Napi::Float32Array Take(Napi::Env env);

 private:
  size_t count_;
  float* data_ = nullptr;
};

// Copies a Float32Array's contents into job-owned memory.
inline std::vector<float> Copy(const FloatView& view) {
  return std::vector<float>(view.data, view.data + view.length);
}

// A Float32Array holding a copy of `values`.
inline Napi::Float32Array ToArray(Napi::Env env, const std::vector<float>& values) {
  auto array = Napi::Float32Array::New(env, values.size());
  std::copy(values.begin(), values.end(), array.Data());
  return array;
}

}  // namespace specopt
