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

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common.hpp"

namespace specopt {

class Job;

// The addon instance's queue of async jobs: one runs at a time, in call order, so async BLAS
// work never competes with itself for the cores (and inputs are copied when the call is made,
// not when the job starts). Jobs hold it by shared_ptr: it outlives the instance data if a job
// is still running when the environment's cleanup frees that.
class JobQueue : public std::enable_shared_from_this<JobQueue> {
 public:
  ~JobQueue();
  void Push(Job* job);
  // The running job completed: start the next one, or, when the environment is closing, drop
  // every pending job (freed; their promises never settle, nothing is left to observe them).
  void Finished(bool closing);
  // The environment is being torn down: nothing more starts.
  void Close();
  size_t Pending() const { return pending_.size(); }

 private:
  void Start(Job* job);
  std::deque<Job*> pending_;
  bool running_ = false;
  bool closed_ = false;
};

// What the addon instance keeps (napi instance data): the queue, shared with its jobs.
struct AddonData {
  explicit AddonData(napi_env env);
  ~AddonData();
  napi_env env;
  std::shared_ptr<JobQueue> queue = std::make_shared<JobQueue>();
  napi_ref promiseFactory = nullptr;  // () => [promise, resolve, reject]
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
