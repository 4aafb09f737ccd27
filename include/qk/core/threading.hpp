// qk/core/threading.hpp - how qk runs work in parallel, if at all.
//
// Kernels never create threads. A run call takes an optional Executor; null means serial on the
// calling thread. The executor only decides *where* each index range runs: the partition of the
// work into ranges is fixed by the operator, and every range writes a disjoint part of the
// output with the same arithmetic, so results are identical for any executor and thread count.
//
// Users with their own pool (an inference engine's) implement Executor; ThreadPool is a small
// ready-made one for everybody else, except under QK_NO_THREADS (qk/core/config.hpp: defined
// automatically where the standard library has no threads, e.g. bare-metal newlib).
#pragma once

#include <cstddef>

#include "qk/core/config.hpp"

#if !defined(QK_NO_THREADS)
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#endif

namespace qk {

class Executor {
 public:
  using Task = void (*)(void* context, std::size_t begin, std::size_t end);
  virtual ~Executor() = default;
  // Calls task(context, b, e) over disjoint ranges covering [0, count), possibly concurrently,
  // and returns when all have finished. `grain` is the smallest range worth a separate call.
  virtual void parallel_for(std::size_t count, std::size_t grain, Task task, void* context) = 0;
  // How many ranges may run at once; operators use it to size their partition.
  virtual std::size_t concurrency() const = 0;
};

// Runs everything on the calling thread.
class SerialExecutor final : public Executor {
 public:
  void parallel_for(std::size_t count, std::size_t, Task task, void* context) override {
    if (count > 0) task(context, 0, count);
  }
  std::size_t concurrency() const override { return 1; }
};

#if !defined(QK_NO_THREADS)
namespace detail {
// One spin-wait step: tells the core (and an SMT sibling) that this thread is waiting.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}
}  // namespace detail

// A fixed pool of worker threads; the calling thread takes a share of every parallel_for too.
// Work is split into one contiguous range per participant: qk's operators already hand it
// balanced units, and contiguous ranges keep each thread on neighbouring weight panels.
//
// Waiting spins first, then sleeps, as OpenMP runtimes do (GOMP_SPINCOUNT, OMP_WAIT_POLICY): a
// worker polls for the next call for up to kSpin after its last one, and the caller polls for
// the workers' end for as long, before either falls back to the condition variable. Waking a
// sleeping thread through the kernel took tens of microseconds on this project's VMs, which cost
// a 300 us GEMM a sixth of its two-thread speed-up (3136x64x576: 1.62x one thread against
// oneDNN's 1.93x, whose OpenMP threads spin). After kSpin of idleness the workers use no CPU.
class ThreadPool final : public Executor {
 public:
  static constexpr std::chrono::microseconds kSpin{200};

  explicit ThreadPool(std::size_t threads) : threads_(threads == 0 ? 1 : threads) {
    for (std::size_t i = 1; i < threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
  }
  ~ThreadPool() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  std::size_t concurrency() const override { return threads_; }

  void parallel_for(std::size_t count, std::size_t grain, Task task, void* context) override {
    if (count == 0) return;
    if (grain == 0) grain = 1;
    std::size_t parts = (count + grain - 1) / grain;
    if (parts > threads_) parts = threads_;
    if (parts <= 1) {
      task(context, 0, count);
      return;
    }
    std::unique_lock<std::mutex> call_lock(call_mutex_);  // one parallel_for at a time
    {
      // Under mutex_, so that a worker about to sleep cannot miss the new generation. The fields
      // are published by the release increment; a worker reads them after its acquire load.
      std::lock_guard<std::mutex> lock(mutex_);
      task_ = task;
      context_ = context;
      count_ = count;
      parts_ = parts;
      pending_.store(parts - 1, std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run_part(0);
    spin_then_wait(done_, [this] { return pending_.load(std::memory_order_acquire) == 0; });
  }

 private:
  void run_part(std::size_t part) {
    const std::size_t begin = count_ * part / parts_, end = count_ * (part + 1) / parts_;
    if (begin < end) task_(context_, begin, end);
  }
  // Returns once ready() holds: polled for up to kSpin, yielding every 64 polls (on an
  // oversubscribed core the thread waited for may need this one's time), then asleep on `cv`,
  // which is notified under mutex_ once the condition is made true.
  template <class Ready>
  void spin_then_wait(std::condition_variable& cv, Ready ready) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    for (unsigned i = 1; !ready(); ++i) {
      detail::cpu_relax();
      if (i % 64 != 0) continue;
      std::this_thread::yield();
      if (std::chrono::steady_clock::now() > until) {
        std::unique_lock<std::mutex> lock(mutex_);
        cv.wait(lock, ready);
        return;
      }
    }
  }
  void worker(std::size_t index) {
    std::size_t seen = 0;
    for (;;) {
      spin_then_wait(wake_, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      // The call's fields as one snapshot, under the mutex they are written under: a worker with
      // no part in one call may wake late, when the caller has already started the next one.
      std::size_t parts = 0;
      bool stop = false;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        seen = generation_.load(std::memory_order_relaxed);
        parts = parts_;
        stop = stop_;
      }
      if (stop) return;
      if (index >= parts) continue;
      run_part(index);
      if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);  // the caller may be checking the predicate
        done_.notify_one();
      }
    }
  }

  std::size_t threads_;
  std::vector<std::thread> workers_;
  std::mutex call_mutex_, mutex_;
  std::condition_variable wake_, done_;
  std::atomic<std::size_t> generation_{0}, pending_{0};
  std::size_t count_ = 0, parts_ = 0;
  Task task_ = nullptr;
  void* context_ = nullptr;
  bool stop_ = false;
};
#endif  // !QK_NO_THREADS

}  // namespace qk
