// A server-style C++ program over nrtq.hpp: producer threads submit into one queue, half
// of their requests through futures and half with callables that check the output on
// nrtq's completion thread; then a reap-mode queue is served from poll() with a small
// backlog, so "not now" refusals happen and are retried. Every output is checked element
// by element; a wrong answer, a lost completion or an unexpected error exits non-zero.
//
//   nrtq_cpp_server MODEL [THREADS] [ROUNDS]
//
// MODEL is an add_f32-family model: inputs `a` and `b`, output `out` = a + b, f32.
#include <nrtq.hpp>
#include <nrtq_nrt.hpp>

#include <poll.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kSlotsPerProducer = 4;
constexpr auto kWatchdog = std::chrono::seconds(30); // a completion this late counts as lost

// One request's buffers; a[i] = base + i, b[i] = 2i, so out[i] must be base + 3i.
struct Slot {
    nrtq::TensorSet in, out;
    float base = 0;
    explicit Slot(const nrtq::Model &model)
        : in(nrtq::TensorSet::inputs_of(model)), out(nrtq::TensorSet::outputs_of(model)) {
        std::vector<float> b(elements());
        for (std::size_t i = 0; i < b.size(); i++) b[i] = 2.0f * static_cast<float>(i);
        in.write("b", b);
    }
    std::size_t elements() const { return in.info(in.index_of("a")).size / sizeof(float); }
    void fill(float new_base) {
        std::vector<float> a(elements());
        for (std::size_t i = 0; i < a.size(); i++) a[i] = new_base + static_cast<float>(i);
        in.write("a", a);
        base = new_base;
    }
    // The number of wrong output elements.
    unsigned long wrong() const {
        std::vector<float> result = out.read<float>("out");
        unsigned long bad = 0;
        for (std::size_t i = 0; i < result.size(); i++)
            if (result[i] != base + 3.0f * static_cast<float>(i)) bad++;
        return bad;
    }
};

struct Counters {
    std::atomic<unsigned long> callbacks{0}, futures{0}, verified{0}, wrong_elements{0}, failed{0};
    std::atomic<unsigned long> callback_exceptions{0}, producer_errors{0}, fatal{0};
    void check(const nrtq::Completion &c, const Slot &slot) {
        if (!c.ok()) {
            std::fprintf(stderr, "ticket %llu failed: %s\n", static_cast<unsigned long long>(c.ticket),
                         c.describe().c_str());
            failed++;
            return;
        }
        unsigned long bad = slot.wrong();
        wrong_elements += bad;
        if (bad == 0) verified++;
    }
};

// Each round: fill the slots, submit two for futures and two with callables, then wait
// for all four before reusing them.
void produce(nrtq::Queue &queue, std::vector<Slot> &slots, int id, int rounds, Counters &counters) {
    for (int round = 0; round < rounds; round++) {
        std::vector<std::pair<std::future<nrtq::Completion>, Slot *>> futures;
        std::vector<nrtq::Queue::Ticket> tickets;
        for (int s = 0; s < kSlotsPerProducer; s++) {
            Slot &slot = slots[static_cast<std::size_t>(s)];
            slot.fill(static_cast<float>(id * 100000 + round * 10 + s));
            if (s % 2 == 0) {
                futures.emplace_back(queue.submit_future(slot.in, slot.out), &slot);
                continue;
            }
            // The very first callable of producer 0 also throws once it has checked the
            // output: the exception must reach the handler, not C, and the run go on.
            const bool throws = id == 0 && round == 0 && s == 1;
            tickets.push_back(queue.submit(slot.in, slot.out, [&counters, &slot, throws](const nrtq::Completion &c) {
                counters.callbacks++;
                counters.check(c, slot);
                if (throws) throw std::runtime_error("thrown on purpose by a completion callable");
            }));
        }
        for (auto &[future, slot] : futures) {
            if (future.wait_for(kWatchdog) != std::future_status::ready) {
                std::fprintf(stderr, "producer %d: a future was not fulfilled within %lld s\n", id,
                             static_cast<long long>(kWatchdog.count()));
                std::_Exit(1); // a lost completion: the queue cannot be torn down cleanly
            }
            counters.futures++;
            counters.check(future.get(), *slot);
        }
        for (nrtq::Queue::Ticket t : tickets)
            if (!queue.wait(t, kWatchdog)) {
                std::fprintf(stderr, "producer %d: ticket %llu not delivered within the watchdog\n", id,
                             static_cast<unsigned long long>(t));
                std::_Exit(1);
            }
    }
}

