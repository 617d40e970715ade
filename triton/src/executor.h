// executor.h: "run this request on some core, call me back with its outputs or an error".
//
// The one place that decides how a request reaches a NeuronCore. Today: one nrtq::Queue
// per configured core, each with a fixed set of device tensor-set pairs ("slots") owned
// here; a request takes a free slot on the least busy live core, its inputs are written
// from the caller's host buffers straight into the slot's device tensors, and on
// completion the outputs are read straight into the caller's output buffers. Requests
// that find no free slot wait in a FIFO here and are started from the completion thread
// when a slot frees, so run() never blocks. When a core dies, the request that was running
// on it fails; the requests queued behind it (which never ran) move to the other cores.
//
// The backend (backend.cc) sees only this interface. Replacing the queues with an nrtq
// Pool of pipelines means re-implementing executor.cc behind the same Job / Outcome /
// Executor declarations (see triton/README.md, "Swapping in a Pool").
#ifndef TRITON_NRTQ_EXECUTOR_H
#define TRITON_NRTQ_EXECUTOR_H

#include <nrtq_nrt.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
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
    int core = -1;                 // logical core it ran on (-1: never reached one)
    std::string message;           // for failures: what happened, with both statuses
    std::uint64_t compute_start_ns = 0;  // submitted to the device (inputs written)
    std::uint64_t compute_end_ns = 0;    // completion received
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
     *  completion thread; outputs are filled when outcome.ok(). */
    std::function<void(const Outcome &)> done;
    /** Times the executor has moved this job to another core after its core died with
     *  the job still queued behind the failing request (bounded by kMaxAttempts). */
    unsigned attempts = 0;
};

/** A job is moved to another core at most this many times. */
inline constexpr unsigned kMaxAttempts = 3;

struct ExecutorOptions {
    std::string model_path;          // NEFF (or the emulator's .nrtm) loaded on every core
    std::vector<int> cores;          // logical cores, as libnrt numbers the visible ones
    unsigned slots_per_core = 8;     // tensor-set pairs per core = requests in flight per core
    unsigned queue_depth = 3;        // nrtq's minimum device depth per core
    /** Called once per core, from the thread that noticed, when it leaves service, with
     *  the number of cores still serving. */
    std::function<void(int core, nrtq_status, std::uint32_t nrt_status, std::size_t live)> on_core_lost;
    /** Called (on nrtq's completion thread) for each job moved off a dead core that it
     *  was queued on without having run. */
    std::function<void(int core)> on_job_moved;
    /** Called once when the last live core has left service. */
    std::function<void()> on_all_cores_lost;
};

class Executor {
public:
    /** Loads the model on every core and allocates the slots; throws nrtq::Error. */
    Executor(const nrtq::Runtime &runtime, ExecutorOptions options);
    /** Fails waiting jobs (UNAVAILABLE-style outcome), then destroys every queue, which
     *  delivers every job still on a device. Must not run on nrtq's completion thread. */
    ~Executor();
    Executor(const Executor &) = delete;
    Executor &operator=(const Executor &) = delete;

    /** Inputs in model order, then outputs (every core loads the same model). */
    const std::vector<nrtq::TensorInfo> &tensors() const { return tensors_; }
    /** Start `job` on some live core, or queue it; never blocks. */
    void run(Job job);
    std::size_t live_cores() const;

private:
    struct Slot {
        nrtq::TensorSet inputs, outputs;
        Job job;                      // owned by whoever took the slot
        std::uint64_t started_ns = 0; // when its request was submitted
    };
    enum class Start { Submitted, CoreDead, Failed };
    struct Core {
        int vnc = -1;
        nrtq::Model model;
        std::unique_ptr<nrtq::Queue> queue;
        std::vector<std::unique_ptr<Slot>> slots;
        std::vector<Slot *> free;  // guarded by lock_
        bool alive = true;         // guarded by lock_
        bool failed_once = false;  // a request has completed with the core's failure; guarded by lock_
        std::uint32_t in_flight = 0;
        Core(const nrtq::Runtime &runtime, const std::string &path, int vnc)
            : vnc(vnc), model(runtime, path, vnc) {}
    };

    /** Takes a free slot of the least busy live core (lock_ held); nullptr if none. */
    std::pair<Core *, Slot *> take_slot_locked();
    /** Writes the slot's job's inputs and submits it. CoreDead: the core refused it
     *  (nothing reached the device, the job is still in the slot); Failed: the job has
     *  been answered and the slot must be released. */
    Start start(Core &core, Slot &slot);
    /** Starts the job in `slot` on `core`, then whatever the slot takes next. */
    void drive(Core *core, Slot *slot);
    /** Returns a slot: to the free list, or with the next waiting job moved into it
     *  (returned, to be driven by the caller). */
    std::pair<Core *, Slot *> release_slot(Core &core, Slot &slot);
    /** Starts `job` somewhere, retrying on other cores, or queues it, or fails it. */
    void dispatch(Job job);
    void on_completion(Core &core, Slot &slot, const nrtq::Completion &c);
    /** Takes a core out of service (once); the last one fails every waiting job. */
    void lose_core(Core &core, nrtq_status status, std::uint32_t nrt_status);
    static void fail(Job &job, nrtq_status status, std::uint32_t nrt_status, int core, std::string message);

    ExecutorOptions options_;
    std::vector<nrtq::TensorInfo> tensors_;
    std::vector<std::size_t> input_index_, output_index_;  // tensors_ -> position in a TensorSet
    std::vector<std::unique_ptr<Core>> cores_;
    mutable std::mutex lock_;
    std::deque<Job> waiting_;  // guarded by lock_
    std::size_t live_ = 0;     // guarded by lock_
    std::size_t next_ = 0;     // round-robin start among equally busy cores; guarded by lock_
    bool closing_ = false;     // guarded by lock_
};

/** Nanoseconds on the clock Triton's statistics use (steady). */
std::uint64_t now_ns();

} // namespace triton_nrtq

#endif // TRITON_NRTQ_EXECUTOR_H
