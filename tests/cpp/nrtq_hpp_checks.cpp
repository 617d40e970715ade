// The promises of include/nrtq.hpp and nrtq_nrt.hpp, checked one by one against the
// emulator (built and run by tests/cpp_example.rs). Prints "ok: <name>" per check and
// "FAIL: <name>: <why>" for a broken one; exits 1 if any failed.
//
//   nrtq_hpp_checks MODELS_DIR
#include <nrtq.hpp>
#include <nrtq_nrt.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string models;
int failures = 0;
constexpr auto kWatchdog = std::chrono::seconds(30);

void expect(bool condition, const char *name, const std::string &why) {
    if (condition) {
        std::printf("ok: %s\n", name);
    } else {
        std::printf("FAIL: %s: %s\n", name, why.c_str());
        failures++;
    }
}

std::string model_path(const char *name) { return models + "/" + name; }

// Counts the callable objects that own a request (moved-from copies own nothing).
struct Tracker {
    std::atomic<int> calls{0}, destroyed{0}, destroyed_uncalled{0};
};

struct TrackedCallable {
    Tracker *tracker;
    bool owner = true;
    bool called = false;
    explicit TrackedCallable(Tracker *t) : tracker(t) {}
    TrackedCallable(TrackedCallable &&other) noexcept : tracker(other.tracker), owner(other.owner), called(other.called) {
        other.owner = false;
    }
    TrackedCallable(const TrackedCallable &) = delete;
    TrackedCallable &operator=(const TrackedCallable &) = delete;
    TrackedCallable &operator=(TrackedCallable &&) = delete;
    ~TrackedCallable() {
        if (!owner) return;
        tracker->destroyed++;
        if (!called) tracker->destroyed_uncalled++;
    }
    void operator()(const nrtq::Completion &) {
        called = true;
        tracker->calls++;
    }
};

// Template code of the wrappers instantiated with a move-only callable; every accepted
// closure is called once and destroyed once, a refused one destroyed at once, uncalled.
void closures_are_owned_exactly(const nrtq::Runtime &rt) {
    nrtq::Model model(rt, model_path("add_f32_500us.nrtm"), 0);
    nrtq::TensorSet in = nrtq::TensorSet::inputs_of(model), out = nrtq::TensorSet::outputs_of(model);
    Tracker tracker;
    int accepted = 0, refused_checked = 0;
    {
        // One request on the device and no backlog: the second submit is "not now".
        nrtq::Queue q(rt, model, nrtq::QueueConfig().depth(1).max_depth(1).backlog(0));
        for (int attempt = 0; attempt < 200 && refused_checked < 3; attempt++) {
            const int uncalled_before = tracker.destroyed_uncalled.load();
            std::optional<nrtq::Queue::Ticket> t = q.try_submit(in, out, TrackedCallable(&tracker));
            if (t) {
                accepted++;
                continue;
            }
            // Refused: its closure is gone already, never called.
            if (tracker.destroyed_uncalled.load() != uncalled_before + 1) {
                expect(false, "refused submit frees its callable at once",
                       "uncalled destructions went " + std::to_string(uncalled_before) + " -> " +
                           std::to_string(tracker.destroyed_uncalled.load()));
                return;
            }
            refused_checked++;
        }
        expect(refused_checked == 3, "refused submit frees its callable at once",
               "only " + std::to_string(refused_checked) + " refusals in 200 attempts");
        expect(q.drain(kWatchdog), "drain delivers every accepted request", "drain timed out");
        expect(tracker.calls == accepted && tracker.destroyed == accepted + refused_checked &&
                   tracker.destroyed_uncalled == refused_checked,
               "every accepted callable is called once and then destroyed",
               "accepted " + std::to_string(accepted) + ", calls " + std::to_string(tracker.calls) + ", destroyed " +
                   std::to_string(tracker.destroyed) + " (uncalled " + std::to_string(tracker.destroyed_uncalled) +
                   ")");
    }
}