void print_stats(const char *name, const nrtq_stats &s) {
    std::printf("%s: submitted %llu, completed %llu, failed %llu, queue-full absorbed %llu\n", name,
                static_cast<unsigned long long>(s.submitted), static_cast<unsigned long long>(s.completed),
                static_cast<unsigned long long>(s.failed), static_cast<unsigned long long>(s.queue_full));
    std::printf("%s: submit->complete p50 %.1f us p99 %.1f us; complete->notify p50 %.1f us p99 %.1f us\n", name,
                static_cast<double>(s.submit_to_complete_p50_ns) / 1e3,
                static_cast<double>(s.submit_to_complete_p99_ns) / 1e3,
                static_cast<double>(s.complete_to_notify_p50_ns) / 1e3,
                static_cast<double>(s.complete_to_notify_p99_ns) / 1e3);
}

// Errors are exceptions carrying the status and the message; check the two the program
// provokes on purpose. Returns whether both came as documented.
bool provoke_errors(nrtq::Queue &callback_queue, Slot &slot) {
    bool ok = true;
    try {
        nrtq::QueueConfig().depth(0);
        ok = false;
    } catch (const nrtq::Error &e) {
        std::printf("expected error: %s\n", e.what());
        ok = ok && e.status() == NRTQ_ERR_INVALID && !e.message().empty();
    }
    try {
        callback_queue.submit_tagged(slot.in, slot.out, 7);
        ok = false;
    } catch (const nrtq::Error &e) {
        std::printf("expected error: %s\n", e.what());
        ok = ok && e.status() == NRTQ_ERR_WRONG_MODE;
    }
    try {
        slot.in.write("a", std::vector<float>(3));
        ok = false;
    } catch (const nrtq::Error &e) {
        std::printf("expected error: %s\n", e.what());
        ok = ok && e.status() == NRTQ_ERR_INVALID;
    }
    return ok;
}

struct ReapResult {
    unsigned long requests = 0, reaped = 0, verified = 0, refusals = 0, wrong_elements = 0, failed = 0;
    bool wrong_mode_refused = false, timed_out = false;
};

