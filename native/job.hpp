// An async twin's unit of work: `compute` runs on a libuv worker thread over memory the job owns
// (never JS memory, which could be detached meanwhile), `finish` builds the JS result on the main
// thread. Failures reject the promise with the ComputeError's message.
#pragma once

#include <napi.h>

#include <deque>
#include <functional>
#include <new>

#include "common.hpp"

namespace specopt {

class Job;

// The addon instance's queue of async jobs: one runs at a time, in call order, so async BLAS
// work never competes with itself for the cores (and inputs are copied when the call is made,
// not when the job starts).
class JobQueue {
 public:
  ~JobQueue();
  void Push(Job* job);
  void Finished();

 private:
  std::deque<Job*> pending_;
  bool running_ = false;
};

class Job : public Napi::AsyncWorker {
 public:
  using Compute = std::function<void()>;
  using Finish = std::function<Napi::Value(Napi::Env)>;

  static Napi::Promise Start(Napi::Env env, Compute compute, Finish finish) {
    auto* job = new Job(env, std::move(compute), std::move(finish));
    Napi::Promise promise = job->deferred_.Promise();
    env.GetInstanceData<JobQueue>()->Push(job);
    return promise;
  }

 private:
  Job(Napi::Env env, Compute compute, Finish finish)
      : Napi::AsyncWorker(env, "specopt"),
        deferred_(Napi::Promise::Deferred::New(env)),
        compute_(std::move(compute)),
        finish_(std::move(finish)) {}

  void Execute() override {
    try {
      std::lock_guard<std::mutex> lock(BlasMutex());
      compute_();
    } catch (const ComputeError& e) {
      badInput_ = e.badInput;
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      SetError("out of memory");
    }
  }

  void OnOK() override {
    try {
      deferred_.Resolve(finish_(Env()));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
    Env().GetInstanceData<JobQueue>()->Finished();
  }

  void OnError(const Napi::Error& error) override {
    std::string message = error.Message();
    Napi::Error typed = badInput_ ? Napi::RangeError::New(Env(), message)
                                  : Napi::Error::New(Env(), message);
    deferred_.Reject(typed.Value());
    Env().GetInstanceData<JobQueue>()->Finished();
  }

  Napi::Promise::Deferred deferred_;
  Compute compute_;
  Finish finish_;
  bool badInput_ = false;
};

inline void JobQueue::Push(Job* job) {
  if (running_) {
    pending_.push_back(job);
  } else {
    running_ = true;
    job->Queue();
  }
}

inline void JobQueue::Finished() {
  running_ = false;
  if (pending_.empty()) return;
  Job* next = pending_.front();
  pending_.pop_front();
  Push(next);
}

// At environment teardown, jobs that never started are dropped (their promises never settle:
// nothing is left to observe them).
inline JobQueue::~JobQueue() {
  for (Job* job : pending_) delete job;
}

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
