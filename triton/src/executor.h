// executor.h: "run this request on some core, call me back with its outputs or an error".
//
// The one place that decides how a request reaches a NeuronCore: one nrtq::Pool of
// pipelines over the configured cores. A request's host buffers (Triton's own input and
// output buffers) go straight into the pool; on its core, nrtq writes the inputs, runs the
// model and reads the outputs back as asynchronous pipeline stages. The pool routes each
// request to the core expected to finish it soonest, keeps its own backlog (so run() never
// blocks), and when a core dies takes it out of service and moves the requests that never
// reached its device to the other cores. Those the dead core's device held fail with its
// status (the pool is not marked retry-safe: a request that kills a core is not run again
// elsewhere, so it cannot kill them all).
//
// The backend (backend.cc) sees only this interface.
#ifndef TRITON_NRTQ_EXECUTOR_H
#define TRITON_NRTQ_EXECUTOR_H

#include <nrtq_nrt.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace triton_nrtq {

/** Bytes the caller owns, read (inputs) or written (outputs) by the executor. */
struct HostBytes {
    const void *data = nullptr;
    std::size_t size = 0;
};
struct HostBuffer {
    void *data = nullptr;
    std::size_t size = 0;
};

/** How a request ended. */
struct Outcome {
    nrtq_status status = NRTQ_OK;  // NRTQ_OK or why it failed
    std::uint32_t nrt_status = 0;  // the raw NRT_STATUS behind it, 0 if none
    int core = -1;                 // logical core it failed on, where known (-1: unknown)
    std::string message;           // for failures: what happened, with both statuses
    std::uint64_t compute_start_ns = 0;  // handed to the pool (its input writes start then or later)
    std::uint64_t compute_end_ns = 0;    // completion received: outputs in the caller's buffers
    bool ok() const noexcept { return status == NRTQ_OK; }
};

/** One request's work. The executor owns it from run() until `done` has been called. */
struct Job {
    /** Per model input, in the model's input order: the bytes, possibly in several pieces
     *  that are concatenated (Triton may hand an input in several buffers). */
    std::vector<std::vector<HostBytes>> inputs;
    /** Per model output, in the model's output order: where to put it; data == nullptr
     *  when the caller does not want that output. */
    std::vector<HostBuffer> outputs;
    /** Called exactly once, on the caller's thread (refused at once) or on nrtq's
     *  completion thread; outputs are filled when outcome.ok(). The buffers must stay
     *  valid and unchanged until then (nrtq's buffer-reuse rule for pipelines). */
    std::function<void(const Outcome &)> done;
};

struct ExecutorOptions {
    std::string model_path;          // NEFF (or the emulator's .nrtm) loaded on every core
    std::vector<int> cores;          // logical cores, as libnrt numbers the visible ones
    unsigned slots_per_core = 8;     // pipeline slots per core = requests between stages per core
    unsigned queue_depth = 3;        // nrtq's minimum device depth per core
    /** Called once per core, on nrtq's completion thread, when it leaves service, with
     *  the number of cores still serving. */
    std::function<void(int core, nrtq_status, std::uint32_t nrt_status, std::size_t live)> on_core_lost;
    /** Called once, after on_core_lost, when the last core has left service. */
    std::function<void()> on_all_cores_lost;
};

class Executor {
public:
    /** Loads the model on every core and creates the pool; throws nrtq::Error. */
    Executor(const nrtq::Runtime &runtime, ExecutorOptions options);
    /** Destroys the pool, which answers every job it still holds (those not yet on a
     *  device as cancelled). Must not run on nrtq's completion thread. */
    ~Executor();
    Executor(const Executor &) = delete;
    Executor &operator=(const Executor &) = delete;

    /** Inputs in model order, then outputs (every core loads the same model). */
    const std::vector<nrtq::TensorInfo> &tensors() const { return tensors_; }
    /** Hand `job` to the pool; never blocks. */
    void run(Job job);
    std::size_t live_cores() const { return live_.load(); }

private:
    struct Request;
    void complete(std::unique_ptr<Request> request, const nrtq::Completion &c);
    void core_left(std::uint32_t index, nrtq_status status, std::uint32_t nrt_status);
    /** The core a failed completion ran on, where it can be told: a one-core pool, or the
     *  one core that has left with this raw status. */
    int core_of(const nrtq::Completion &c) const;
    static void fail(Job &job, nrtq_status status, std::uint32_t nrt_status, int core, const std::string &detail);

    ExecutorOptions options_;
    std::vector<nrtq::Model> models_;  // one per core, pool order = options_.cores order
    std::vector<nrtq::TensorInfo> tensors_;
    std::vector<std::size_t> output_sizes_;  // per model output
    std::optional<nrtq::Pool> pool_;
    std::atomic<std::size_t> live_{0};
    std::atomic<bool> closing_{false};
    mutable std::mutex lock_;
    std::vector<std::pair<int, std::uint32_t>> lost_;  // (core, raw status) of each core that left; guarded by lock_
};

/** Nanoseconds on the clock Triton's statistics use (steady). */
std::uint64_t now_ns();

} // namespace triton_nrtq

#endif // TRITON_NRTQ_EXECUTOR_H