// Exceptions from callables reach the handler, never C; a throwing handler is survived.
void exceptions_stay_in_cpp(const nrtq::Runtime &rt) {
    nrtq::Model model(rt, model_path("add_f32.nrtm"), 0);
    nrtq::TensorSet in = nrtq::TensorSet::inputs_of(model), out = nrtq::TensorSet::outputs_of(model);
    std::atomic<int> std_exceptions{0}, other_exceptions{0};
    nrtq::set_callback_exception_handler([&](std::exception_ptr e, const nrtq::Completion &) {
        try {
            std::rethrow_exception(e);
        } catch (const std::runtime_error &) {
            std_exceptions++;
        } catch (...) {
            other_exceptions++;
        }
        throw std::logic_error("a handler that throws too");
    });
    nrtq::Queue q(rt, model);
    q.submit(in, out, [](const nrtq::Completion &) { throw std::runtime_error("from a callable"); });
    q.submit(in, out, [](const nrtq::Completion &) { throw 42; });
    std::future<nrtq::Completion> after = q.submit_future(in, out);
    const bool ready = after.wait_for(kWatchdog) == std::future_status::ready;
    nrtq::set_callback_exception_handler(nullptr);
    expect(ready && after.get().ok() && std_exceptions == 1 && other_exceptions == 1,
           "callable exceptions reach the handler and the queue goes on",
           "std " + std::to_string(std_exceptions) + ", other " + std::to_string(other_exceptions));
}

// A queue keeps its runtime open after the Runtime object is gone; the runtime closes with
// the last owner. Only one init=true runtime can be open, which shows which is the case.
void runtime_lives_as_long_as_its_owners() {
    std::optional<nrtq::Queue> queue;
    std::optional<nrtq::Model> model;
    std::optional<nrtq::TensorSet> in, out;
    {
        nrtq::Runtime rt;
        model.emplace(rt, model_path("add_f32.nrtm"), 0);
        in.emplace(nrtq::TensorSet::inputs_of(*model));
        out.emplace(nrtq::TensorSet::outputs_of(*model));
        queue.emplace(rt, *model);
    }
    std::future<nrtq::Completion> f = queue->submit_future(*in, *out);
    expect(f.wait_for(kWatchdog) == std::future_status::ready && f.get().ok(),
           "a queue works after its Runtime object is gone", "the request did not complete ok");
    bool second_refused = false;
    try {
        nrtq::Runtime second;
    } catch (const nrtq::Error &e) {
        std::printf("  second runtime: %s\n", e.what());
        second_refused = !e.message().empty();
    }
    expect(second_refused, "the runtime stays open while a queue holds it",
           "a second init=true runtime opened, so the first had closed");
    queue.reset();
    in.reset();
    out.reset();
    model.reset();
    bool reopened = false;
    try {
        nrtq::Runtime again;
        reopened = true;
    } catch (const nrtq::Error &e) {
        std::printf("  %s\n", e.what());
    }
    expect(reopened, "the runtime closes with its last owner", "a new runtime could not be opened");
}

void moved_from_handles_throw_null(const nrtq::Runtime &rt) {
    nrtq::Model model(rt, model_path("add_f32.nrtm"), 0);
    nrtq::TensorSet in = nrtq::TensorSet::inputs_of(model), out = nrtq::TensorSet::outputs_of(model);
    nrtq::Queue q(rt, model);
    nrtq::Queue moved = std::move(q);
    nrtq_status seen = NRTQ_OK;
    try {
        q.submit_future(in, out); // NOLINT(bugprone-use-after-move): the point of the check
    } catch (const nrtq::Error &e) {
        seen = e.status();
    }
    std::future<nrtq::Completion> f = moved.submit_future(in, out);
    expect(seen == NRTQ_ERR_NULL && f.wait_for(kWatchdog) == std::future_status::ready && f.get().ok(),
           "a moved-from Queue throws NRTQ_ERR_NULL, the moved-to one works",
           std::string("status ") + nrtq_status_str(seen));
}

