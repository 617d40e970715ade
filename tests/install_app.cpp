/*
 * A C++ user's program, as the README's C++ section has it: tests/install.rs copies it
 * out of the repository and builds it against the installed nrtq and emulator with
 * pkg-config alone,
 *
 *     c++ -std=c++17 -Wall -Wextra -Werror app.cpp $(pkg-config --cflags --libs nrtq)
 *
 * then runs it on an installed add model (out = a + b, f32). It uses nothing but
 * nrtq.hpp and nrtq_nrt.hpp: ROUNDS rounds over SLOTS pairs of tensor sets, half of each
 * round submitted for a std::future, half with a callable; every output element is
 * checked. It prints which libnrtq and libnrt the process loaded (the test checks they are
 * the installed ones) and ends with a PASS line; any failure exits non-zero with the reason.
 */
#include <dlfcn.h>
#include <nrtq_nrt.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <string>
#include <vector>

namespace {

constexpr int SLOTS = 4;  // slots [0, SLOTS/2) go through futures, the rest through callables
constexpr int ROUNDS = 25;
constexpr auto WATCHDOG = std::chrono::seconds(10);

[[noreturn]] void fail(const std::string &what) {
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    std::exit(1);
}

/* The file a symbol was loaded from, to show which library the loader picked. */
std::string library_of(const void *symbol) {
    Dl_info info{};
    if (dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "?";
    return info.dli_fname;
}

/* What one callable saw; written on nrtq's completion thread, read after drain(). */
struct CallableResult {
    std::mutex lock;
    int calls = 0;
    nrtq::Completion completion;
};

/* The number of elements of `out` that are not base + 3i (a = base + i, b = 2i). */
int wrong_elements(const std::vector<float> &out, float base) {
    int wrong = 0;
    for (std::size_t i = 0; i < out.size(); i++)
        if (out[i] != base + 3.0f * static_cast<float>(i)) wrong++;
    return wrong;
}

int run(const std::string &model_path) {
    const std::string header_version = std::to_string(NRTQ_VERSION_MAJOR) + "." +
                                       std::to_string(NRTQ_VERSION_MINOR) + "." +
                                       std::to_string(NRTQ_VERSION_PATCH);
    if (header_version != nrtq_version())
        fail("nrtq.h says " + header_version + ", libnrtq says " + nrtq_version());
    std::printf("nrtq %s\n", nrtq_version());
    std::printf("libnrtq: %s\n", library_of(reinterpret_cast<const void *>(&nrtq_version)).c_str());
    std::printf("libnrt: %s\n", library_of(reinterpret_cast<const void *>(&nrt_load)).c_str());

    nrtq::Runtime rt;
    nrtq::Model model(rt, model_path);
    const std::size_t elems = model.tensor("out").size / sizeof(float);
    for (const char *name : {"a", "b"})
        if (model.tensor(name).size != elems * sizeof(float)) fail(std::string("tensor ") + name + " is not f32[" +
                                                                   std::to_string(elems) + "]");
    if (static_cast<double>(ROUNDS * SLOTS) * 1000.0 + 3.0 * static_cast<double>(elems) >= 16777216.0)
        fail("the model is too large for exact f32 checks");
    nrtq::Queue queue(rt, model, nrtq::QueueConfig().depth(3));

    std::vector<nrtq::TensorSet> inputs, outputs;
    std::vector<float> b(elems);
    for (std::size_t i = 0; i < elems; i++) b[i] = 2.0f * static_cast<float>(i);
    for (int s = 0; s < SLOTS; s++) {
        inputs.push_back(nrtq::TensorSet::inputs_of(model));
        outputs.push_back(nrtq::TensorSet::outputs_of(model));
        inputs.back().write("b", b);
    }

    int wrong = 0, futures_ok = 0, callables_ok = 0;
    std::vector<float> a(elems);
    for (int round = 0; round < ROUNDS; round++) {
        std::vector<std::future<nrtq::Completion>> futures;
        std::vector<nrtq::Queue::Ticket> future_tickets;
        std::vector<CallableResult> called(SLOTS - SLOTS / 2);
        std::vector<nrtq::Queue::Ticket> callable_tickets;
        for (int s = 0; s < SLOTS; s++) {
            // Each slot of each round has its own base, so a mixed-up output shows.
            const float base = static_cast<float>(round * SLOTS + s) * 1000.0f;
            for (std::size_t i = 0; i < elems; i++) a[i] = base + static_cast<float>(i);
            inputs[s].write("a", a);
            if (s < SLOTS / 2) {
                futures.push_back(queue.submit_future(inputs[s], outputs[s]));
            } else {
                CallableResult &mine = called[s - SLOTS / 2];
                callable_tickets.push_back(queue.submit(inputs[s], outputs[s], [&mine](const nrtq::Completion &c) {
                    std::lock_guard<std::mutex> guard(mine.lock);
                    mine.calls++;
                    mine.completion = c;
                }));
            }
        }
        for (std::future<nrtq::Completion> &f : futures) {
            if (f.wait_for(WATCHDOG) != std::future_status::ready) fail("a future was not ready within 10 s");
            const nrtq::Completion c = f.get();
            if (!c.ok()) fail("request " + std::to_string(c.ticket) + " (future): " + c.describe());
            futures_ok++;
        }
        if (!queue.drain(WATCHDOG)) fail("drain did not finish within 10 s");
        for (std::size_t k = 0; k < called.size(); k++) {
            std::lock_guard<std::mutex> guard(called[k].lock);
            if (called[k].calls != 1)
                fail("a callable was called " + std::to_string(called[k].calls) + " times, not once");
            const nrtq::Completion &c = called[k].completion;
            if (c.ticket != callable_tickets[k])
                fail("callable for ticket " + std::to_string(callable_tickets[k]) + " got ticket " +
                     std::to_string(c.ticket));
            if (!c.ok()) fail("request " + std::to_string(c.ticket) + " (callable): " + c.describe());
            callables_ok++;
        }
        for (int s = 0; s < SLOTS; s++) {
            const float base = static_cast<float>(round * SLOTS + s) * 1000.0f;
            wrong += wrong_elements(outputs[s].read<float>("out"), base);
        }
    }
    const nrtq_stats stats = queue.stats();
    if (!queue.destroy(WATCHDOG)) fail("destroy did not finish within 10 s");

    const int total = ROUNDS * SLOTS;
    if (futures_ok + callables_ok != total || wrong != 0 || stats.submitted != static_cast<std::uint64_t>(total) ||
        stats.completed != static_cast<std::uint64_t>(total))
        fail(std::to_string(futures_ok) + " futures and " + std::to_string(callables_ok) + " callables succeeded, " +
             std::to_string(wrong) + " wrong output elements, nrtq counted " + std::to_string(stats.submitted) +
             " submitted and " + std::to_string(stats.completed) + " completed (want " + std::to_string(total) +
             " in all, 0 wrong)");
    std::printf("PASS: %d requests (%d through futures, %d through callables), every output checked\n", total,
                futures_ok, callables_ok);
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s MODEL.nrtm (an add model: out = a + b, f32)\n", argv[0]);
        return 2;
    }
    try {
        return run(argv[1]);
    } catch (const nrtq::Error &e) {
        fail(std::string(e.what()) + " (NRT status " + std::to_string(e.nrt_status()) + ")");
    } catch (const std::exception &e) {
        fail(e.what());
    }
}
