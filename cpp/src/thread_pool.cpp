// The shared worker pool behind parallel_for: lazily started, fork-aware, recursion-safe.
#include "fastprep/thread_pool.h"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace fastprep {
namespace {

// One parallel_for call. Helpers hold a shared_ptr, so a helper that dequeues the job after the
// caller has returned only sees `next >= n_tasks` and leaves without touching `fn`.
struct Job {
  const std::function<void(size_t)>* fn = nullptr;
  size_t n_tasks = 0;
  std::atomic<size_t> next{0};
  std::atomic<size_t> done{0};
  std::mutex mu;
  std::condition_variable cv;
  std::atomic<int> error{0};  // 0 none, 1 internal, 2 bad_alloc
  std::string error_message;  // written once, by whoever sets `error` first
};

// Set on pool workers and on a caller while it runs tasks: nested parallel_for runs serially.
thread_local bool t_inside_task = false;

void run_tasks(Job& job) {
  for (;;) {
    size_t i = job.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= job.n_tasks) return;
    try {
      (*job.fn)(i);
    } catch (const std::bad_alloc&) {
      int expected = 0;
      if (job.error.compare_exchange_strong(expected, 2)) job.error_message = "out of memory";
    } catch (const std::exception& e) {
      int expected = 0;
      if (job.error.compare_exchange_strong(expected, 1)) job.error_message = e.what();
    } catch (...) {
      int expected = 0;
      if (job.error.compare_exchange_strong(expected, 1)) job.error_message = "unknown exception";
    }
    if (job.done.fetch_add(1, std::memory_order_acq_rel) + 1 == job.n_tasks) {
      std::lock_guard<std::mutex> lock(job.mu);
      job.cv.notify_all();
    }
  }
}

class Pool {
 public:
  explicit Pool(pid_t pid) : pid_(pid) {}
  pid_t pid() const { return pid_; }

  // Queues `helpers` references to the job; returns how many workers exist to take them.
  size_t Submit(const std::shared_ptr<Job>& job, size_t helpers) {
    std::lock_guard<std::mutex> lock(mu_);
    StartLocked();
    if (workers_.empty()) return 0;
    for (size_t i = 0; i < helpers; ++i) queue_.push_back(job);
    if (helpers == 1) {
      cv_.notify_one();
    } else {
      cv_.notify_all();
    }
    return workers_.size();
  }

 private:
  void StartLocked() {
    if (started_) return;
    started_ = true;
    size_t n = hardware_threads();
    // The caller always works too, so n - 1 workers keep every core busy for one caller; one more
    // lets a second concurrent caller get help. Keep it simple: n workers.
    for (size_t i = 0; i < n; ++i) {
      try {
        workers_.emplace_back([this] { WorkerLoop(); });
      } catch (...) {  // std::system_error (no more threads) or bad_alloc: run with fewer
        break;
      }
    }
  }

  void WorkerLoop() {
    t_inside_task = true;
    for (;;) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !queue_.empty(); });
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      run_tasks(*job);
    }
  }

  const pid_t pid_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::thread> workers_;  // never joined: the pool lives until the process exits
  bool started_ = false;
};

// Only atomics here, no mutex: a child forked while another parent thread held a lock must not
// touch that lock. A pool from another pid is abandoned (leaked); its threads are gone anyway.
std::atomic<Pool*> g_pool{nullptr};

Pool* get_pool() {
  pid_t me = getpid();
  Pool* p = g_pool.load(std::memory_order_acquire);
  while (p == nullptr || p->pid() != me) {
    Pool* fresh = new Pool(me);  // threads start on first Submit, so losing the race is cheap
    if (g_pool.compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) return fresh;
    delete fresh;  // p now holds the winner; loop re-checks its pid
  }
  return p;
}

}  // namespace

size_t hardware_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}

Status parallel_for(size_t n_tasks, size_t max_threads, const std::function<void(size_t)>& fn) {
  if (n_tasks == 0) return Status::Ok();
  try {
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->n_tasks = n_tasks;
    size_t threads = max_threads == 0 ? hardware_threads() : max_threads;
    if (threads > n_tasks) threads = n_tasks;
    if (threads > 1 && !t_inside_task) {
      // If queuing fails part-way the caller simply does more of the work itself; it still waits
      // for done == n_tasks below, so no helper can run a task after we return.
      try {
        get_pool()->Submit(job, threads - 1);
      } catch (...) {
      }
    }
    bool was_inside = t_inside_task;
    t_inside_task = true;
    run_tasks(*job);
    t_inside_task = was_inside;
    if (job->done.load(std::memory_order_acquire) != n_tasks) {
      std::unique_lock<std::mutex> lock(job->mu);
      job->cv.wait(lock, [&] { return job->done.load(std::memory_order_acquire) == n_tasks; });
    }
    int err = job->error.load(std::memory_order_acquire);
    if (err == 2) return Status(ErrorCode::kLimitExceeded, "parallel_for: " + job->error_message);
    if (err == 1) return Status(ErrorCode::kInternal, "parallel_for: " + job->error_message);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status(ErrorCode::kLimitExceeded, "parallel_for: out of memory");
  } catch (const std::exception& e) {
    return Status(ErrorCode::kInternal, std::string("parallel_for: ") + e.what());
  }
}

}  // namespace fastprep