// From a callable on the completion thread: try_submit says "not now", submit throws
// NRTQ_BACKLOG_FULL (it cannot wait there); wait/drain throw NRTQ_ERR_WOULD_DEADLOCK.
void completion_thread_rules(const nrtq::Runtime &rt) {
    nrtq::Model model(rt, model_path("add_f32_500us.nrtm"), 0);
    std::vector<nrtq::TensorSet> ins, outs;
    for (int i = 0; i < 12; i++) {
        ins.push_back(nrtq::TensorSet::inputs_of(model));
        outs.push_back(nrtq::TensorSet::outputs_of(model));
    }
    nrtq::Queue q(rt, model, nrtq::QueueConfig().depth(1).max_depth(1).backlog(0));
    std::atomic<int> not_now{0}, backlog_full_thrown{0}, deadlock_thrown{0}, inner_calls{0};
    std::atomic<bool> done{false};
    q.submit(ins[0], outs[0], [&](const nrtq::Completion &) {
        try {
            q.drain(std::chrono::microseconds(0));
        } catch (const nrtq::Error &e) {
            if (e.status() == NRTQ_ERR_WOULD_DEADLOCK) deadlock_thrown++;
        }
        auto count = [&](const nrtq::Completion &) { inner_calls++; };
        for (std::size_t i = 1; i < 6 && not_now == 0; i++)
            if (!q.try_submit(ins[i], outs[i], count)) not_now++;
        for (std::size_t i = 6; i < 12 && backlog_full_thrown == 0; i++) {
            try {
                q.submit(ins[i], outs[i], count);
            } catch (const nrtq::Error &e) {
                if (e.status() == NRTQ_BACKLOG_FULL) backlog_full_thrown++;
            }
        }
        done = true;
    });
    const bool drained = q.drain(kWatchdog);
    expect(drained && done && deadlock_thrown == 1, "drain from a callable throws NRTQ_ERR_WOULD_DEADLOCK",
           "thrown " + std::to_string(deadlock_thrown));
    expect(not_now == 1 && backlog_full_thrown == 1,
           "on the completion thread try_submit says not now and submit throws NRTQ_BACKLOG_FULL",
           "not now " + std::to_string(not_now) + ", thrown " + std::to_string(backlog_full_thrown));
}

// Request outcomes come in the Completion; check() turns them into an Error.
void outcomes_arrive_in_completions(const nrtq::Runtime &rt) {
    nrtq::Model model(rt, model_path("add_f32_faults.nrtm"), 0);
    nrtq::TensorSet in = nrtq::TensorSet::inputs_of(model), out = nrtq::TensorSet::outputs_of(model);
    nrtq::Queue q(rt, model);
    std::vector<std::future<nrtq::Completion>> futures;
    for (int i = 0; i < 40; i++) futures.push_back(q.submit_future(in, out));
    int ok = 0, exec = 0, thrown_with_raw = 0;
    for (auto &f : futures) {
        if (f.wait_for(kWatchdog) != std::future_status::ready) break;
        nrtq::Completion c = f.get();
        if (c.ok()) ok++;
        if (c.status == NRTQ_ERR_EXEC) exec++;
        try {
            c.check();
        } catch (const nrtq::Error &e) {
            if (e.status() == NRTQ_ERR_EXEC && e.nrt_status() == static_cast<std::uint32_t>(NRT_EXEC_COMPLETED_WITH_ERR))
                thrown_with_raw++;
        }
    }
    std::vector<nrtq::Completion> errors = q.errors();
    expect(ok == 36 && exec == 4 && thrown_with_raw == 4 && errors.size() == 4,
           "execution errors arrive as completions, check() throws them with the raw status",
           "ok " + std::to_string(ok) + ", exec " + std::to_string(exec) + ", thrown " +
               std::to_string(thrown_with_raw) + ", error log " + std::to_string(errors.size()));
}

// A dead execution unit: on_fatal fires once; later submits throw NRTQ_ERR_QUEUE_FAILED
// with the raw status that killed the queue. Runs last: the unit stays dead.
void failed_queue_refuses_with_raw_status(const nrtq::Runtime &rt) {
    nrtq::Model model(rt, model_path("add_f32_dies.nrtm"), 1);
    nrtq::TensorSet in = nrtq::TensorSet::inputs_of(model), out = nrtq::TensorSet::outputs_of(model);
    std::atomic<int> fatal_calls{0};
    std::atomic<std::uint32_t> fatal_raw{0};
    nrtq::Queue q(rt, model, nrtq::QueueConfig().on_fatal([&](nrtq_status, std::uint32_t raw) {
        fatal_calls++;
        fatal_raw = raw;
    }));
    // Requests one at a time until the queue refuses: the sixth kills the unit.
    int completed = 0;
    std::optional<nrtq::Error> refusal;
    for (int i = 0; i < 20 && !refusal; i++) {
        try {
            std::future<nrtq::Completion> f = q.submit_future(in, out);
            if (f.wait_for(kWatchdog) != std::future_status::ready) break;
            f.get();
            completed++;
        } catch (const nrtq::Error &e) {
            refusal = e;
        }
    }
    std::optional<nrtq::Failure> failure = q.failure();
    q.destroy(); // every completion and the fatal callable have run once this returns
    const std::uint32_t dead = NRT_EXEC_UNIT_UNRECOVERABLE;
    expect(completed == 6 && fatal_calls == 1 && fatal_raw == dead && refusal &&
               refusal->status() == NRTQ_ERR_QUEUE_FAILED && refusal->nrt_status() == dead && failure &&
               failure->status == NRTQ_ERR_QUEUE_FAILED && failure->nrt_status == dead &&
               !refusal->message().empty(),
           "a failed queue refuses with NRTQ_ERR_QUEUE_FAILED and the raw status; on_fatal fires once",
           std::string("refusal: ") + (refusal ? refusal->what() : "none") + ", completed " +
               std::to_string(completed) + ", fatal calls " + std::to_string(fatal_calls));
}

