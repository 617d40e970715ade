// executor.cc: one nrtq::Pool of pipelines over the configured cores. See executor.h.
#include "executor.h"

#include <chrono>
#include <cstring>
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

const char *const kAllLost = "every NeuronCore of this model has failed; reload the model";

} // namespace

/** A job in the pool, with the host buffers handed to it. */
struct Executor::Request {
    Job job;
    std::vector<std::vector<std::uint8_t>> staged;   // inputs Triton gave in several pieces, joined
    std::vector<std::vector<std::uint8_t>> unwanted; // outputs the caller did not ask for
    nrtq::HostBuffers inputs, outputs;
    std::uint64_t submitted_ns = 0;
};

void Executor::fail(Job &job, nrtq_status status, std::uint32_t nrt_status, int core, const std::string &detail) {
    Outcome outcome;
    outcome.status = status;
    outcome.nrt_status = nrt_status;
    outcome.core = core;
    outcome.message = describe(status, nrt_status, core, detail);
    if (job.done) job.done(outcome);
}

Executor::Executor(const nrtq::Runtime &runtime, ExecutorOptions options) : options_(std::move(options)) {
    if (options_.cores.empty())
        throw nrtq::Error(NRTQ_ERR_INVALID, 0, "triton_nrtq::Executor", "no NeuronCore configured");
    if (options_.slots_per_core == 0 || options_.slots_per_core > 1024)
        throw nrtq::Error(NRTQ_ERR_INVALID, 0, "triton_nrtq::Executor", "slots_per_core must be 1-1024");
    // The backend loads the model itself (rather than nrtq_pool_create loading the file)
    // because it needs the model's tensor info to check config.pbtxt.
    std::vector<nrtq::ModelRef> refs;
    for (int vnc : options_.cores) {
        models_.emplace_back(runtime, options_.model_path, vnc);
        refs.emplace_back(models_.back());
    }
    tensors_ = models_.front().tensors();
    for (const nrtq::TensorInfo &t : tensors_)
        if (!t.input) output_sizes_.push_back(t.size);
    nrtq::PoolConfig config;
    config.pipeline(nrtq::PipelineConfig().slots(options_.slots_per_core))
        .queue_config(nrtq::QueueConfig().depth(options_.queue_depth))
        .backlog(1u << 24)  // Triton's queue policies bound the load; never refuse for room
        .on_core_left([this](std::uint32_t index, nrtq_status status, std::uint32_t nrt_status) {
            core_left(index, status, nrt_status);
        });
    live_ = options_.cores.size();
    pool_.emplace(runtime, refs, config);
}

Executor::~Executor() {
    closing_ = true;
    // Destroying the pool cancels what waits in its backlog, waits for what the devices
    // hold, and delivers every completion (each job's done runs) before it returns.
    pool_.reset();
}

void Executor::run(Job job) {
    if (live_ == 0) {
        fail(job, NRTQ_ERR_QUEUE_FAILED, 0, -1, kAllLost);
        return;
    }
    auto request = std::make_unique<Request>();
    Request *r = request.get();
    r->job = std::move(job);
    const Job &j = r->job;
    std::size_t k = 0;
    for (const nrtq::TensorInfo &t : tensors_) {
        if (!t.input) continue;
        const std::vector<HostBytes> &pieces = j.inputs[k++];
        if (pieces.size() == 1) {
            r->inputs.push_back(nrtq::host_input(t.name.c_str(), pieces[0].data, pieces[0].size));
            continue;
        }
        // Several pieces: the pipeline takes one buffer per tensor, so join them here.
        std::vector<std::uint8_t> joined;
        for (const HostBytes &piece : pieces) {
            const auto *bytes = static_cast<const std::uint8_t *>(piece.data);
            joined.insert(joined.end(), bytes, bytes + piece.size);
        }
        r->staged.push_back(std::move(joined));
        r->inputs.push_back(nrtq::host_input(t.name.c_str(), r->staged.back().data(), r->staged.back().size()));
    }
    std::size_t o = 0;
    for (const nrtq::TensorInfo &t : tensors_) {
        if (t.input) continue;
        const HostBuffer &out = j.outputs[o];
        if (out.data != nullptr) {
            r->outputs.push_back(nrtq::host_output(t.name.c_str(), out.data, out.size));
        } else {
            // The pipeline reads every output; one the caller did not ask for lands here.
            r->unwanted.emplace_back(output_sizes_[o]);
            r->outputs.push_back(nrtq::host_output(t.name.c_str(), r->unwanted.back().data(), output_sizes_[o]));
        }
        o++;
    }
    r->submitted_ns = now_ns();
    try {
        // The completion takes the request back (every accepted request completes once).
        std::optional<nrtq::Pool::Ticket> ticket = pool_->submit_host(
            r->inputs, r->outputs, [this, r](const nrtq::Completion &c) { complete(std::unique_ptr<Request>(r), c); });
        if (ticket) {
            (void)request.release();
            return;
        }
        fail(request->job, NRTQ_BACKLOG_FULL, 0, -1, "the pool's backlog is full");
    } catch (const nrtq::Error &e) {
        if (e.status() == NRTQ_ERR_QUEUE_FAILED)
            fail(request->job, e.status(), e.nrt_status(), -1, kAllLost);
        else if (e.status() == NRTQ_ERR_CLOSED)
            fail(request->job, e.status(), 0, -1, "the model is being unloaded");
        else
            fail(request->job, e.status(), e.nrt_status(), -1, e.what());
    }
}

void Executor::complete(std::unique_ptr<Request> request, const nrtq::Completion &c) {
    Outcome outcome;
    outcome.compute_start_ns = request->submitted_ns;
    outcome.compute_end_ns = now_ns();
    outcome.status = c.status;
    outcome.nrt_status = c.nrt_status;
    if (!c.ok()) {
        if (c.status == NRTQ_ERR_CANCELLED && closing_) {
            outcome.status = NRTQ_ERR_CLOSED;
            outcome.message = describe(NRTQ_ERR_CLOSED, 0, -1, "the model is being unloaded before this request reached a core");
        } else {
            outcome.core = core_of(c);
            outcome.message = describe(c.status, c.nrt_status, outcome.core, "");
        }
    }
    if (request->job.done) request->job.done(outcome);
}

int Executor::core_of(const nrtq::Completion &c) const {
    if (options_.cores.size() == 1) return options_.cores.front();
    if (c.status != NRTQ_ERR_QUEUE_FAILED && c.status != NRTQ_ERR_DEADLINE) return -1;
    std::lock_guard<std::mutex> guard(lock_);
    int found = -1;
    for (const auto &[core, nrt_status] : lost_) {
        if (nrt_status != c.nrt_status) continue;
        if (found >= 0) return -1;  // two cores left with this status: cannot tell which
        found = core;
    }
    return found;
}

void Executor::core_left(std::uint32_t index, nrtq_status status, std::uint32_t nrt_status) {
    const int core = index < options_.cores.size() ? options_.cores[index] : -1;
    {
        std::lock_guard<std::mutex> guard(lock_);
        lost_.emplace_back(core, nrt_status);
    }
    const std::size_t live = --live_;
    if (options_.on_core_lost) options_.on_core_lost(core, status, nrt_status, live);
    if (live == 0 && options_.on_all_cores_lost) options_.on_all_cores_lost();
}

} // namespace triton_nrtq
