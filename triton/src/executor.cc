// executor.cc: one nrtq::Queue per core, a fixed pool of device tensor sets per core, a
// FIFO for requests that find every slot busy. See executor.h.
#include "executor.h"

#include <chrono>
#include <utility>

namespace triton_nrtq {

std::uint64_t now_ns() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

namespace {

/** "NRT status 1004 (NRT_EXEC_COMPLETED_WITH_ERR)", or "" for 0. */
std::string nrt_status_text(std::uint32_t nrt_status) {
    if (nrt_status == 0) return "";
    const char *name = nrt_get_status_as_str(static_cast<NRT_STATUS>(nrt_status));
    return "NRT status " + std::to_string(nrt_status) + (name ? std::string(" (") + name + ")" : std::string());
}

/** The sentence every failure carries: nrtq's status name and text, the raw status. */
std::string describe(nrtq_status status, std::uint32_t nrt_status, int core, const std::string &detail) {
    std::string text = nrtq_status_str(status);
    if (nrt_status != 0) text += "; " + nrt_status_text(nrt_status);
    if (core >= 0) text += "; on NeuronCore " + std::to_string(core);
    if (!detail.empty()) text += "; " + detail;
    return text;
}

} // namespace

void Executor::fail(Job &job, nrtq_status status, std::uint32_t nrt_status, int core, std::string message) {
    Outcome outcome;
    outcome.status = status;
    outcome.nrt_status = nrt_status;
    outcome.core = core;
    outcome.message = describe(status, nrt_status, core, message);
    if (job.done) job.done(outcome);
}

Executor::Executor(const nrtq::Runtime &runtime, ExecutorOptions options) : options_(std::move(options)) {
    if (options_.cores.empty())
        throw nrtq::Error(NRTQ_ERR_INVALID, 0, "triton_nrtq::Executor", "no NeuronCore configured");
    if (options_.slots_per_core == 0 || options_.slots_per_core > 1024)
        throw nrtq::Error(NRTQ_ERR_INVALID, 0, "triton_nrtq::Executor", "slots_per_core must be 1-1024");
    for (int vnc : options_.cores) {
        auto core = std::make_unique<Core>(runtime, options_.model_path, vnc);
        Core *raw = core.get();
        nrtq::QueueConfig config;
        config.depth(options_.queue_depth).on_fatal([this, raw](nrtq_status status, std::uint32_t nrt_status) {
            lose_core(*raw, status, nrt_status);
        });
        core->queue = std::make_unique<nrtq::Queue>(runtime, core->model, config);
        for (unsigned i = 0; i < options_.slots_per_core; i++) {
            core->slots.push_back(std::unique_ptr<Slot>(
                new Slot{nrtq::TensorSet::inputs_of(core->model), nrtq::TensorSet::outputs_of(core->model), Job{}, 0}));
            core->free.push_back(core->slots.back().get());
        }
        cores_.push_back(std::move(core));
    }
    tensors_ = cores_.front()->model.tensors();
    live_ = cores_.size();
}

Executor::~Executor() {
    std::deque<Job> orphans;
    {
        std::lock_guard<std::mutex> guard(lock_);
        closing_ = true;
        orphans.swap(waiting_);
    }
    for (Job &job : orphans)
        fail(job, NRTQ_ERR_CLOSED, 0, -1, "the model is being unloaded before this request reached a core");
    // Each destroy delivers every request still on that core (its job's done runs), and
    // closing_ keeps those completions from starting anything new.
    for (auto &core : cores_) core->queue.reset();
}

std::size_t Executor::live_cores() const {
    std::lock_guard<std::mutex> guard(lock_);
    return live_;
}

std::pair<Executor::Core *, Executor::Slot *> Executor::take_slot_locked() {
    const std::size_t n = cores_.size();
    Core *best = nullptr;
    std::size_t best_index = 0;
    for (std::size_t k = 0; k < n; k++) {
        const std::size_t i = (next_ + k) % n;
        Core &c = *cores_[i];
        if (!c.alive || c.free.empty()) continue;
        if (best == nullptr || c.in_flight < best->in_flight) {
            best = &c;
            best_index = i;
        }
    }
    if (best == nullptr) return {nullptr, nullptr};
    next_ = (best_index + 1) % n;
    Slot *slot = best->free.back();
    best->free.pop_back();
    best->in_flight++;
    return {best, slot};
}

void Executor::run(Job job) { dispatch(std::move(job)); }

void Executor::dispatch(Job job) {
    std::unique_lock<std::mutex> guard(lock_);
    if (closing_ || live_ == 0) {
        const bool closing = closing_;
        guard.unlock();  // done() sends a Triton response: never under our lock
        if (closing)
            fail(job, NRTQ_ERR_CLOSED, 0, -1, "the model is being unloaded");
        else
            fail(job, NRTQ_ERR_QUEUE_FAILED, 0, -1, "every NeuronCore of this model has failed; reload the model");
        return;
    }
    auto [core, slot] = take_slot_locked();
    if (core == nullptr) {
        waiting_.push_back(std::move(job));
        return;
    }
    slot->job = std::move(job);
    guard.unlock();
    drive(core, slot);
}

void Executor::drive(Core *core, Slot *slot) {
    while (core != nullptr) {
        switch (start(*core, *slot)) {
        case Start::Submitted: return;
        case Start::CoreDead: {
            // Nothing reached the device: the job is still ours, try another core.
            Job job = std::move(slot->job);
            {
                std::lock_guard<std::mutex> guard(lock_);
                core->in_flight--;
            }
            dispatch(std::move(job));
            return;
        }
        case Start::Failed: std::tie(core, slot) = release_slot(*core, *slot); break;
        }
    }
}

Executor::Start Executor::start(Core &core, Slot &slot) {
    Job &job = slot.job;
    try {
        for (std::size_t k = 0; k < job.inputs.size(); k++) {
            std::size_t offset = 0;
            for (const HostBytes &piece : job.inputs[k]) {
                slot.inputs.write<std::uint8_t>(k, static_cast<const std::uint8_t *>(piece.data), piece.size, offset);
                offset += piece.size;
            }
        }
    } catch (const nrtq::Error &e) {
        fail(job, e.status(), e.nrt_status(), core.vnc, std::string("writing the inputs: ") + e.what());
        job = Job{};
        return Start::Failed;
    }
    slot.started_ns = now_ns();
    try {
        Core *c = &core;
        Slot *s = &slot;
        auto ticket = core.queue->try_submit(slot.inputs, slot.outputs,
                                             [this, c, s](const nrtq::Completion &done) { on_completion(*c, *s, done); });
        if (ticket) return Start::Submitted;
        // The backlog holds more than this core's slots, so this is not expected; say so.
        fail(job, NRTQ_BACKLOG_FULL, 0, core.vnc, "nrtq's backlog is full although every slot is accounted for");
    } catch (const nrtq::Error &e) {
        if (e.status() == NRTQ_ERR_QUEUE_FAILED || e.status() == NRTQ_ERR_CLOSED) {
            lose_core(core, e.status(), e.nrt_status());
            return Start::CoreDead;
        }
        fail(job, e.status(), e.nrt_status(), core.vnc, e.what());
    }
    job = Job{};
    return Start::Failed;
}

std::pair<Executor::Core *, Executor::Slot *> Executor::release_slot(Core &core, Slot &slot) {
    std::lock_guard<std::mutex> guard(lock_);
    core.in_flight--;
    if (!core.alive) return {nullptr, nullptr};  // a dead core's slots stay out of service
    if (!closing_ && !waiting_.empty()) {
        slot.job = std::move(waiting_.front());
        waiting_.pop_front();
        core.in_flight++;
        return {&core, &slot};
    }
    core.free.push_back(&slot);
    return {nullptr, nullptr};
}

void Executor::on_completion(Core &core, Slot &slot, const nrtq::Completion &c) {
    Outcome outcome;
    outcome.core = core.vnc;
    outcome.compute_start_ns = slot.started_ns;
    outcome.compute_end_ns = now_ns();
    outcome.status = c.status;
    outcome.nrt_status = c.nrt_status;
    Job job = std::move(slot.job);
    slot.job = Job{};
    if (c.ok()) {
        try {
            for (std::size_t k = 0; k < job.outputs.size(); k++) {
                const HostBuffer &out = job.outputs[k];
                if (out.data != nullptr)
                    slot.outputs.read<std::uint8_t>(k, static_cast<std::uint8_t *>(out.data), out.size);
            }
        } catch (const nrtq::Error &e) {
            outcome.status = e.status();
            outcome.nrt_status = e.nrt_status();
            outcome.message = describe(e.status(), e.nrt_status(), core.vnc, std::string("reading the outputs: ") + e.what());
        }
    } else {
        outcome.message = describe(c.status, c.nrt_status, core.vnc, "");
        if (c.status == NRTQ_ERR_QUEUE_FAILED || c.status == NRTQ_ERR_DEADLINE) {
            bool first = false;
            {
                std::lock_guard<std::mutex> guard(lock_);
                first = !core.failed_once;
                core.failed_once = true;
            }
            lose_core(core, c.status, c.nrt_status);
            if (!first && job.attempts < kMaxAttempts) {
                // nrtq delivers a queue's completions in submission order, so the first
                // failure on a core is the request that was running when it died (or hung);
                // every later one was queued behind it and never ran. Inference is a pure
                // function of the inputs: run those elsewhere. The first one is answered with
                // its error, so that a request that kills cores cannot kill them all.
                job.attempts++;
                if (options_.on_job_moved) options_.on_job_moved(core.vnc);
                auto next = release_slot(core, slot);
                drive(next.first, next.second);
                dispatch(std::move(job));
                return;
            }
        }
    }
    // Refill the slot before answering, so the core gets its next request soonest.
    auto next = release_slot(core, slot);
    drive(next.first, next.second);
    if (job.done) job.done(outcome);
}

void Executor::lose_core(Core &core, nrtq_status status, std::uint32_t nrt_status) {
    std::deque<Job> orphans;
    std::size_t live = 0;
    {
        std::lock_guard<std::mutex> guard(lock_);
        if (!core.alive) return;
        core.alive = false;
        live = --live_;
        if (live == 0) orphans.swap(waiting_);
    }
    const bool last = live == 0;
    if (options_.on_core_lost) options_.on_core_lost(core.vnc, status, nrt_status, live);
    for (Job &job : orphans)
        fail(job, NRTQ_ERR_QUEUE_FAILED, nrt_status, -1, "every NeuronCore of this model has failed; reload the model");
    if (last && options_.on_all_cores_lost) options_.on_all_cores_lost();
}

} // namespace triton_nrtq