void tensor_set_errors_name_the_tensor(const nrtq::Runtime &rt) {
    nrtq::Model model(rt, model_path("add_f32.nrtm"), 0);
    nrtq::TensorSet in = nrtq::TensorSet::inputs_of(model);
    auto message_of = [](auto &&action) -> std::string {
        try {
            action();
        } catch (const nrtq::Error &e) {
            return e.status() == NRTQ_ERR_INVALID ? e.what() : std::string("wrong status: ") + e.what();
        }
        return "no error";
    };
    const std::string unknown = message_of([&] { in.read<float>("nope"); });
    const std::string width = message_of([&] { in.write("a", std::vector<std::int16_t>(2048)); });
    const std::string range = message_of([&] { in.read<float>(2); });
    const std::string span = message_of([&] {
        float x[4] = {};
        in.write("b", x, 4, 1023);
    });
    const std::string missing = message_of([&] { nrtq::Model m(rt, model_path("no_such_model.nrtm")); });
    for (const std::string &m : {unknown, width, range, span, missing}) std::printf("  %s\n", m.c_str());
    std::vector<float> roundtrip(1024, 2.5f);
    in.write(0, roundtrip);
    expect(unknown.find("'nope'") != std::string::npos && unknown.find("a, b") != std::string::npos &&
               width.find("'a'") != std::string::npos && width.find("4-byte") != std::string::npos &&
               range.find("index 2") != std::string::npos && span.find("'b'") != std::string::npos &&
               missing.find("no_such_model.nrtm") != std::string::npos && in.read<float>("a") == roundtrip,
           "tensor-set and model errors name the tensor (or file) and why", "see the messages above");
}

// Each Error keeps the message of its own failure, copied before anything else could
// overwrite the thread's nrtq_last_error().
void error_messages_are_copied_at_once(const nrtq::Runtime &rt) {
    std::optional<nrtq::Error> first, second;
    try {
        nrtq::QueueConfig().depth(0);
    } catch (const nrtq::Error &e) {
        first = e;
    }
    try {
        nrtq::Queue q(rt, nrtq::ModelRef(nullptr));
    } catch (const nrtq::Error &e) {
        second = e;
    }
    expect(first && second && first->status() == NRTQ_ERR_INVALID && second->status() == NRTQ_ERR_NULL &&
               first->message().find("depth") != std::string::npos &&
               second->message().find("depth") == std::string::npos && !second->message().empty() &&
               first->nrt_status() == 0,
           "each Error keeps its own status and message",
           std::string(first ? first->what() : "no first error") + " / " + (second ? second->what() : "no second"));
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODELS_DIR\n", argv[0]);
        return 2;
    }
    models = argv[1];
    try {
        runtime_lives_as_long_as_its_owners();
        nrtq::Runtime rt;
        error_messages_are_copied_at_once(rt);
        closures_are_owned_exactly(rt);
        exceptions_stay_in_cpp(rt);
        moved_from_handles_throw_null(rt);
        completion_thread_rules(rt);
        tensor_set_errors_name_the_tensor(rt);
        outcomes_arrive_in_completions(rt);
        failed_queue_refuses_with_raw_status(rt);
    } catch (const std::exception &e) {
        std::printf("FAIL: unexpected exception: %s\n", e.what());
        failures++;
    }
    std::printf("%s: nrtq_hpp_checks (%d failed)\n", failures == 0 ? "PASS" : "FAIL", failures);
    return failures == 0 ? 0 : 1;
}
