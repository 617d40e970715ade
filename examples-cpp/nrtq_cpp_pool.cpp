// Serving on every NeuronCore from C++ with nrtq::Pool: the pool loads the model on each
// core the process sees, each request's callable checks its output, and a core that dies
// (on the emulator: NRT_EMU_FAULTS="unrecoverable after=N lnc=K") leaves the pool while
// the others serve on. Exits non-zero on a wrong output or a request not delivered once.
//
//   nrtq_cpp_pool MODEL [REQUESTS]
#include <nrtq.hpp>
#include <nrtq_nrt.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kSlots = 32;

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
    bool right() const {
        std::vector<float> result = out.read<float>("out");
        for (std::size_t i = 0; i < result.size(); i++)
            if (result[i] != base + 3.0f * static_cast<float>(i)) return false;
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
        // A model on core 0 only to shape the tensor sets; the pool loads its own copies.
        nrtq::Model shape(runtime, path, 0);
        std::vector<std::unique_ptr<Slot>> slots;
        for (std::size_t s = 0; s < kSlots; s++) slots.push_back(std::make_unique<Slot>(shape));

        std::vector<std::atomic<unsigned>> seen(requests);
        std::atomic<unsigned long> verified{0}, failed{0}, wrong{0};
        nrtq::PoolConfig config;
        config.on_core_left([](std::uint32_t core, nrtq_status status, std::uint32_t nrt_status) {
            std::printf("core %u left: %s (NRT status %u)\n", core, nrtq_status_str(status), nrt_status);
            std::fflush(stdout);
        });
        nrtq::Pool pool(runtime, path, config);
        std::printf("pool on %zu cores\n", pool.cores().size());

        for (std::size_t next = 0; next < requests;) {
            std::size_t end = next + kSlots < requests ? next + kSlots : requests;
            for (; next < end; next++) {
                Slot &slot = *slots[next % kSlots];
                slot.fill(static_cast<float>(next));
                auto ticket = pool.try_submit(slot.in, slot.out, [&, next](const nrtq::Completion &c) {
                    seen[next]++;
                    if (!c.ok()) {
                        failed++;
                    } else if (slots[next % kSlots]->right()) {
                        verified++;
                    } else {
                        wrong++;
                    }
                });
                if (!ticket) throw std::runtime_error("the pool backlog is full");
            }
            pool.drain();
        }
        std::size_t once = 0;
        for (auto &s : seen) once += s.load() == 1;
        nrtq_pool_counts counts = pool.stats();
        nrtq::Failure why{};
        bool serving = pool.state(&why) == NRTQ_POOL_SERVING;
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
