// The promises of include/nrtq.hpp and nrtq_nrt.hpp, checked one by one against the
// emulator (built and run by tests/cpp_example.rs). Prints "ok: <name>" per check and
// "FAIL: <name>: <why>" for a broken one; exits 1 if any failed.
//
//   nrtq_hpp_checks MODELS_DIR          the queue checks
//   nrtq_hpp_checks MODELS_DIR pool     the pipeline and pool checks (environment below)
#include <nrtq.hpp>
#include <nrtq_nrt.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
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
    std::function<void(const nrtq::Completion &)> also; // run on each call, when set
    explicit TrackedCallable(Tracker *t, std::function<void(const nrtq::Completion &)> and_then = nullptr)
        : tracker(t), also(std::move(and_then)) {}
    TrackedCallable(TrackedCallable &&other) noexcept
        : tracker(other.tracker), owner(other.owner), called(other.called), also(std::move(other.also)) {
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
    void operator()(const nrtq::Completion &c) {
        called = true;
        tracker->calls++;
        if (also) also(c);
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

// Completions seen on the completion thread, read by the test thread after a drain.
struct Seen {
    std::mutex lock;
    std::vector<nrtq::Completion> list;
    void add(const nrtq::Completion &c) {
        std::lock_guard<std::mutex> guard(lock);
        list.push_back(c);
    }
    std::vector<nrtq::Completion> copy() {
        std::lock_guard<std::mutex> guard(lock);
        return list;
    }
};

std::string describe_tickets(const std::vector<nrtq::Completion> &list) {
    std::string text;
    for (const nrtq::Completion &c : list)
        text += " " + std::to_string(c.ticket) + (c.ok() ? "" : std::string("(") + nrtq_status_str(c.status) + ")");
    return text.empty() ? " none" : text;
}

// cancel takes back requests still in the backlog (they complete once, as cancelled, in
// ticket order, through their callable or future) and not one on the device. Depth pinned
// at 1, and the first request's callable holds the completion thread (the only thread that
// moves backlog requests to the device) until the cancels are done, so tickets 3-5 are in
// the backlog when they are cancelled whatever the machine's load.
void cancel_takes_back_only_the_backlog(const nrtq::Runtime &rt) {
    nrtq::Model model(rt, model_path("add_f32_500us.nrtm"), 0);
    std::vector<nrtq::TensorSet> ins, outs;
    for (int i = 0; i < 5; i++) {
        ins.push_back(nrtq::TensorSet::inputs_of(model));
        outs.push_back(nrtq::TensorSet::outputs_of(model));
    }
    nrtq::Queue q(rt, model, nrtq::QueueConfig().depth(1).max_depth(1));
    Seen seen; // completions of the callables, in delivery order
    auto record = [&seen](const nrtq::Completion &c) { seen.add(c); };
    std::promise<void> gate;
    std::shared_future<void> opened = gate.get_future().share();
    std::atomic<bool> held_until_opened{false};
    const nrtq::Queue::Ticket first = q.submit(ins[0], outs[0], [&, opened](const nrtq::Completion &c) {
        seen.add(c);
        held_until_opened = opened.wait_for(kWatchdog) == std::future_status::ready;
    });
    q.submit(ins[1], outs[1], record);
    nrtq::Queue::Ticket future_ticket = 0;
    std::shared_future<nrtq::Completion> cancelled_future = q.submit_future(ins[2], outs[2], &future_ticket).share();
    std::atomic<bool> future_ready_before_next{false};
    q.submit(ins[3], outs[3], [&, cancelled_future](const nrtq::Completion &c) {
        future_ready_before_next = cancelled_future.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
        seen.add(c);
    });
    Tracker last_tracker;
    const nrtq::Queue::Ticket last = q.submit(ins[4], outs[4], TrackedCallable(&last_tracker, record));

    const bool last_cancelled = q.cancel(last);
    const bool future_cancelled = q.cancel(future_ticket);
    const bool first_refused = !q.cancel(first);
    const bool again_refused = !q.cancel(last); // it has completed (as cancelled) by now
    std::vector<nrtq_status> errors;
    bool errors_explained = true; // each carries nrtq's message
    for (nrtq::Queue::Ticket bad : {nrtq::Queue::Ticket(0), last + 1}) {
        try {
            q.cancel(bad);
            errors.push_back(NRTQ_OK);
        } catch (const nrtq::Error &e) {
            errors.push_back(e.status());
            errors_explained = errors_explained && !e.message().empty();
        }
    }
    gate.set_value();
    const bool drained = q.drain(kWatchdog);

    std::vector<nrtq::Completion> delivered = seen.copy();
    std::vector<nrtq::Queue::Ticket> tickets;
    for (const nrtq::Completion &c : delivered) tickets.push_back(c.ticket);
    const bool in_order = tickets == std::vector<nrtq::Queue::Ticket>{first, first + 1, first + 3, last} &&
                          future_ticket == first + 2 && last == first + 4;
    const bool statuses = in_order && delivered[0].ok() && delivered[1].ok() && delivered[2].ok() &&
                          delivered[3].status == NRTQ_ERR_CANCELLED && delivered[3].nrt_status == 0;
    bool future_cancelled_once = false;
    if (cancelled_future.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
        const nrtq::Completion &c = cancelled_future.get();
        future_cancelled_once = c.ticket == future_ticket && c.status == NRTQ_ERR_CANCELLED && c.nrt_status == 0;
    }
    const nrtq_stats stats = q.stats();
    expect(drained && held_until_opened && last_cancelled && future_cancelled && statuses && future_cancelled_once &&
               future_ready_before_next && last_tracker.calls == 1 && last_tracker.destroyed == 1 &&
               last_tracker.destroyed_uncalled == 0 && stats.cancelled == 2 && stats.completed == 5,
           "cancel of backlog requests: true; each completes once as cancelled, in ticket order, callable and future",
           std::string("drained ") + (drained ? "yes" : "no") + ", cancel returned " + (last_cancelled ? "true" : "false") +
               "/" + (future_cancelled ? "true" : "false") + ", delivered" + describe_tickets(delivered) +
               ", future " + (future_cancelled_once ? "cancelled" : "not cancelled") + ", ready before the next " +
               (future_ready_before_next ? "yes" : "no") + ", last callable calls " +
               std::to_string(last_tracker.calls) + " destroyed " + std::to_string(last_tracker.destroyed) +
               ", stats cancelled " + std::to_string(stats.cancelled) + " completed " +
               std::to_string(stats.completed));
    expect(first_refused && again_refused,
           "cancel of a request on the device (or already completed) returns false",
           std::string("first ") + (first_refused ? "refused" : "cancelled") + ", second cancel " +
               (again_refused ? "refused" : "accepted"));
    nrtq_status moved_from = NRTQ_OK;
    nrtq::Queue moved = std::move(q);
    try {
        q.cancel(first); // NOLINT(bugprone-use-after-move): the point of the check
    } catch (const nrtq::Error &e) {
        moved_from = e.status();
    }
    expect(errors.size() == 2 && errors[0] == NRTQ_ERR_UNKNOWN_TICKET && errors[1] == NRTQ_ERR_UNKNOWN_TICKET &&
               errors_explained && moved_from == NRTQ_ERR_NULL,
           "cancel throws Error for a ticket never issued (NRTQ_ERR_UNKNOWN_TICKET) and a moved-from Queue",
           std::string(nrtq_status_str(errors.size() > 0 ? errors[0] : NRTQ_OK)) + " / " +
               nrtq_status_str(errors.size() > 1 ? errors[1] : NRTQ_OK) + " / " + nrtq_status_str(moved_from));
}

// Counts the destruction of the last copy of a queue-wide callable (it holds the only one).
struct DestroyWitness {
    std::atomic<int> *destroyed;
    explicit DestroyWitness(std::atomic<int> *counter) : destroyed(counter) {}
    DestroyWitness(const DestroyWitness &) = delete;
    DestroyWitness &operator=(const DestroyWitness &) = delete;
    ~DestroyWitness() { (*destroyed)++; }
};

// The queue-wide callable receives every request submitted without a callable, once, in
// ticket order, with its tag; requests with their own callable never reach it. The Queue
// keeps it after its QueueConfig is gone and frees it once the queue is destroyed.
void queue_wide_callable_sees_each_request_once(const nrtq::Runtime &rt) {
    nrtq::Model model(rt, model_path("add_f32.nrtm"), 0);
    nrtq::TensorSet in = nrtq::TensorSet::inputs_of(model), out = nrtq::TensorSet::outputs_of(model);
    auto seen = std::make_shared<Seen>();
    std::atomic<int> hook_destroyed{0};
    std::optional<nrtq::Queue> q;
    {
        nrtq::QueueConfig config;
        auto witness = std::make_shared<DestroyWitness>(&hook_destroyed);
        config.on_complete([seen, witness](const nrtq::Completion &c) { seen->add(c); });
        q.emplace(rt, model, config);
    }
    Tracker own_callables;
    std::vector<nrtq::Completion> expected; // ticket and tag of each callable-less request
    int with_callable = 0;
    for (int i = 0; i < 30; i++) {
        nrtq::Completion c;
        if (i % 3 == 0) {
            c.ticket = q->submit(in, out);
        } else if (i % 3 == 1) {
            c.user_data = 1000 + static_cast<std::uint64_t>(i);
            c.ticket = q->submit_tagged(in, out, c.user_data);
        } else {
            q->submit(in, out, TrackedCallable(&own_callables));
            with_callable++;
            continue;
        }
        expected.push_back(c);
    }
    std::optional<nrtq::Queue::Ticket> tried = q->try_submit(in, out, std::chrono::milliseconds(100));
    if (tried) {
        nrtq::Completion c;
        c.ticket = *tried;
        expected.push_back(c);
    }
    const bool drained = q->drain(kWatchdog);
    std::vector<nrtq::Completion> got = seen->copy();
    bool same = got.size() == expected.size();
    for (std::size_t i = 0; same && i < got.size(); i++)
        same = got[i].ticket == expected[i].ticket && got[i].user_data == expected[i].user_data && got[i].ok();
    expect(drained && tried && same && own_callables.calls == with_callable && own_callables.destroyed == with_callable,
           "the queue-wide callable sees every request submitted without a callable once, in order, with its tag",
           "expected" + describe_tickets(expected) + ", got" + describe_tickets(got) + ", own callables called " +
               std::to_string(own_callables.calls) + " of " + std::to_string(with_callable));
    const int destroyed_while_queue_lived = hook_destroyed.load();
    q.reset();
    expect(destroyed_while_queue_lived == 0 && hook_destroyed == 1,
           "the Queue keeps its queue-wide callable after the config is gone and frees it once destroyed",
           "destroyed " + std::to_string(destroyed_while_queue_lived) + " while the queue lived, " +
               std::to_string(hook_destroyed.load()) + " after");
}

// Callback mode only: with reap delivery the Queue constructor throws (the C API refuses
// the hook at create); without a queue-wide callable the callable-less submits throw
// NRTQ_ERR_WRONG_MODE, also once on_complete(nullptr) removed it or it was given an empty
// std::function.
void queue_wide_callable_is_for_callback_mode(const nrtq::Runtime &rt) {
    nrtq::Model model(rt, model_path("add_f32.nrtm"), 0);
    nrtq::TensorSet in = nrtq::TensorSet::inputs_of(model), out = nrtq::TensorSet::outputs_of(model);
    std::optional<nrtq::Error> reap_refused;
    try {
        nrtq::Queue q(rt, model,
                      nrtq::QueueConfig().delivery(NRTQ_DELIVERY_REAP).on_complete([](const nrtq::Completion &) {}));
    } catch (const nrtq::Error &e) {
        reap_refused = e;
    }
    std::vector<nrtq_status> refusals;
    auto refusal_of = [&](auto &&submit) {
        try {
            submit();
            refusals.push_back(NRTQ_OK);
        } catch (const nrtq::Error &e) {
            refusals.push_back(e.status());
        }
    };
    {
        nrtq::Queue plain(rt, model);
        refusal_of([&] { plain.submit(in, out); });
        refusal_of([&] { plain.try_submit(in, out); });
        refusal_of([&] { plain.submit_tagged(in, out, 3); });
    }
    {
        nrtq::Queue removed(rt, model, nrtq::QueueConfig().on_complete([](const nrtq::Completion &) {}).on_complete(nullptr));
        refusal_of([&] { removed.submit(in, out); });
        nrtq::Queue emptied(rt, model, nrtq::QueueConfig().on_complete(std::function<void(const nrtq::Completion &)>()));
        refusal_of([&] { emptied.submit(in, out); });
    }
    bool all_wrong_mode = refusals.size() == 5;
    for (nrtq_status s : refusals) all_wrong_mode = all_wrong_mode && s == NRTQ_ERR_WRONG_MODE;
    if (reap_refused) std::printf("  reap mode with on_complete: %s\n", reap_refused->what());
    expect(reap_refused && reap_refused->status() == NRTQ_ERR_INVALID && !reap_refused->message().empty() &&
               all_wrong_mode,
           "the queue-wide callable is for callback mode; without it callable-less submits throw",
           std::string("reap: ") + (reap_refused ? reap_refused->what() : "accepted") + ", refusals " +
               std::to_string(refusals.size()));
}

// An exception from the queue-wide callable goes to the handler, with its completion, and
// the queue goes on.
void queue_wide_callable_exceptions_reach_the_handler(const nrtq::Runtime &rt) {
    nrtq::Model model(rt, model_path("add_f32.nrtm"), 0);
    nrtq::TensorSet in = nrtq::TensorSet::inputs_of(model), out = nrtq::TensorSet::outputs_of(model);
    Seen handled;
    std::atomic<int> other_exceptions{0};
    nrtq::set_callback_exception_handler([&](std::exception_ptr e, const nrtq::Completion &c) {
        try {
            std::rethrow_exception(e);
        } catch (const std::runtime_error &) {
            handled.add(c);
        } catch (...) {
            other_exceptions++;
        }
    });
    std::atomic<int> quiet_calls{0};
    nrtq::Queue q(rt, model, nrtq::QueueConfig().on_complete([&](const nrtq::Completion &c) {
        if (c.user_data != 0) throw std::runtime_error("thrown by the queue-wide callable");
        quiet_calls++;
    }));
    std::vector<nrtq::Completion> throwing;
    for (std::uint64_t tag = 1; tag <= 3; tag++) {
        nrtq::Completion c;
        c.user_data = tag;
        c.ticket = q.submit_tagged(in, out, tag);
        throwing.push_back(c);
    }
    q.submit(in, out);
    std::future<nrtq::Completion> after = q.submit_future(in, out);
    const bool ready = after.wait_for(kWatchdog) == std::future_status::ready && after.get().ok();
    const bool drained = q.drain(kWatchdog);
    nrtq::set_callback_exception_handler(nullptr);
    std::vector<nrtq::Completion> got = handled.copy();
    bool same = got.size() == throwing.size();
    for (std::size_t i = 0; same && i < got.size(); i++)
        same = got[i].ticket == throwing[i].ticket && got[i].user_data == throwing[i].user_data;
    expect(ready && drained && same && other_exceptions == 0 && quiet_calls == 1,
           "exceptions from the queue-wide callable reach the handler with their completion; the queue goes on",
           "handled" + describe_tickets(got) + ", expected" + describe_tickets(throwing) + ", quiet calls " +
               std::to_string(quiet_calls.load()));
}


// ---- Pipelines and pools (run as `nrtq_hpp_checks MODELS_DIR pool`, with
// NRT_EMU_TOTAL_CORES=4 and NRT_EMU_FAULTS="unrecoverable after=40 lnc=3": core 3's
// execution unit dies at its 41st request; no other check touches core 3 before that).

constexpr std::size_t kElements = 1024; // add_f32: a, b, out are f32[1024]

// One request's host memory: a and b filled from `k`, out poisoned so a missing read shows.
struct AddBuffers {
    std::vector<float> a, b, out;
    explicit AddBuffers(std::size_t k) : a(kElements), b(kElements), out(kElements, -1.0f) {
        for (std::size_t i = 0; i < kElements; i++) {
            a[i] = static_cast<float>(k) + static_cast<float>(i) * 0.5f;
            b[i] = static_cast<float>(i % 7) - static_cast<float>(k % 13);
        }
    }
    nrtq::HostBuffers inputs() const { return {nrtq::host_input("a", a), nrtq::host_input_at(1, b.data(), b.size() * 4)}; }
    nrtq::HostBuffers outputs() { return {nrtq::host_output("out", out)}; }
    // The first element that is not a + b, or kElements.
    std::size_t first_wrong() const {
        for (std::size_t i = 0; i < kElements; i++)
            if (out[i] != a[i] + b[i]) return i;
        return kElements;
    }
};

std::string first_wrong_of(const std::vector<std::unique_ptr<AddBuffers>> &bufs, const std::vector<bool> *skip = nullptr) {
    for (std::size_t k = 0; k < bufs.size(); k++) {
        if (skip != nullptr && (*skip)[k]) continue;
        const std::size_t i = bufs[k]->first_wrong();
        if (i != kElements)
            return "request " + std::to_string(k) + " element " + std::to_string(i) + ": " +
                   std::to_string(bufs[k]->out[i]) + " != " + std::to_string(bufs[k]->a[i] + bufs[k]->b[i]);
    }
    return "";
}

// A pipeline queue over one model: host buffers in, correct outputs out, through futures and
// callables; its three stages report the requests they retired, in plan order.
void pipeline_queue_returns_outputs(const nrtq::Runtime &rt) {
    nrtq::Model model(rt, model_path("add_f32.nrtm"), 0);
    nrtq::Queue q = nrtq::Queue::pipeline(rt, model, nrtq::PipelineConfig().slots(4));
    constexpr std::size_t kRequests = 60;
    std::vector<std::unique_ptr<AddBuffers>> bufs;
    std::vector<std::future<nrtq::Completion>> futures;
    Tracker callables;
    std::atomic<int> callable_failures{0};
    for (std::size_t k = 0; k < kRequests; k++) {
        bufs.push_back(std::make_unique<AddBuffers>(k));
        if (k % 2 == 0) {
            futures.push_back(q.submit_host_future(bufs[k]->inputs(), bufs[k]->outputs()));
        } else {
            q.submit_host(bufs[k]->inputs(), bufs[k]->outputs(),
                          TrackedCallable(&callables, [&](const nrtq::Completion &c) {
                              if (!c.ok()) callable_failures++;
                          }));
        }
    }
    bool futures_ok = true;
    for (auto &f : futures)
        futures_ok = futures_ok && f.wait_for(kWatchdog) == std::future_status::ready && f.get().ok();
    const bool drained = q.drain(kWatchdog);
    const std::string wrong = first_wrong_of(bufs);
    const std::vector<nrtq_stage_stats> stages = q.stage_stats();
    const bool stage_order = stages.size() == 3 && stages[0].stage == NRTQ_STAGE_WRITE &&
                             stages[1].stage == NRTQ_STAGE_EXECUTE && stages[2].stage == NRTQ_STAGE_READ;
    bool retired_all = stage_order;
    for (const nrtq_stage_stats &s : stages) retired_all = retired_all && s.retired >= kRequests && s.in_flight == 0;
    expect(drained && futures_ok && callables.calls == static_cast<int>(kRequests / 2) && callable_failures == 0 &&
               wrong.empty(),
           "a pipeline queue returns a + b element by element through futures and callables",
           std::string("drained ") + (drained ? "yes" : "no") + ", futures " + (futures_ok ? "ok" : "not ok") +
               ", callables " + std::to_string(callables.calls) + ", " + (wrong.empty() ? "outputs right" : wrong));
    std::string figures;
    for (const nrtq_stage_stats &s : stages)
        figures += " stage " + std::to_string(s.stage) + " retired " + std::to_string(s.retired);
    expect(retired_all, "a pipeline's stage stats are write, execute, read, each retiring every request",
           "stages:" + figures);
    // A pipeline takes host buffers only: a tensor-set submit is refused, its callable freed.
    nrtq::TensorSet in = nrtq::TensorSet::inputs_of(model), out = nrtq::TensorSet::outputs_of(model);
    Tracker refused;
    nrtq_status tensor_sets = NRTQ_OK;
    try {
        q.submit(in, out, TrackedCallable(&refused));
    } catch (const nrtq::Error &e) {
        tensor_sets = e.status();
    }
    expect(q.stage_errors().empty() && q.stats().completed == kRequests && tensor_sets == NRTQ_ERR_INVALID &&
               refused.destroyed_uncalled == 1,
           "a pipeline without failures logs no stage errors and counts every request; tensor sets are refused",
           "completed " + std::to_string(q.stats().completed) + ", tensor-set submit " + nrtq_status_str(tensor_sets));
}

// A buffer of the wrong size is refused at submit with the message naming the tensor and
// both sizes, nothing accepted, the callable destroyed uncalled; the same through a pool.
void wrong_buffer_size_is_refused(const nrtq::Runtime &rt) {
    nrtq::Model model(rt, model_path("add_f32.nrtm"), 0);
    nrtq::Queue q = nrtq::Queue::pipeline(rt, model);
    nrtq::Pool pool(rt, model_path("add_f32.nrtm"),
                    nrtq::PoolConfig().cores({0, 1}).pipeline(nrtq::PipelineConfig()));
    std::vector<float> a(kElements), b(kElements), out(kElements);
    const nrtq::HostBuffers short_inputs = {nrtq::host_input("a", a.data(), a.size() * 4 - 4),
                                            nrtq::host_input("b", b)};
    const nrtq::HostBuffers outputs = {nrtq::host_output("out", out)};
    Tracker tracker;
    std::vector<nrtq::Error> errors;
    auto refused = [&](auto &&submit) {
        try {
            submit();
        } catch (const nrtq::Error &e) {
            errors.push_back(e);
        }
    };
    refused([&] { q.submit_host(short_inputs, outputs, TrackedCallable(&tracker)); });
    refused([&] { q.submit_host_future(short_inputs, outputs); });
    refused([&] { pool.submit_host(short_inputs, outputs, TrackedCallable(&tracker)); });
    refused([&] { pool.submit_host_future(short_inputs, outputs); });
    // A pool without a pipeline configuration refuses host buffers too.
    nrtq::Pool plain(rt, model_path("add_f32.nrtm"), nrtq::PoolConfig().cores({0}));
    std::vector<float> full_a(kElements);
    refused([&] { plain.submit_host({nrtq::host_input("a", full_a), nrtq::host_input("b", b)}, outputs,
                                    [](const nrtq::Completion &) {}); });
    bool named = errors.size() == 5;
    for (std::size_t i = 0; named && i < 4; i++) {
        const std::string &m = errors[i].message();
        named = errors[i].status() == NRTQ_ERR_INVALID && m.find("\"a\"") != std::string::npos &&
                m.find("4092") != std::string::npos && m.find("4096") != std::string::npos &&
                std::string(errors[i].what()).find("NRTQ_ERR_INVALID") != std::string::npos;
    }
    if (!errors.empty()) std::printf("  wrong size: %s\n", errors[0].what());
    if (errors.size() == 5) std::printf("  host buffers to a plain pool: %s\n", errors[4].what());
    expect(named && tracker.calls == 0 && tracker.destroyed == 2 && tracker.destroyed_uncalled == 2 &&
               q.stats().submitted == 0 && pool.stats().submitted == 0,
           "a host buffer of the wrong size is refused with NRTQ_ERR_INVALID naming the tensor and both sizes",
           std::to_string(errors.size()) + " errors: " + (errors.empty() ? "" : errors[0].what()) +
               ", callables called " + std::to_string(tracker.calls) + " destroyed " +
               std::to_string(tracker.destroyed));
    expect(errors.size() == 5 && errors[4].status() == NRTQ_ERR_INVALID && plain.stats().submitted == 0,
           "a pool without a pipeline configuration refuses host buffers with NRTQ_ERR_INVALID",
           errors.size() == 5 ? errors[4].what() : "not refused");
}

// A pool of pipelines over three emulated cores returns a + b element by element for every
// request (futures, callables and the pool-wide callable), and every core served some.
void pool_of_pipelines_returns_outputs(const nrtq::Runtime &rt) {
    constexpr std::size_t kRequests = 600;
    auto hooked = std::make_shared<Seen>();
    nrtq::Pool pool(rt, model_path("add_f32_100us.nrtm"),
                    nrtq::PoolConfig()
                        .cores({0, 1, 2})
                        .pipeline(nrtq::PipelineConfig())
                        .completion_threads(2)
                        .on_complete([hooked](const nrtq::Completion &c) { hooked->add(c); }));
    std::vector<std::unique_ptr<AddBuffers>> bufs;
    std::vector<std::future<nrtq::Completion>> futures;
    Tracker callables;
    std::atomic<int> not_ok{0};
    std::size_t refused = 0, tagged = 0;
    for (std::size_t k = 0; k < kRequests; k++) {
        bufs.push_back(std::make_unique<AddBuffers>(k));
        bool accepted = false;
        if (k % 3 == 0) {
            auto f = pool.submit_host_future(bufs[k]->inputs(), bufs[k]->outputs());
            if ((accepted = f.has_value())) futures.push_back(std::move(*f));
        } else if (k % 3 == 1) {
            accepted = pool.submit_host(bufs[k]->inputs(), bufs[k]->outputs(),
                                        TrackedCallable(&callables, [&](const nrtq::Completion &c) {
                                            if (!c.ok()) not_ok++;
                                        }))
                           .has_value();
        } else {
            accepted = pool.submit_host_tagged(bufs[k]->inputs(), bufs[k]->outputs(), 5000 + k).has_value();
            tagged += accepted ? 1 : 0;
        }
        refused += accepted ? 0 : 1;
    }
    bool futures_ok = true;
    for (auto &f : futures)
        futures_ok = futures_ok && f.wait_for(kWatchdog) == std::future_status::ready && f.get().ok();
    const bool drained = pool.drain(kWatchdog);
    const std::string wrong = first_wrong_of(bufs);
    std::vector<nrtq::Completion> hook_seen = hooked->copy();
    bool hook_ok = hook_seen.size() == tagged;
    for (const nrtq::Completion &c : hook_seen) hook_ok = hook_ok && c.ok() && c.user_data >= 5000;
    const nrtq_pool_counts counts = pool.stats();
    std::string per_core;
    bool every_core_served = true;
    for (const nrtq_pool_core &c : pool.cores()) {
        per_core += " core " + std::to_string(c.index) + ": " + std::to_string(c.routed);
        every_core_served = every_core_served && c.healthy == 1 && c.routed > 0;
    }
    expect(drained && refused == 0 && futures_ok && not_ok == 0 && hook_ok && wrong.empty() &&
               callables.calls == callables.destroyed && counts.completed == kRequests && counts.failed == 0,
           "a pool of pipelines on three cores returns a + b element by element (futures, callables, pool-wide)",
           std::string("drained ") + (drained ? "yes" : "no") + ", refused " + std::to_string(refused) +
               ", hook saw " + std::to_string(hook_seen.size()) + " of " + std::to_string(tagged) + ", completed " +
               std::to_string(counts.completed) + ", " + (wrong.empty() ? "outputs right" : wrong));
    expect(every_core_served && counts.cores == 3 && counts.cores_alive == 3 && pool.state().serving(),
           "the pool spreads the requests over every core and reports each healthy", "routed:" + per_core);
}

// Core 3 dies (NRT_EMU_FAULTS) under a pool of pipelines over cores 0-3: the core-left
// callable fires once, for pool index 3, with the dead unit's statuses; every future and
// callable is resolved exactly once; the failures are only what core 3's device held; every
// other request has the right output; the pool serves on with three healthy cores.
void pool_survives_a_dead_core(const nrtq::Runtime &rt) {
    constexpr std::size_t kRequests = 1200;
    struct Left {
        std::mutex lock;
        std::vector<std::uint32_t> cores;
        nrtq_status status = NRTQ_OK;
        std::uint32_t nrt_status = 0;
    };
    auto left = std::make_shared<Left>();
    nrtq::Pool pool(rt, model_path("add_f32_100us.nrtm"),
                    nrtq::PoolConfig()
                        .cores({0, 1, 2, 3})
                        .backlog(kRequests)
                        .pipeline(nrtq::PipelineConfig())
                        .on_core_left([left](std::uint32_t core, nrtq_status status, std::uint32_t nrt_status) {
                            std::lock_guard<std::mutex> guard(left->lock);
                            left->cores.push_back(core);
                            left->status = status;
                            left->nrt_status = nrt_status;
                        }));
    std::vector<std::unique_ptr<AddBuffers>> bufs;
    std::vector<std::future<nrtq::Completion>> futures; // the even requests
    std::vector<std::atomic<int>> calls(kRequests);     // the odd requests' callables
    std::vector<nrtq::Completion> odd_outcomes(kRequests);
    Tracker callables;
    std::size_t refused = 0;
    for (std::size_t k = 0; k < kRequests; k++) {
        bufs.push_back(std::make_unique<AddBuffers>(k));
        if (k % 2 == 0) {
            auto f = pool.submit_host_future(bufs[k]->inputs(), bufs[k]->outputs());
            if (f) futures.push_back(std::move(*f));
            else refused++;
        } else {
            auto *slot = &calls[k];
            auto *outcome = &odd_outcomes[k];
            auto t = pool.submit_host(bufs[k]->inputs(), bufs[k]->outputs(),
                                      TrackedCallable(&callables, [slot, outcome](const nrtq::Completion &c) {
                                          (*slot)++;
                                          *outcome = c;
                                      }));
            if (!t) refused++;
        }
    }
    std::vector<bool> failed(kRequests, false);
    std::size_t failures = 0, unresolved = 0, wrong_status = 0;
    for (std::size_t i = 0; i < futures.size(); i++) {
        if (futures[i].wait_for(kWatchdog) != std::future_status::ready) {
            unresolved++;
            continue;
        }
        const nrtq::Completion c = futures[i].get(); // a second get would throw: resolved once
        if (!c.ok()) {
            failed[2 * i] = true;
            failures++;
            if (c.status != NRTQ_ERR_QUEUE_FAILED) wrong_status++;
        }
    }
    const bool drained = pool.drain(kWatchdog);
    std::size_t calls_not_once = 0;
    for (std::size_t k = 1; k < kRequests; k += 2) {
        if (calls[k] != 1) calls_not_once++;
        if (!odd_outcomes[k].ok()) {
            failed[k] = true;
            failures++;
            if (odd_outcomes[k].status != NRTQ_ERR_QUEUE_FAILED) wrong_status++;
        }
    }
    const std::string wrong = first_wrong_of(bufs, &failed);
    std::vector<std::uint32_t> left_cores;
    nrtq_status left_status = NRTQ_OK;
    std::uint32_t left_nrt = 0;
    {
        std::lock_guard<std::mutex> guard(left->lock);
        left_cores = left->cores;
        left_status = left->status;
        left_nrt = left->nrt_status;
    }
    const std::vector<nrtq_pool_core> cores = pool.cores();
    const nrtq_pool_counts counts = pool.stats();
    std::printf("  dead core: %zu of %zu requests failed, %llu rerouted\n", failures, kRequests,
                static_cast<unsigned long long>(counts.rerouted));
    expect(left_cores == std::vector<std::uint32_t>{3} && left_status == NRTQ_ERR_QUEUE_FAILED &&
               left_nrt == NRT_EXEC_UNIT_UNRECOVERABLE,
           "the core-left callable fires once, for the dead core, with NRTQ_ERR_QUEUE_FAILED and the raw status",
           std::to_string(left_cores.size()) + " calls, first core " +
               (left_cores.empty() ? std::string("none") : std::to_string(left_cores[0])) + ", status " +
               nrtq_status_str(left_status) + ", nrt " + std::to_string(left_nrt));
    expect(drained && refused == 0 && unresolved == 0 && calls_not_once == 0 &&
               callables.calls == static_cast<int>(kRequests / 2) && callables.destroyed == callables.calls &&
               counts.completed == kRequests,
           "with a core dying, every future and callable of the pool is resolved exactly once",
           "refused " + std::to_string(refused) + ", unresolved futures " + std::to_string(unresolved) +
               ", callables not called once " + std::to_string(calls_not_once) + ", completed " +
               std::to_string(counts.completed));
    expect(failures > 0 && failures <= 64 && wrong_status == 0 && wrong.empty(),
           "only what the dead core held fails (NRTQ_ERR_QUEUE_FAILED); every other output is a + b",
           std::to_string(failures) + " failed (" + std::to_string(wrong_status) + " with another status), " +
               (wrong.empty() ? "outputs right" : wrong));
    expect(cores.size() == 4 && cores[3].healthy == 0 && cores[3].status == NRTQ_ERR_QUEUE_FAILED &&
               cores[3].nrt_status == NRT_EXEC_UNIT_UNRECOVERABLE && cores[0].healthy == 1 && counts.cores_alive == 3 &&
               pool.state().serving(),
           "the pool reports the dead core unhealthy with its statuses and serves on with three",
           "cores alive " + std::to_string(counts.cores_alive));
}

// A pool over models the application loaded, in reap mode: every tag reaped exactly once
// with the right output; a moved-from Pool throws NRTQ_ERR_NULL; callables are refused in
// reap mode; destroy() empties the Pool.
void pool_over_models_reaps_each_request_once(const nrtq::Runtime &rt) {
    constexpr std::size_t kRequests = 80;
    nrtq::Model m0(rt, model_path("add_f32.nrtm"), 0), m1(rt, model_path("add_f32.nrtm"), 1);
    nrtq::Pool pool(rt, std::vector<nrtq::ModelRef>{m0, m1},
                    nrtq::PoolConfig().delivery(NRTQ_DELIVERY_REAP).pipeline(nrtq::PipelineConfig()));
    std::vector<std::unique_ptr<AddBuffers>> bufs;
    std::size_t refused = 0;
    for (std::size_t k = 0; k < kRequests; k++) {
        bufs.push_back(std::make_unique<AddBuffers>(k));
        if (!pool.submit_host_tagged(bufs[k]->inputs(), bufs[k]->outputs(), k + 1)) refused++;
    }
    const bool drained = pool.drain(kWatchdog);
    std::vector<nrtq::Completion> reaped;
    while (pool.reap(reaped, 16) > 0) {
    }
    std::vector<int> seen(kRequests + 1, 0);
    bool all_ok = true;
    for (const nrtq::Completion &c : reaped) {
        if (c.user_data >= 1 && c.user_data <= kRequests) seen[c.user_data]++;
        all_ok = all_ok && c.ok();
    }
    bool once = reaped.size() == kRequests;
    for (std::size_t k = 1; k <= kRequests; k++) once = once && seen[k] == 1;
    const std::string wrong = first_wrong_of(bufs);
    nrtq_status callable_refused = NRTQ_OK;
    try {
        pool.submit_host(bufs[0]->inputs(), bufs[0]->outputs(), [](const nrtq::Completion &) {});
    } catch (const nrtq::Error &e) {
        callable_refused = e.status();
    }
    expect(drained && refused == 0 && once && all_ok && wrong.empty() && pool.reap_fd() >= 0 &&
               callable_refused == NRTQ_ERR_WRONG_MODE,
           "a reap-mode pool over loaded models reaps every tag once with a + b; callables throw WRONG_MODE",
           "reaped " + std::to_string(reaped.size()) + " of " + std::to_string(kRequests) + ", " +
               (wrong.empty() ? "outputs right" : wrong) + ", callable submit " + nrtq_status_str(callable_refused));
    nrtq::Pool moved = std::move(pool);
    nrtq_status moved_from = NRTQ_OK;
    try {
        pool.stats(); // NOLINT(bugprone-use-after-move): the point of the check
    } catch (const nrtq::Error &e) {
        moved_from = e.status();
    }
    const bool destroyed = moved.destroy(kWatchdog);
    nrtq_status after_destroy = NRTQ_OK;
    try {
        moved.drain(std::chrono::microseconds(0));
    } catch (const nrtq::Error &e) {
        after_destroy = e.status();
    }
    expect(moved_from == NRTQ_ERR_NULL && destroyed && after_destroy == NRTQ_ERR_NULL,
           "a moved-from or destroyed Pool throws NRTQ_ERR_NULL",
           std::string(nrtq_status_str(moved_from)) + " / " + nrtq_status_str(after_destroy));
}

// PoolConfig refuses a queue config carrying a callable (the pool installs its own).
void pool_config_refuses_queue_callables() {
    nrtq::QueueConfig with_hook;
    with_hook.on_complete([](const nrtq::Completion &) {});
    std::optional<nrtq::Error> refused;
    try {
        nrtq::PoolConfig().queue_config(with_hook);
    } catch (const nrtq::Error &e) {
        refused = e;
    }
    bool plain_accepted = true;
    try {
        nrtq::PoolConfig().queue_config(nrtq::QueueConfig().depth(2));
    } catch (const nrtq::Error &) {
        plain_accepted = false;
    }
    // A moved-from PipelineConfig is not taken for "no pipeline" (the C call's NULL).
    nrtq::PipelineConfig given;
    nrtq::PipelineConfig taken = std::move(given);
    nrtq_status moved_from = NRTQ_OK;
    try {
        nrtq::PoolConfig().pipeline(given); // NOLINT(bugprone-use-after-move): the point of the check
    } catch (const nrtq::Error &e) {
        moved_from = e.status();
    }
    expect(refused && refused->status() == NRTQ_ERR_INVALID && !refused->message().empty() && plain_accepted &&
               moved_from == NRTQ_ERR_NULL,
           "PoolConfig::queue_config refuses a QueueConfig with a callable and takes a plain one; "
           "a moved-from PipelineConfig throws NRTQ_ERR_NULL",
           std::string(refused ? refused->what() : "accepted") + " / " + nrtq_status_str(moved_from));
}

int run_pool_checks() {
    try {
        nrtq::Runtime rt;
        pipeline_queue_returns_outputs(rt);
        wrong_buffer_size_is_refused(rt);
        pool_config_refuses_queue_callables();
        pool_of_pipelines_returns_outputs(rt);
        pool_over_models_reaps_each_request_once(rt);
        pool_survives_a_dead_core(rt);
    } catch (const std::exception &e) {
        std::printf("FAIL: unexpected exception: %s\n", e.what());
        failures++;
    }
    std::printf("%s: nrtq_hpp_checks pool (%d failed)\n", failures == 0 ? "PASS" : "FAIL", failures);
    return failures == 0 ? 0 : 1;
}
} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODELS_DIR\n", argv[0]);
        return 2;
    }
    models = argv[1];
    if (argc > 2 && std::string(argv[2]) == "pool") return run_pool_checks();
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
        cancel_takes_back_only_the_backlog(rt);
        queue_wide_callable_sees_each_request_once(rt);
        queue_wide_callable_is_for_callback_mode(rt);
        queue_wide_callable_exceptions_reach_the_handler(rt);
        failed_queue_refuses_with_raw_status(rt);
    } catch (const std::exception &e) {
        std::printf("FAIL: unexpected exception: %s\n", e.what());
        failures++;
    }
    std::printf("%s: nrtq_hpp_checks (%d failed)\n", failures == 0 ? "PASS" : "FAIL", failures);
    return failures == 0 ? 0 : 1;
}
