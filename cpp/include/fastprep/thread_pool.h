// The process-wide worker pool that batch and long-input paths use to spread work over cores.
#pragma once
#include <cstddef>
#include <functional>

#include "fastprep/status.h"

namespace fastprep {

// Number of cores the pool is sized to (std::thread::hardware_concurrency, at least 1).
size_t hardware_threads();

// Runs fn(task) for every task in [0, n_tasks) on up to `max_threads` threads (0 = all cores),
// the calling thread included, and returns when all have finished. Tasks are handed out one at a
// time (dynamic scheduling), so make each one a reasonable chunk of work.
//
// - The pool starts lazily on first use and is never torn down; after fork() the child notices the
//   pid change and starts its own pool (the parent's threads do not exist there).
// - Called from inside a task (any depth) it runs serially on the calling thread: no deadlock and
//   no oversubscription. Concurrent callers share the pool; a caller never waits on work that
//   nobody has claimed, because it claims unclaimed tasks itself.
// - Never throws: an exception escaping fn is caught and reported as kInternal (or
//   kLimitExceeded for std::bad_alloc); the other tasks still run.
Status parallel_for(size_t n_tasks, size_t max_threads, const std::function<void(size_t)>& fn);

}  // namespace fastprep