// Reap mode from one thread: keep every slot busy, retrying "not now" after reaping, and
// wait for completions with poll() on the queue's descriptor.
ReapResult serve_reap_mode(const nrtq::Runtime &rt, const nrtq::Model &model, unsigned long requests) {
    ReapResult r;
    r.requests = requests;
    std::vector<Slot> slots; // before the queue, which must go first
    for (int i = 0; i < 16; i++) slots.emplace_back(model);
    // Depth pinned at 2 and a 4-deep backlog: 16 slots cannot all be accepted at once.
    nrtq::Queue queue(rt, model, nrtq::QueueConfig().delivery(NRTQ_DELIVERY_REAP).depth(2).max_depth(2).backlog(4));
    try {
        queue.submit(slots[0].in, slots[0].out, [](const nrtq::Completion &) {});
    } catch (const nrtq::Error &e) {
        r.wrong_mode_refused = e.status() == NRTQ_ERR_WRONG_MODE;
    }

    std::vector<std::size_t> free_slots;
    for (std::size_t i = 0; i < slots.size(); i++) free_slots.push_back(i);
    unsigned long submitted = 0;
    std::vector<nrtq::Completion> done;
    pollfd pfd{queue.reap_fd(), POLLIN, 0};
    while (r.reaped < requests) {
        while (submitted < requests && !free_slots.empty()) {
            std::size_t index = free_slots.back();
            Slot &slot = slots[index];
            slot.fill(static_cast<float>(submitted % 4096) * 8.0f);
            if (!queue.try_submit_tagged(slot.in, slot.out, index)) {
                r.refusals++; // not now: reap first, then retry this slot
                break;
            }
            free_slots.pop_back();
            submitted++;
        }
        int ready = poll(&pfd, 1, static_cast<int>(std::chrono::milliseconds(kWatchdog).count()));
        if (ready == 0) {
            r.timed_out = true;
            break;
        }
        done.clear();
        while (queue.reap(done, 8) > 0) {
        }
        for (const nrtq::Completion &c : done) {
            r.reaped++;
            const Slot &slot = slots[c.user_data];
            if (!c.ok()) {
                std::fprintf(stderr, "reaped ticket %llu failed: %s\n", static_cast<unsigned long long>(c.ticket),
                             c.describe().c_str());
                r.failed++;
            } else {
                unsigned long bad = slot.wrong();
                r.wrong_elements += bad;
                if (bad == 0) r.verified++;
            }
            free_slots.push_back(static_cast<std::size_t>(c.user_data));
        }
    }
    if (!queue.drain(kWatchdog)) r.timed_out = true;
    done.clear();
    while (queue.reap(done) > 0) {
    }
    r.reaped += done.size(); // anything here was never expected: it fails the count check
    print_stats("reap queue", queue.stats());
    return r;
}

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL [THREADS] [ROUNDS]\n", argv[0]);
        return 2;
    }
    const int threads = argc > 2 ? std::atoi(argv[2]) : 4;
    const int rounds = argc > 3 ? std::atoi(argv[3]) : 50;
    if (threads < 1 || threads > 64 || rounds < 1) {
        std::fprintf(stderr, "THREADS must be 1-64 and ROUNDS positive\n");
        return 2;
    }

    Counters counters;
    nrtq::set_callback_exception_handler([&counters](std::exception_ptr error, const nrtq::Completion &c) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception &e) {
            std::printf("callback exception handler: ticket %llu: %s\n", static_cast<unsigned long long>(c.ticket),
                        e.what());
        }
        counters.callback_exceptions++;
    });

    try {
        nrtq::Runtime rt; // finds the libnrt this program links; calls nrt_init / nrt_close
        std::printf("nrtq %s over libnrt %s (async generation %u)\n", nrtq_version(), rt.version().c_str(),
                    static_cast<unsigned>(rt.generation()));
        nrtq::Model model(rt, argv[1]);
        for (const char *name : {"a", "b", "out"}) {
            const nrtq::TensorInfo &t = model.tensor(name);
            if (t.dtype != NRT_DTYPE_FLOAT32) {
                std::fprintf(stderr, "%s: tensor %s is not f32: not an add_f32 model\n", argv[1], name);
                return 2;
            }
        }

        // Declared before the queue so that, on any way out, the queue (delivering every
        // completion) goes before the tensor sets its requests use.
        std::vector<std::vector<Slot>> slots(static_cast<std::size_t>(threads));
        for (auto &mine : slots)
            for (int s = 0; s < kSlotsPerProducer; s++) mine.emplace_back(model);
        nrtq::Queue queue(rt, model, nrtq::QueueConfig().depth(3).on_fatal([&counters](nrtq_status, std::uint32_t) {
            counters.fatal++;
        }));
        const bool errors_as_documented = provoke_errors(queue, slots[0][0]);

        std::vector<std::thread> producers;
        for (int t = 0; t < threads; t++)
            producers.emplace_back([&, t] {
                try {
                    produce(queue, slots[static_cast<std::size_t>(t)], t, rounds, counters);
                } catch (const std::exception &e) {
                    std::fprintf(stderr, "producer %d: %s\n", t, e.what());
                    counters.producer_errors++;
                }
            });
        for (std::thread &p : producers) p.join();
        const bool drained = queue.drain(kWatchdog);
        const nrtq_stats stats = queue.stats();
        print_stats("callback queue", stats);
        const bool destroyed = queue.destroy();

        const unsigned long expected = static_cast<unsigned long>(threads) * static_cast<unsigned long>(rounds) *
                                       kSlotsPerProducer;
        std::printf("futures %lu, callbacks %lu, verified %lu of %lu, wrong elements %lu, failed %lu, "
                    "callback exceptions %lu\n",
                    counters.futures.load(), counters.callbacks.load(), counters.verified.load(), expected,
                    counters.wrong_elements.load(), counters.failed.load(), counters.callback_exceptions.load());

        const unsigned long reap_requests = 64ul * static_cast<unsigned long>(rounds);
        const ReapResult reap = serve_reap_mode(rt, model, reap_requests);
        std::printf("reap mode: requests %lu, reaped %lu, verified %lu, not-now refusals %lu, wrong elements %lu\n",
                    reap.requests, reap.reaped, reap.verified, reap.refusals, reap.wrong_elements);

        const bool ok = errors_as_documented && drained && destroyed && counters.producer_errors == 0 &&
                        counters.fatal == 0 && counters.callback_exceptions == 1 &&
                        counters.verified == expected && counters.futures + counters.callbacks == expected &&
                        counters.wrong_elements == 0 && counters.failed == 0 && stats.submitted == expected &&
                        stats.completed == expected && reap.wrong_mode_refused && !reap.timed_out &&
                        reap.reaped == reap.requests && reap.verified == reap.requests && reap.failed == 0 &&
                        reap.wrong_elements == 0;
        std::printf("%s: nrtq_cpp_server\n", ok ? "PASS" : "FAIL");
        return ok ? 0 : 1;
    } catch (const nrtq::Error &e) {
        std::fprintf(stderr, "nrtq error: %s (nrtq status %u, NRT status %u)\nFAIL: nrtq_cpp_server\n", e.what(),
                     static_cast<unsigned>(e.status()), e.nrt_status());
        return 1;
    }
}
