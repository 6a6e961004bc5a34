#include "job.hpp"

#include <mutex>
#include <new>

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
}

AddonData::~AddonData() {
  queue->Close();
  if (promiseFactory != nullptr) napi_delete_reference(env, promiseFactory);
}

JobQueue::~JobQueue() { Close(); }

void JobQueue::Push(Job* job) {
  if (closed_) {
    delete job;
  } else if (running_) {
    pending_.push_back(job);
  } else {
    Start(job);
  }
}

void JobQueue::Start(Job* job) {
  running_ = true;
  if (!job->Queue()) {
    running_ = false;
    delete job;
    Close();
  }
}

void JobQueue::Finished(bool closing) {
  running_ = false;
  if (closing) Close();
  if (closed_ || pending_.empty()) return;
  Job* next = pending_.front();
  pending_.pop_front();
  Start(next);
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
  queue->Push(job.release());
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
  queue->Finished(!alive);
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

}  // namespace specopt
