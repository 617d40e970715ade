// Serving on every NeuronCore from C++ with nrtq::Pool: a pool of pipelines loads the model
// on each core the process sees, each request brings host buffers (nrtq writes them to the
// device of whichever core takes it and reads the output back), each request's callable
// checks its output element by element, and a core that dies (on the emulator:
// NRT_EMU_FAULTS="unrecoverable after=N lnc=K") leaves the pool while the others serve on.
// Exits non-zero on a wrong output or a request not delivered exactly once.
//
//   nrtq_cpp_pool MODEL [REQUESTS]
#include <nrtq.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kSlots = 32;
constexpr std::size_t kElements = 1024; // the add_f32 models: a, b, out of 1024 f32

// One request's host memory: out = a + b.
struct Slot {
    std::vector<float> a = std::vector<float>(kElements), b = std::vector<float>(kElements),
                       out = std::vector<float>(kElements);
    void fill(float base) {
        for (std::size_t i = 0; i < kElements; i++) {
            a[i] = base + static_cast<float>(i);
            b[i] = 2.0f * static_cast<float>(i);
            out[i] = -1.0f;
        }
    }
    bool right() const {
        for (std::size_t i = 0; i < kElements; i++)
            if (out[i] != a[i] + b[i]) return false;
        return true;
    }
};

} // namespace

int main(int argc, char **argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL [REQUESTS]\n", argv[0]);
        return 2;
    }
    const std::string path = argv[1];
    const std::size_t requests = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 2000;
    try {
        nrtq::Runtime runtime(true);
        std::vector<Slot> slots(kSlots);
        std::vector<std::atomic<unsigned>> seen(requests);
        std::atomic<unsigned long> verified{0}, failed{0}, wrong{0};
        nrtq::PoolConfig config;
        config.pipeline(nrtq::PipelineConfig()) // host buffers in and out on every core
            .on_core_left([](std::uint32_t core, nrtq_status status, std::uint32_t nrt_status) {
                std::printf("core %u left: %s (NRT status %u)\n", core, nrtq_status_str(status), nrt_status);
                std::fflush(stdout);
            });
        nrtq::Pool pool(runtime, path, config);
        std::printf("pool on %zu cores\n", pool.cores().size());

        for (std::size_t next = 0; next < requests;) {
            std::size_t end = next + kSlots < requests ? next + kSlots : requests;
            for (; next < end; next++) {
                Slot &slot = slots[next % kSlots];
                slot.fill(static_cast<float>(next));
                auto ticket = pool.submit_host({nrtq::host_input("a", slot.a), nrtq::host_input("b", slot.b)},
                                               {nrtq::host_output("out", slot.out)},
                                               [&, next](const nrtq::Completion &c) {
                                                   seen[next]++;
                                                   if (!c.ok()) {
                                                       failed++;
                                                   } else if (slots[next % kSlots].right()) {
                                                       verified++;
                                                   } else {
                                                       wrong++;
                                                   }
                                               });
                if (!ticket) throw std::runtime_error("the pool backlog is full");
            }
            pool.drain(); // every request of the round delivered: its buffers are ours again
        }
        std::size_t once = 0;
        for (auto &s : seen) once += s.load() == 1;
        nrtq_pool_counts counts = pool.stats();
        bool serving = pool.state().serving();
        std::printf("requests %zu, delivered exactly once %zu, verified %lu, wrong %lu, failed %lu, cores serving "
                    "%llu of %llu\n",
                    requests, once, verified.load(), wrong.load(), failed.load(),
                    static_cast<unsigned long long>(counts.cores_alive), static_cast<unsigned long long>(counts.cores));
        pool.destroy();
        if (once != requests || wrong != 0 || verified + failed != requests || !serving) {
            std::printf("FAIL: nrtq_cpp_pool\n");
            return 1;
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        std::printf("FAIL: nrtq_cpp_pool\n");
        return 1;
    }
    std::printf("PASS: nrtq_cpp_pool\n");
    return 0;
}
