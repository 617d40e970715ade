/*
 * nrtq.hpp: a header-only C++17 binding of libnrtq (include/nrtq.h).
 *
 * Needs only nrtq.h; link with libnrtq as a C program does:
 *
 *     c++ -std=c++17 app.cpp $(pkg-config --cflags --libs nrtq)
 *
 * The libnrt helpers (nrtq::Model, nrtq::TensorSet) are in nrtq_nrt.hpp, which also needs
 * libnrt's headers (<nrt/nrt.h>) and -lnrt; see that header.
 *
 * Overview
 *
 *     nrtq::Runtime rt;                                   // nrtq_runtime_open(NULL, true)
 *     nrtq::Model model(rt, "model.nrtm");                // nrtq_nrt.hpp
 *     nrtq::Queue q(rt, model, nrtq::QueueConfig().depth(3));
 *     nrtq::TensorSet in = nrtq::TensorSet::inputs_of(model), out = nrtq::TensorSet::outputs_of(model);
 *     in.write("a", a_values);
 *     std::future<nrtq::Completion> done = q.submit_future(in, out);
 *     q.submit(in2, out2, [](const nrtq::Completion& c) { ... });   // any callable
 *     if (!done.get().ok()) ...
 *
 *     nrtq::Queue logged(rt, model, nrtq::QueueConfig().on_complete(log_it));
 *     nrtq::Queue::Ticket t = logged.submit(in3, out3);   // completes through log_it
 *     if (logged.cancel(t)) ...                           // still in the backlog: cancelled
 *
 *     // Pipelines: host buffers in and out; nrtq writes, runs and reads as async stages.
 *     nrtq::Queue p = nrtq::Queue::pipeline(rt, model, nrtq::PipelineConfig().slots(8));
 *     auto f = p.submit_host_future({nrtq::host_input("a", a), nrtq::host_input("b", b)},
 *                                   {nrtq::host_output("out", out)});
 *
 *     // Pools: one model on several cores behind one submit, dead cores taken out.
 *     nrtq::Pool pool(rt, "model.nrtm", nrtq::PoolConfig().cores({0, 1})
 *                         .pipeline(nrtq::PipelineConfig())
 *                         .on_core_left([](uint32_t core, nrtq_status, uint32_t) { ... }));
 *     std::optional<std::future<nrtq::Completion>> g = pool.submit_host_future(ins, outs);
 *
 * Ownership. Runtime, Queue, QueueConfig, PipelineConfig, Pool, PoolConfig (and Model,
 * TensorSet) are move-only owners;
 * a moved-from object is empty, and using it throws Error(NRTQ_ERR_NULL). The runtime's
 * handle is shared: every Queue (and Model, TensorSet) created on a Runtime keeps it
 * open, so the runtime closes (nrtq_runtime_close, and nrt_close when it called nrt_init)
 * when the last of them goes, whatever order they are destroyed in. A Queue also keeps
 * the Model(s) it runs alive, a Pool the Models it was given. Tensor sets and host buffers
 * given to a submit must outlive the request (see "Buffer reuse" on Queue::submit_host): keep
 * them until its completion has arrived (its callback ran or its future is ready).
 *
 * Errors. A failed call throws nrtq::Error, carrying the nrtq status, the raw libnrt
 * status where the C API reports one as a value (a submit refused by a failed queue:
 * nrtq_queue_failure's status; libnrt calls made by nrtq_nrt.hpp), else 0, and the
 * message of nrtq_last_error(), copied on the failing thread right after the call.
 * Request outcomes (NRTQ_ERR_EXEC, NRTQ_ERR_CANCELLED, ...) are not exceptions: they
 * arrive in the request's Completion (check ok(), or call check() to throw).
 *
 * "Not now" (NRTQ_BACKLOG_FULL, NRTQ_TIMEOUT) is never an exception:
 *   - try_submit / try_submit_future / try_submit_tagged return an empty std::optional
 *     when the backlog stayed full for their timeout (default 0: do not wait); the
 *     callable given to a refused submit is destroyed before the call returns;
 *   - submit / submit_future / submit_tagged wait for room without limit and return the
 *     ticket (or future). Only on nrtq's completion thread (inside a callback) can a
 *     backlog not be waited for; there they throw Error(NRTQ_BACKLOG_FULL): use try_*
 *     in callbacks;
 *   - wait, drain and destroy return bool: false when the timeout came first.
 *
 * Callbacks. submit takes any callable invocable as f(const nrtq::Completion&). It is
 * moved into one heap closure per request, passed as the request's user_data, called
 * exactly once on nrtq's completion thread (every accepted request completes exactly
 * once, also when cancelled by destroy) and destroyed right after, so no closure leaks.
 * An exception escaping a callable never reaches C: the trampoline catches it and hands
 * it to the handler set with nrtq::set_callback_exception_handler (default: a line on
 * stderr). The threading rules of nrtq_completion_fn apply: a callable may submit, but
 * must not wait on, drain or destroy a queue of the same runtime (Error with
 * NRTQ_ERR_WOULD_DEADLOCK), so never let the last owner of a Queue or Runtime die in it.
 *
 * A queue-wide callable (QueueConfig::on_complete) serves the requests submitted without
 * one: submit(inputs, outputs), try_submit(inputs, outputs), and submit_tagged /
 * try_submit_tagged, whose tag it receives as Completion::user_data. It is bound to the
 * C queue through nrtq_queue_config_set_completion_hook, with a user_data pointing at a
 * heap-held std::function that the Queue keeps until its destroy has returned (the hook
 * may run until then). Same thread, same exception handling as a per-request callable.
 * Callback mode only: a reap-mode config with one makes the Queue constructor throw
 * Error(NRTQ_ERR_INVALID), and a callback-mode queue without one refuses the no-callable
 * submits with Error(NRTQ_ERR_WRONG_MODE) (their completions would reach nobody).
 *
 * Cancelling: cancel(ticket) takes back a request still in the backlog; it then completes,
 * once, as NRTQ_ERR_CANCELLED, in its place in ticket order: its callable is still called
 * (then destroyed), its future still fulfilled, the queue-wide callable still called. A
 * request already on the device (or completed) runs its course: cancel returns false.
 * submit_future / try_submit_future can report the ticket to cancel through their last
 * argument.
 *
 * Reap mode (QueueConfig().delivery(NRTQ_DELIVERY_REAP)): submit with submit_tagged /
 * try_submit_tagged (a 64-bit tag comes back as Completion::user_data), poll reap_fd(),
 * then reap() into a std::vector until it returns 0 (submit(inputs, outputs) is a tag of
 * 0). The callable-taking submits throw Error(NRTQ_ERR_WRONG_MODE) on a reap-mode queue
 * (callables are never called there); in callback mode the tagged submits need a
 * queue-wide callable (above). Drain and reap everything before the Queue is destroyed:
 * destroy discards completions not yet reaped.
 *
 * Timeouts are std::chrono::microseconds (any coarser std::chrono duration converts);
 * nrtq::forever (-1) means no limit, as a negative timeout does in the C API.
 *
 * ThreadSanitizer. libnrtq is Rust: its standard library ships uninstrumented, so a
 * program built with -fsanitize=thread against the ordinary libnrtq.so gets reports about
 * synchronisation TSan cannot see (e.g. around every completion: examples-cpp's server
 * built that way with g++ gets 56 reports; with the recipe below, none). The supported recipe is
 * what `make sanitize` runs (.ci/sanitize, examples-cpp/Makefile target sanitize-tsan):
 *   1. build an instrumented libnrtq: in the nrtq source tree,
 *        RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=thread -Cunsafe-allow-abi-mismatch=sanitizer" \
 *          CARGO_TARGET_DIR=target/tsan cargo build -p nrtq --lib --target x86_64-unknown-linux-gnu
 *      (libnrtq.so lands in target/tsan/x86_64-unknown-linux-gnu/debug);
 *   2. compile your sources with -fsanitize=thread (tested with g++), but link without
 *      -fsanitize=thread: link Rust's own TSan runtime instead, whole, so that one runtime
 *      serves your code and libnrtq (gcc's libtsan lacks entry points rustc's
 *      instrumentation calls):
 *        c++ app.o -o app -Wl,--whole-archive \
 *          $(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/lib/librustc-*_rt.tsan.a \
 *          -Wl,--no-whole-archive -rdynamic -L<tsan libdir> -Wl,-rpath,<tsan libdir> -lnrtq -lnrt \
 *          -lpthread -ldl -lm
 *   3. run with TSAN_OPTIONS=suppressions=<nrtq>/tests/tsan.supp: it suppresses only what
 *      TSan cannot see into (the uninstrumented libnrt, Arc's fence-ordered drop), nothing
 *      of nrtq's own.
 */
#ifndef NRTQ_HPP
#define NRTQ_HPP

#include <nrtq.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace nrtq {

/** No limit, for every timeout argument. */
inline constexpr std::chrono::microseconds forever{-1};

/** A failed nrtq (or, from nrtq_nrt.hpp, libnrt) call. */
class Error : public std::runtime_error {
public:
    /** `what()` is "<call>: <message>", the message led by the status's name (nrtq's own
     *  messages already are), or "<call>: <nrtq_status_str(status)>" without a message. */
    Error(nrtq_status status, std::uint32_t nrt_status, const std::string &call, std::string message)
        : std::runtime_error(describe(status, call, message)), status_(status), nrt_status_(nrt_status),
          message_(std::move(message)) {}

    /** The nrtq status of the failed call (100-199, or NRTQ_BACKLOG_FULL from submit on the
     *  completion thread). */
    nrtq_status status() const noexcept { return status_; }
    /** The raw libnrt NRT_STATUS where one was reported as a value, else 0. */
    std::uint32_t nrt_status() const noexcept { return nrt_status_; }
    /** The message nrtq_last_error() gave right after the failure ("" if none). */
    const std::string &message() const noexcept { return message_; }

private:
    static std::string describe(nrtq_status status, const std::string &call, const std::string &message) {
        const std::string text = nrtq_status_str(status);
        if (message.empty()) return call + ": " + text;
        const std::string name = text.substr(0, text.find(':'));
        if (message.compare(0, name.size(), name) == 0) return call + ": " + message;
        return call + ": " + name + ": " + message;
    }

    nrtq_status status_;
    std::uint32_t nrt_status_;
    std::string message_;
};

/** One request's outcome. */
struct Completion {
    /** The ticket its submit returned (per queue, increasing from 1). */
    std::uint64_t ticket = 0;
    /** The tag given to submit_tagged (reap mode, or a queue-wide callable); 0 for requests
     *  submitted with a callable or a future, or by submit(inputs, outputs). */
    std::uint64_t user_data = 0;
    /** NRTQ_OK, or the outcome: NRTQ_ERR_EXEC, NRTQ_ERR_QUEUE_FAILED, NRTQ_ERR_CANCELLED, ... */
    nrtq_status status = NRTQ_OK;
    /** The raw libnrt status behind `status` (0 on success). */
    std::uint32_t nrt_status = 0;

    bool ok() const noexcept { return status == NRTQ_OK; }
    /** "NRTQ_OK: ..." or the outcome and its raw status. */
    std::string describe() const {
        std::string text = nrtq_status_str(status);
        if (nrt_status != 0) text += " (NRT status " + std::to_string(nrt_status) + ")";
        return text;
    }
    /** Throw Error(status, nrt_status) unless ok(). */
    void check() const {
        if (!ok()) throw Error(status, nrt_status, "request " + std::to_string(ticket), "");
    }
};

/** A queue's terminal failure (Queue::failure). */
struct Failure {
    nrtq_status status;
    std::uint32_t nrt_status;
};

/** Receives an exception that escaped a completion (or fatal) callable, on nrtq's
 *  completion thread, with the completion it was given (for a fatal callable: ticket 0,
 *  the failure's status). */
using CallbackExceptionHandler = std::function<void(std::exception_ptr, const Completion &)>;

namespace detail {

inline std::string last_error() {
    const char *message = nrtq_last_error();
    return message ? std::string(message) : std::string();
}

/** Throw Error for `status` unless it is NRTQ_OK, copying the thread's message first. */
inline void check(nrtq_status status, const char *call) {
    if (status != NRTQ_OK) throw Error(status, 0, call, last_error());
}

inline long long micros(std::chrono::microseconds timeout) {
    return static_cast<long long>(timeout.count() < 0 ? -1 : timeout.count());
}

struct HandlerSlot {
    std::mutex lock;
    std::shared_ptr<const CallbackExceptionHandler> handler;
};

inline HandlerSlot &handler_slot() {
    static HandlerSlot slot;
    return slot;
}

inline void print_callback_exception(std::exception_ptr error, const Completion &c) {
    std::string what = "an exception not derived from std::exception";
    try {
        std::rethrow_exception(error);
    } catch (const std::exception &e) {
        what = e.what();
    } catch (...) {
    }
    std::fprintf(stderr, "nrtq: a callback for ticket %llu threw: %s\n",
                 static_cast<unsigned long long>(c.ticket), what.c_str());
}

/** Called by the trampolines; never lets anything escape. */
inline void report_callback_exception(std::exception_ptr error, const Completion &c) noexcept {
    try {
        std::shared_ptr<const CallbackExceptionHandler> handler;
        {
            std::lock_guard<std::mutex> guard(handler_slot().lock);
            handler = handler_slot().handler;
        }
        if (handler && *handler) {
            (*handler)(error, c);
        } else {
            print_callback_exception(error, c);
        }
    } catch (...) {
        std::fputs("nrtq: the callback exception handler threw; exception dropped\n", stderr);
    }
}

inline Completion from_c(const nrtq_completion &c, bool keep_user_data) {
    Completion out;
    out.ticket = c.ticket;
    out.user_data = keep_user_data ? c.user_data : 0;
    out.status = c.status;
    out.nrt_status = c.nrt_status;
    return out;
}

/** One request's callable, owned by the request from an accepted submit to its completion. */
struct Closure {
    virtual ~Closure() = default;
    virtual void run(const Completion &c) = 0;
};

template <class F> struct ClosureOf final : Closure {
    explicit ClosureOf(F &&f) : callable(std::move(f)) {}
    explicit ClosureOf(const F &f) : callable(f) {}
    void run(const Completion &c) override { callable(c); }
    F callable;
};

/** The C callback of every callable submit: user_data is the request's Closure. */
inline void completion_trampoline(const nrtq_completion *c) noexcept {
    if (c == nullptr) return;
    // Owns the closure from here: it is destroyed after this one call, whatever happens.
    std::unique_ptr<Closure> closure(reinterpret_cast<Closure *>(static_cast<std::uintptr_t>(c->user_data)));
    const Completion completion = from_c(*c, false);
    try {
        closure->run(completion);
    } catch (...) {
        report_callback_exception(std::current_exception(), completion);
    }
}

/** A queue-wide completion callable (QueueConfig::on_complete): the hook's user_data. Shared
 *  by the QueueConfig that set it and every Queue created with it; each Queue keeps it until
 *  its nrtq_queue_destroy has returned. */
struct CompletionHook {
    std::function<void(const Completion &)> callable;
};

/** The C hook of a queue-wide callable: user_data is the CompletionHook, not owned here. */
inline void completion_hook_trampoline(const nrtq_completion *c, std::uint64_t user_data) noexcept {
    if (c == nullptr || user_data == 0) return;
    auto *hook = reinterpret_cast<CompletionHook *>(static_cast<std::uintptr_t>(user_data));
    // Requests reaching the hook were submitted without a closure: user_data is their tag.
    const Completion completion = from_c(*c, true);
    try {
        hook->callable(completion);
    } catch (...) {
        report_callback_exception(std::current_exception(), completion);
    }
}

/** A refused submit's status and the thread's message, read before anything else runs. */
struct Refusal {
    nrtq_status status = NRTQ_OK;
    std::string message;
};

/**
 * The common part of every callable-taking submit (queue, pipeline, pool): box the callable
 * as the request's user_data, call `raw(callback, user_data, &ticket)`, and hand the box to
 * the request when accepted. When refused, the message is copied before the box (and so
 * the callable's destructor, which may call nrtq) is destroyed.
 */
template <class F, class Raw> Refusal submit_boxed(F &&on_complete, Raw &&raw, std::uint64_t &ticket) {
    using Callable = std::decay_t<F>;
    static_assert(std::is_invocable_v<Callable &, const Completion &>,
                  "a completion callable must be invocable as f(const nrtq::Completion&)");
    auto closure = std::make_unique<ClosureOf<Callable>>(std::forward<F>(on_complete));
    const nrtq_status status = raw(
        &completion_trampoline,
        static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(static_cast<Closure *>(closure.get()))), &ticket);
    Refusal refusal;
    refusal.status = status;
    if (status == NRTQ_OK) {
        // Accepted: the request owns the closure now (the trampoline frees it, perhaps
        // already on the completion thread); release() only forgets the pointer.
        (void)closure.release();
    } else if (status != NRTQ_BACKLOG_FULL) {
        refusal.message = last_error();
    }
    return refusal;
}

/** The raw submits as callables raw(callback, user_data, &ticket), one per C entry point. */
struct QueueSetSubmit {
    nrtq_queue *queue;
    const void *inputs;
    void *outputs;
    std::int64_t timeout_us;
    nrtq_status operator()(nrtq_completion_fn cb, std::uint64_t user_data, std::uint64_t *ticket) const {
        return nrtq_queue_submit_timeout(queue, inputs, outputs, cb, user_data, timeout_us, ticket);
    }
};
struct QueueHostSubmit {
    nrtq_queue *queue;
    const std::vector<nrtq_host_buffer> &inputs, &outputs;
    std::int64_t timeout_us;
    nrtq_status operator()(nrtq_completion_fn cb, std::uint64_t user_data, std::uint64_t *ticket) const {
        return nrtq_queue_submit_host_timeout(queue, inputs.data(), inputs.size(), outputs.data(), outputs.size(), cb,
                                              user_data, timeout_us, ticket);
    }
};
struct PoolSetSubmit {
    const nrtq_pool *pool;
    const void *inputs;
    void *outputs;
    nrtq_status operator()(nrtq_completion_fn cb, std::uint64_t user_data, std::uint64_t *ticket) const {
        return nrtq_pool_submit(pool, inputs, outputs, cb, user_data, ticket);
    }
};
struct PoolHostSubmit {
    const nrtq_pool *pool;
    const std::vector<nrtq_host_buffer> &inputs, &outputs;
    nrtq_status operator()(nrtq_completion_fn cb, std::uint64_t user_data, std::uint64_t *ticket) const {
        return nrtq_pool_submit_host(pool, inputs.data(), inputs.size(), outputs.data(), outputs.size(), cb,
                                     user_data, ticket);
    }
};

/** A callable fulfilling a promise, for the future-returning submits. */
inline auto fulfiller(std::promise<Completion> promise) {
    return [p = std::move(promise)](const Completion &c) mutable { p.set_value(c); };
}

template <class T> struct is_duration : std::false_type {};
template <class Rep, class Period> struct is_duration<std::chrono::duration<Rep, Period>> : std::true_type {};

/** A fatal callable, shared by the QueueConfig that set it and every Queue created with it. */
struct FatalClosure {
    std::function<void(nrtq_status, std::uint32_t)> callable;
};

inline void fatal_trampoline(nrtq_queue *, nrtq_status status, std::uint32_t nrt_status,
                             std::uint64_t user_data) noexcept {
    auto *closure = reinterpret_cast<FatalClosure *>(static_cast<std::uintptr_t>(user_data));
    try {
        closure->callable(status, nrt_status);
    } catch (...) {
        Completion c;
        c.status = status;
        c.nrt_status = nrt_status;
        report_callback_exception(std::current_exception(), c);
    }
}

/** Tags that nrtq_nrt.hpp's Model and TensorSet carry as `handle_kind`, so that only they
 *  (not any class with a native_handle()) convert to ModelRef, Inputs and Outputs. */
struct model_kind {};
struct tensor_set_kind {};

template <class T, class Kind, class = void> struct is_kind : std::false_type {};
template <class T, class Kind>
struct is_kind<T, Kind, std::void_t<typename T::handle_kind>> : std::is_same<typename T::handle_kind, Kind> {};

/** Closes the runtime when its last owner (Runtime, Queue, Model, TensorSet) goes. */
struct RuntimeCore {
    nrtq_runtime *handle = nullptr;
    explicit RuntimeCore(nrtq_runtime *h) : handle(h) {}
    RuntimeCore(const RuntimeCore &) = delete;
    RuntimeCore &operator=(const RuntimeCore &) = delete;
    ~RuntimeCore() {
        nrtq_status status = nrtq_runtime_close(handle);
        if (status != NRTQ_OK) {
            // A destructor cannot throw; this happens only when the last owner died inside
            // a callback (NRTQ_ERR_WOULD_DEADLOCK), against the rules above.
            std::fprintf(stderr, "nrtq: closing the runtime failed: %s: %s\n", nrtq_status_str(status),
                         nrtq_last_error());
        }
    }
};

} // namespace detail

/**
 * Handle exceptions escaping completion and fatal callables (process-wide; nullptr
 * restores the default, a line on stderr). The handler runs on nrtq's completion thread;
 * an exception it throws is dropped with a line on stderr. Thread-safe; a call already
 * running the previous handler may still finish after this returns.
 */
inline void set_callback_exception_handler(CallbackExceptionHandler handler) {
    auto shared = handler ? std::make_shared<const CallbackExceptionHandler>(std::move(handler)) : nullptr;
    std::lock_guard<std::mutex> guard(detail::handler_slot().lock);
    detail::handler_slot().handler = std::move(shared);
}

/** A model to run (nrt_model_t *): from nrtq_nrt.hpp's Model, or a raw handle the caller
 *  keeps loaded until the queue is destroyed. */
class ModelRef {
public:
    /** A raw nrt_model_t * (as void *, so this header needs no nrt.h). */
    explicit ModelRef(void *raw_model) noexcept : handle_(raw_model) {}
    /** An nrtq::Model (nrtq_nrt.hpp); the queue then shares its lifetime(). */
    template <class M, std::enable_if_t<detail::is_kind<M, detail::model_kind>::value, int> = 0>
    ModelRef(const M &model) : handle_(model.native_handle()), lifetime_(model.lifetime()) {} // NOLINT: implicit
    void *native_handle() const noexcept { return handle_; }
    const std::shared_ptr<void> &lifetime() const noexcept { return lifetime_; }

private:
    void *handle_;
    std::shared_ptr<void> lifetime_;
};

/** A request's input tensor set: nrtq_nrt.hpp's TensorSet, or a raw nrt_tensor_set_t *. */
class Inputs {
public:
    explicit Inputs(const void *raw_set) noexcept : handle_(raw_set) {}
    template <class S, std::enable_if_t<detail::is_kind<S, detail::tensor_set_kind>::value, int> = 0>
    Inputs(const S &set) noexcept : handle_(set.native_handle()) {} // NOLINT: implicit by design
    const void *native_handle() const noexcept { return handle_; }

private:
    const void *handle_;
};

/** A request's output tensor set: nrtq_nrt.hpp's TensorSet, or a raw nrt_tensor_set_t *. */
class Outputs {
public:
    explicit Outputs(void *raw_set) noexcept : handle_(raw_set) {}
    template <class S, std::enable_if_t<detail::is_kind<S, detail::tensor_set_kind>::value && !std::is_const_v<S>,
                                        int> = 0>
    Outputs(S &set) noexcept : handle_(set.native_handle()) {} // NOLINT: implicit by design
    void *native_handle() const noexcept { return handle_; }

private:
    void *handle_;
};

/**
 * Host buffers of a pipeline request (Queue::submit_host, Pool::submit_host): nrtq.h's
 * nrtq_host_buffer, one per model tensor, named or by position. Only the name string
 * must stay alive for the submit call (nrtq resolves it there); the memory it points at
 * belongs to the request until its completion (see "Buffer reuse" on Queue::submit_host).
 */
using HostBuffer = nrtq_host_buffer;
using HostBuffers = std::vector<nrtq_host_buffer>;

/** Input `name`: `size` bytes at `data`, written to the device by the pipeline. */
inline HostBuffer host_input(const char *name, const void *data, std::size_t size) noexcept {
    // nrtq only reads an input buffer; the C struct has one non-const pointer for both sides.
    return HostBuffer{name, 0, const_cast<void *>(data), size};
}
/** Input number `index` of the model's inputs. */
inline HostBuffer host_input_at(std::uint32_t index, const void *data, std::size_t size) noexcept {
    return HostBuffer{nullptr, index, const_cast<void *>(data), size};
}
/** Output `name`: `size` bytes at `data`, filled by the pipeline before completion. */
inline HostBuffer host_output(const char *name, void *data, std::size_t size) noexcept {
    return HostBuffer{name, 0, data, size};
}
/** Output number `index` of the model's (last model's) outputs. */
inline HostBuffer host_output_at(std::uint32_t index, void *data, std::size_t size) noexcept {
    return HostBuffer{nullptr, index, data, size};
}
/** The whole of `values` as input `name`. */
template <class T> HostBuffer host_input(const char *name, const std::vector<T> &values) noexcept {
    static_assert(std::is_trivially_copyable_v<T>, "tensor elements must be trivially copyable");
    return host_input(name, values.data(), values.size() * sizeof(T));
}
/** The whole of `values` as output `name` (size it to the tensor first). */
template <class T> HostBuffer host_output(const char *name, std::vector<T> &values) noexcept {
    static_assert(std::is_trivially_copyable_v<T>, "tensor elements must be trivially copyable");
    return host_output(name, values.data(), values.size() * sizeof(T));
}

/** A request of a pipeline that failed, with the stage it failed at (Queue::stage_errors). */
struct StageError {
    Completion completion;
    /** NRTQ_STAGE_WRITE, NRTQ_STAGE_EXECUTE, NRTQ_STAGE_READ, or NRTQ_STAGE_NONE. */
    nrtq_stage stage = NRTQ_STAGE_NONE;
};

/** Settings of a pipeline beside its QueueConfig: device slots and the links of a chain of
 *  models. Every setter returns *this and throws Error for a bad value. */
class PipelineConfig {
public:
    PipelineConfig() {
        nrtq_pipeline_config *raw = nullptr;
        detail::check(nrtq_pipeline_config_new(&raw), "nrtq_pipeline_config_new");
        config_.reset(raw);
    }
    PipelineConfig(PipelineConfig &&) noexcept = default;
    PipelineConfig &operator=(PipelineConfig &&) noexcept = default;
    PipelineConfig(const PipelineConfig &) = delete;
    PipelineConfig &operator=(const PipelineConfig &) = delete;

    /** Device slots (input and output tensor sets per model, one per request from leaving
     *  the backlog to completion), 0-4096; 0 (default) picks three stages times the
     *  queue's depth ceiling, capped at `max_slots` (0: 64). */
    PipelineConfig &slots(std::uint32_t n, std::uint32_t max_slots = 0) {
        detail::check(nrtq_pipeline_config_set_slots(config_.get(), n, max_slots), "nrtq_pipeline_config_set_slots");
        return *this;
    }
    /** A chain: input `input` of model `model` (1 or more) is output `output` of model
     *  `model - 1`, kept on the device. Unlinked chained inputs bind by name. */
    PipelineConfig &link(std::uint32_t model, const std::string &input, const std::string &output) {
        detail::check(nrtq_pipeline_config_link(config_.get(), model, input.c_str(), output.c_str()),
                      "nrtq_pipeline_config_link");
        return *this;
    }

    const nrtq_pipeline_config *native_handle() const noexcept { return config_.get(); }

private:
    struct Free {
        void operator()(nrtq_pipeline_config *c) const noexcept { nrtq_pipeline_config_free(c); }
    };
    std::unique_ptr<nrtq_pipeline_config, Free> config_;
};

/** Settings for a Queue; every setter returns *this and throws Error for a bad value. */
class QueueConfig {
public:
    QueueConfig() {
        nrtq_queue_config *raw = nullptr;
        detail::check(nrtq_queue_config_new(&raw), "nrtq_queue_config_new");
        config_.reset(raw);
    }
    QueueConfig(QueueConfig &&) noexcept = default;
    QueueConfig &operator=(QueueConfig &&) noexcept = default;
    QueueConfig(const QueueConfig &) = delete;
    QueueConfig &operator=(const QueueConfig &) = delete;

    /** Requests kept on the device at least, 1-1024 (default 3). */
    QueueConfig &depth(std::uint32_t n) {
        detail::check(nrtq_queue_config_set_depth(config_.get(), n), "nrtq_queue_config_set_depth");
        return *this;
    }
    /** Ceiling of the automatic depth, 1-1024 (default 16). */
    QueueConfig &max_depth(std::uint32_t n) {
        detail::check(nrtq_queue_config_set_max_depth(config_.get(), n), "nrtq_queue_config_set_max_depth");
        return *this;
    }
    /** Backlog size before submits see "not now", 0-2^24 (default 1024). */
    QueueConfig &backlog(std::uint32_t n) {
        detail::check(nrtq_queue_config_set_backlog(config_.get(), n), "nrtq_queue_config_set_backlog");
        return *this;
    }
    /** NRTQ_DELIVERY_CALLBACK (default) or NRTQ_DELIVERY_REAP. */
    QueueConfig &delivery(nrtq_delivery mode) {
        detail::check(nrtq_queue_config_set_delivery(config_.get(), mode), "nrtq_queue_config_set_delivery");
        delivery_ = mode;
        return *this;
    }
    /** NRTQ_WAIT_BALANCED (default) or NRTQ_WAIT_LOW_LATENCY. */
    QueueConfig &wait_policy(nrtq_wait_policy policy) {
        detail::check(nrtq_queue_config_set_wait_policy(config_.get(), policy),
                      "nrtq_queue_config_set_wait_policy");
        return *this;
    }
    /** Spin window, 0-10000 µs (default 5). */
    QueueConfig &spin(std::chrono::microseconds window) {
        if (window.count() < 0 || window.count() > 0xffffffffLL)
            throw Error(NRTQ_ERR_INVALID, 0, "QueueConfig::spin", "the spin window must be 0-10000 us");
        detail::check(nrtq_queue_config_set_spin_us(config_.get(), static_cast<std::uint32_t>(window.count())),
                      "nrtq_queue_config_set_spin_us");
        return *this;
    }
    /** Longest time one request may stay on the device before the queue fails with
     *  NRTQ_ERR_DEADLINE; zero (the default) means none. */
    QueueConfig &deadline(std::chrono::microseconds limit) {
        if (limit.count() < 0)
            throw Error(NRTQ_ERR_INVALID, 0, "QueueConfig::deadline", "the deadline must not be negative");
        detail::check(nrtq_queue_config_set_deadline_us(config_.get(), static_cast<std::uint64_t>(limit.count())),
                      "nrtq_queue_config_set_deadline_us");
        return *this;
    }
    /** How many recent failed requests Queue::errors keeps (default 256). */
    QueueConfig &error_log(std::uint32_t entries) {
        detail::check(nrtq_queue_config_set_error_log(config_.get(), entries), "nrtq_queue_config_set_error_log");
        return *this;
    }
    /** Called once, on the completion thread, when a queue created with this config fails
     *  terminally, as f(nrtq_status status, uint32_t nrt_status). Exceptions go to the
     *  callback exception handler. The callable is shared by every such queue. */
    template <class F> QueueConfig &on_fatal(F &&callable) {
        static_assert(std::is_invocable_v<std::decay_t<F> &, nrtq_status, std::uint32_t>,
                      "on_fatal takes a callable f(nrtq_status, uint32_t)");
        auto closure = std::make_shared<detail::FatalClosure>();
        closure->callable = std::forward<F>(callable);
        detail::check(nrtq_queue_config_set_fatal_callback(config_.get(), &detail::fatal_trampoline,
                                                           reinterpret_cast<std::uintptr_t>(closure.get())),
                      "nrtq_queue_config_set_fatal_callback");
        fatal_ = std::move(closure);
        return *this;
    }

    /**
     * The queue-wide completion callable, f(const Completion&) (copy-constructible: it is
     * held in a std::function), for requests submitted without a callable
     * (submit(inputs, outputs), try_submit(inputs, outputs), and the tagged submits, whose
     * tag arrives as Completion::user_data). Called once per such request on nrtq's
     * completion thread, in ticket order, also when the request failed or was cancelled;
     * exceptions go to the callback exception handler. Requests submitted with their own
     * callable or a future never reach it. Callback mode only: a Queue created from a
     * reap-mode config with one throws Error(NRTQ_ERR_INVALID).
     *
     * The callable is shared by every queue created from this config (queues on different
     * runtimes may call it concurrently); each Queue keeps it alive until the queue has been
     * destroyed, so the config may go first. nullptr or an empty std::function removes it.
     */
    template <class F> QueueConfig &on_complete(F &&callable) {
        static_assert(std::is_invocable_v<std::decay_t<F> &, const Completion &>,
                      "on_complete takes a callable invocable as f(const nrtq::Completion&)");
        auto hook = std::make_shared<detail::CompletionHook>();
        hook->callable = std::forward<F>(callable);
        if (!hook->callable) return on_complete(nullptr);
        detail::check(nrtq_queue_config_set_completion_hook(config_.get(), &detail::completion_hook_trampoline,
                                                            reinterpret_cast<std::uintptr_t>(hook.get())),
                      "nrtq_queue_config_set_completion_hook");
        hook_ = std::move(hook);
        return *this;
    }
    /** Remove the queue-wide callable (queues already created keep theirs). */
    QueueConfig &on_complete(std::nullptr_t) {
        detail::check(nrtq_queue_config_set_completion_hook(config_.get(), nullptr, 0),
                      "nrtq_queue_config_set_completion_hook");
        hook_.reset();
        return *this;
    }

    const nrtq_queue_config *native_handle() const noexcept { return config_.get(); }

private:
    friend class Queue;
    friend class PoolConfig;
    struct Free {
        void operator()(nrtq_queue_config *c) const noexcept { nrtq_queue_config_free(c); }
    };
    std::unique_ptr<nrtq_queue_config, Free> config_;
    nrtq_delivery delivery_ = NRTQ_DELIVERY_CALLBACK;
    std::shared_ptr<detail::FatalClosure> fatal_;
    std::shared_ptr<detail::CompletionHook> hook_;
};

/** A runtime: one loaded libnrt and its completion thread. Shared by its queues. */
class Runtime {
public:
    /** Open over the libnrt found by nrtq's search order (the process's own, $NRTQ_LIBNRT,
     *  libnrt.so.1, /opt/aws/neuron/lib). `init`: nrtq calls nrt_init now and nrt_close
     *  when the runtime closes; false when the application initialises libnrt itself. */
    explicit Runtime(bool init = true) { open(nullptr, init); }
    /** Open over the libnrt at `libnrt_path`. */
    explicit Runtime(const std::string &libnrt_path, bool init = true) { open(libnrt_path.c_str(), init); }

    Runtime(Runtime &&) noexcept = default;
    Runtime &operator=(Runtime &&) noexcept = default;
    Runtime(const Runtime &) = delete;
    Runtime &operator=(const Runtime &) = delete;
    /** Releases this owner; the runtime closes once its queues (and models, tensor sets)
     *  are gone too. */
    ~Runtime() = default;

    /** The loaded libnrt's async generation (NRTQ_GENERATION_2_28, ...). */
    nrtq_generation generation() const {
        nrtq_generation out{};
        detail::check(nrtq_runtime_generation(raw(), &out), "nrtq_runtime_generation");
        return out;
    }
    /** The loaded libnrt's version, e.g. "2.30.50.0". */
    std::string version() const {
        std::size_t length = 0;
        detail::check(nrtq_runtime_version(raw(), nullptr, 0, &length), "nrtq_runtime_version");
        std::string text(length + 1, '\0');
        detail::check(nrtq_runtime_version(raw(), text.data(), text.size(), &length), "nrtq_runtime_version");
        text.resize(length < text.size() ? length : text.size() - 1);
        return text;
    }

    /** An owning reference that keeps the runtime open, for objects that must be released
     *  before it closes (Queue, and nrtq_nrt.hpp's Model and TensorSet). Empty when moved from. */
    std::shared_ptr<void> lifetime() const noexcept { return core_; }
    nrtq_runtime *native_handle() const noexcept { return raw(); }

private:
    void open(const char *path, bool init) {
        nrtq_runtime *handle = nullptr;
        detail::check(nrtq_runtime_open(path, init, &handle), "nrtq_runtime_open");
        core_ = std::make_shared<detail::RuntimeCore>(handle);
    }
    nrtq_runtime *raw() const noexcept { return core_ ? core_->handle : nullptr; }

    std::shared_ptr<detail::RuntimeCore> core_;
};

/** An auto-refilling queue for one model. Thread-safe: submit from any number of threads. */
class Queue {
public:
    using Ticket = std::uint64_t;

    /** Create a queue running `model` on `runtime` (both kept alive by the queue). */
    Queue(const Runtime &runtime, const ModelRef &model, const QueueConfig &config = QueueConfig())
        : runtime_(runtime.lifetime()), model_(model.lifetime()), fatal_(config.fatal_), hook_(config.hook_),
          delivery_(config.delivery_) {
        detail::check(nrtq_queue_create(runtime.native_handle(), model.native_handle(), config.native_handle(),
                                        &queue_),
                      "nrtq_queue_create");
    }

    /**
     * A pipeline: host buffers in, host buffers out (submit_host). `models` (at least one,
     * all loaded on one core, kept alive by the queue) run in order, each chained model's
     * inputs bound on the device to the previous one's outputs (PipelineConfig::link).
     * nrtq allocates the device slots and frees them at destroy. The result is a Queue with
     * every promise of one (ticket order, exactly once, cancel, drain, reap, errors, stats,
     * failure); the tensor-set submits are refused on it (NRTQ_ERR_INVALID).
     */
    Queue(const Runtime &runtime, const std::vector<ModelRef> &models, const PipelineConfig &pipeline,
          const QueueConfig &config = QueueConfig())
        : runtime_(runtime.lifetime()), model_(lifetimes(models)), fatal_(config.fatal_), hook_(config.hook_),
          delivery_(config.delivery_) {
        // The C call takes NULL as "the defaults": a moved-from config must not mean that.
        if (pipeline.native_handle() == nullptr)
            throw Error(NRTQ_ERR_NULL, 0, "nrtq_pipeline_create", "the PipelineConfig was moved from");
        std::vector<void *> raw;
        for (const ModelRef &m : models) raw.push_back(m.native_handle());
        detail::check(nrtq_pipeline_create(runtime.native_handle(), raw.data(), raw.size(), config.native_handle(),
                                           pipeline.native_handle(), &queue_),
                      "nrtq_pipeline_create");
    }
    /** A pipeline over one model (see the constructor above). */
    static Queue pipeline(const Runtime &runtime, const ModelRef &model,
                          const PipelineConfig &pipeline = PipelineConfig(), const QueueConfig &config = QueueConfig()) {
        return Queue(runtime, std::vector<ModelRef>{model}, pipeline, config);
    }

    Queue(Queue &&other) noexcept { swap(other); }
    Queue &operator=(Queue &&other) noexcept {
        if (this != &other) {
            Queue gone(std::move(other));
            swap(gone);
        }
        return *this;
    }
    Queue(const Queue &) = delete;
    Queue &operator=(const Queue &) = delete;

    /** destroy(forever). A failure cannot be thrown from here: it goes to stderr, and what
     *  the still-open queue uses (runtime, model, fatal and queue-wide callables) is leaked,
     *  not freed. */
    ~Queue() {
        if (queue_ == nullptr) return;
        nrtq_status status = nrtq_queue_destroy(queue_, -1);
        if (status != NRTQ_OK && status != NRTQ_TIMEOUT) {
            std::fprintf(stderr, "nrtq: destroying a queue failed (is the last owner dying in a callback?): %s: %s\n",
                         nrtq_status_str(status), nrtq_last_error());
            // The queue lives on (NRTQ_ERR_WOULD_DEADLOCK): keep what it uses alive for good.
            struct Kept {
                std::shared_ptr<void> runtime, model;
                std::shared_ptr<detail::FatalClosure> fatal;
                std::shared_ptr<detail::CompletionHook> hook;
            };
            static_cast<void>(new Kept{std::move(runtime_), std::move(model_), std::move(fatal_), std::move(hook_)});
        }
    }

    /**
     * Destroy now: refuse new work, cancel the backlog, wait up to `timeout` for the
     * device, deliver every completion. True when everything finished; false when
     * device-held requests were abandoned (they complete as NRTQ_ERR_CANCELLED). The queue
     * is empty afterwards either way. Throws Error (the queue stays usable) from a callback.
     */
    bool destroy(std::chrono::microseconds timeout = forever) {
        nrtq_status status = nrtq_queue_destroy(queue_, detail::micros(timeout));
        if (status == NRTQ_TIMEOUT) {
            queue_ = nullptr;
            return false;
        }
        detail::check(status, "nrtq_queue_destroy");
        queue_ = nullptr;
        return true;
    }

    /** Submit with a callable f(const Completion&), waiting for backlog room without limit. */
    template <class F> Ticket submit(const Inputs &inputs, const Outputs &outputs, F &&on_complete) {
        std::optional<Ticket> ticket = submit_closure(inputs, outputs, std::forward<F>(on_complete), forever);
        if (!ticket) throw backlog_full_on_completion_thread("Queue::submit");
        return *ticket;
    }

    /** Submit with a callable, waiting up to `timeout` (default: not at all) for backlog
     *  room; empty when the backlog stayed full (the callable is then already destroyed). */
    template <class F, std::enable_if_t<!detail::is_duration<std::decay_t<F>>::value, int> = 0>
    std::optional<Ticket> try_submit(const Inputs &inputs, const Outputs &outputs, F &&on_complete,
                                     std::chrono::microseconds timeout = std::chrono::microseconds(0)) {
        return submit_closure(inputs, outputs, std::forward<F>(on_complete), timeout);
    }

    /** Callback mode with a queue-wide callable (QueueConfig::on_complete), or reap mode
     *  (tag 0): submit without a callable, waiting for room without limit. Throws
     *  Error(NRTQ_ERR_WRONG_MODE) on a callback-mode queue without a queue-wide callable. */
    Ticket submit(const Inputs &inputs, const Outputs &outputs) {
        std::optional<Ticket> ticket = submit_without_callable(inputs, outputs, 0, forever, "Queue::submit");
        if (!ticket) throw backlog_full_on_completion_thread("Queue::submit");
        return *ticket;
    }

    /** As submit(inputs, outputs), waiting up to `timeout` (default: not at all) for room;
     *  empty when the backlog stayed full. */
    std::optional<Ticket> try_submit(const Inputs &inputs, const Outputs &outputs,
                                     std::chrono::microseconds timeout = std::chrono::microseconds(0)) {
        return submit_without_callable(inputs, outputs, 0, timeout, "Queue::try_submit");
    }

    /** Submit, waiting for room without limit; the future receives the Completion (also a
     *  failed or cancelled one: check its status). `ticket`, when given, receives the
     *  request's ticket (for cancel or wait). */
    std::future<Completion> submit_future(const Inputs &inputs, const Outputs &outputs, Ticket *ticket = nullptr) {
        std::optional<std::future<Completion>> f = try_submit_future(inputs, outputs, forever, ticket);
        if (!f) throw backlog_full_on_completion_thread("Queue::submit_future");
        return std::move(*f);
    }

    /** As submit_future, waiting up to `timeout` for room; empty when the backlog stayed full
     *  (`*ticket` is then left as it was). */
    std::optional<std::future<Completion>>
    try_submit_future(const Inputs &inputs, const Outputs &outputs,
                      std::chrono::microseconds timeout = std::chrono::microseconds(0), Ticket *ticket = nullptr) {
        std::promise<Completion> promise;
        std::future<Completion> future = promise.get_future();
        auto fulfil = [p = std::move(promise)](const Completion &c) mutable { p.set_value(c); };
        std::optional<Ticket> accepted = submit_closure(inputs, outputs, std::move(fulfil), timeout);
        if (!accepted) return std::nullopt;
        if (ticket != nullptr) *ticket = *accepted;
        return future;
    }

    /** Submit with a tag returned as Completion::user_data, waiting for room without limit.
     *  Reap mode, or callback mode with a queue-wide callable (QueueConfig::on_complete),
     *  which receives the tag; otherwise Error(NRTQ_ERR_WRONG_MODE). */
    Ticket submit_tagged(const Inputs &inputs, const Outputs &outputs, std::uint64_t tag) {
        std::optional<Ticket> ticket = try_submit_tagged(inputs, outputs, tag, forever);
        if (!ticket) throw backlog_full_on_completion_thread("Queue::submit_tagged");
        return *ticket;
    }

    /** As submit_tagged, waiting up to `timeout` for room; empty when the backlog stayed
     *  full. */
    std::optional<Ticket> try_submit_tagged(const Inputs &inputs, const Outputs &outputs, std::uint64_t tag,
                                            std::chrono::microseconds timeout = std::chrono::microseconds(0)) {
        return submit_without_callable(inputs, outputs, tag, timeout, "Queue::try_submit_tagged");
    }

    /**
     * Pipelines: submit host buffers (host_input / host_output), every model input and
     * output exactly once, by name or index, each of exactly the tensor's size (otherwise
     * Error(NRTQ_ERR_INVALID) whose message names the tensor and both sizes; nothing is
     * accepted). The request writes the inputs, runs the model(s) and reads the outputs
     * into the output buffers before it completes. Same forms and rules as submit:
     * a callable, a future, the queue-wide callable, a tag; "not now" never throws.
     *
     * Buffer reuse (nrtq_queue_submit_host): the buffers belong to the request until it is
     * delivered (its callable ran, its future is ready, or it was reaped). Until then
     * inputs must not change and outputs must not be read or written. At delivery all may
     * be reused, also after the request's own error (NRTQ_ERR_EXEC, NRTQ_ERR_RUNTIME) and
     * after NRTQ_ERR_CANCELLED with nrt_status 0. The one exception: a request given up on
     * while a unit held it may still be copied to or from by that unit; reuse or free its
     * buffers only after the runtime has closed. Those are the requests completed with
     * NRTQ_ERR_DEADLINE, NRTQ_ERR_PANIC, NRTQ_ERR_CANCELLED with nrt_status NRT_TIMEOUT (5),
     * or NRTQ_ERR_QUEUE_FAILED at the stage whose unit died (stage_errors() tells).
     */
    template <class F>
    Ticket submit_host(const HostBuffers &inputs, const HostBuffers &outputs, F &&on_complete) {
        std::optional<Ticket> ticket = try_submit_host(inputs, outputs, std::forward<F>(on_complete), forever);
        if (!ticket) throw backlog_full_on_completion_thread("Queue::submit_host");
        return *ticket;
    }
    /** As submit_host with a callable, waiting up to `timeout` for room; empty when the
     *  backlog stayed full (the callable is then already destroyed). */
    template <class F, std::enable_if_t<!detail::is_duration<std::decay_t<F>>::value, int> = 0>
    std::optional<Ticket> try_submit_host(const HostBuffers &inputs, const HostBuffers &outputs, F &&on_complete,
                                          std::chrono::microseconds timeout = std::chrono::microseconds(0)) {
        return submit_closure(host_submitter(inputs, outputs, timeout), std::forward<F>(on_complete),
                              "nrtq_queue_submit_host");
    }
    /** submit_host without a callable: the queue-wide callable (callback mode) or reap (tag 0). */
    Ticket submit_host(const HostBuffers &inputs, const HostBuffers &outputs) {
        return submit_host_tagged(inputs, outputs, 0);
    }
    /** submit_host with a tag (Completion::user_data), for reap mode or the queue-wide callable. */
    Ticket submit_host_tagged(const HostBuffers &inputs, const HostBuffers &outputs, std::uint64_t tag) {
        std::optional<Ticket> ticket = try_submit_host_tagged(inputs, outputs, tag, forever);
        if (!ticket) throw backlog_full_on_completion_thread("Queue::submit_host_tagged");
        return *ticket;
    }
    std::optional<Ticket> try_submit_host_tagged(const HostBuffers &inputs, const HostBuffers &outputs,
                                                 std::uint64_t tag,
                                                 std::chrono::microseconds timeout = std::chrono::microseconds(0)) {
        return submit_untracked(host_submitter(inputs, outputs, timeout), tag, "Queue::submit_host_tagged",
                                "nrtq_queue_submit_host");
    }
    /** submit_host with a future for the Completion; `ticket` receives the ticket if given. */
    std::future<Completion> submit_host_future(const HostBuffers &inputs, const HostBuffers &outputs,
                                               Ticket *ticket = nullptr) {
        std::optional<std::future<Completion>> f = try_submit_host_future(inputs, outputs, forever, ticket);
        if (!f) throw backlog_full_on_completion_thread("Queue::submit_host_future");
        return std::move(*f);
    }
    std::optional<std::future<Completion>>
    try_submit_host_future(const HostBuffers &inputs, const HostBuffers &outputs,
                           std::chrono::microseconds timeout = std::chrono::microseconds(0), Ticket *ticket = nullptr) {
        std::promise<Completion> promise;
        std::future<Completion> future = promise.get_future();
        std::optional<Ticket> accepted = try_submit_host(inputs, outputs, detail::fulfiller(std::move(promise)), timeout);
        if (!accepted) return std::nullopt;
        if (ticket != nullptr) *ticket = *accepted;
        return future;
    }

    /** Per-stage figures in plan order: a pipeline's write, execute, read; a plain queue's
     *  one execute stage. */
    std::vector<nrtq_stage_stats> stage_stats() const {
        std::size_t count = 0;
        detail::check(nrtq_queue_stage_stats(queue_, nullptr, 0, &count), "nrtq_queue_stage_stats");
        std::vector<nrtq_stage_stats> out(count);
        std::size_t written = 0;
        detail::check(nrtq_queue_stage_stats(queue_, out.data(), out.size(), &written), "nrtq_queue_stage_stats");
        out.resize(written < out.size() ? written : out.size());
        return out;
    }

    /** Up to `max` recent failed requests with the stage each failed at. The same log as
     *  errors(): each failed request is returned once, by one of the two. */
    std::vector<StageError> stage_errors(std::size_t max = 256, std::uint64_t *dropped = nullptr) {
        std::vector<nrtq_stage_error> batch(max);
        std::size_t count = 0;
        detail::check(nrtq_queue_stage_errors(queue_, batch.data(), batch.size(), &count, dropped),
                      "nrtq_queue_stage_errors");
        std::vector<StageError> out;
        for (std::size_t i = 0; i < count; i++)
            out.push_back(StageError{detail::from_c(batch[i].completion, delivery_ == NRTQ_DELIVERY_REAP),
                                     batch[i].stage});
        return out;
    }

    /**
     * Cancel request `ticket` if it has not reached the device yet. True: it was taken out
     * of the backlog and completes, once, as NRTQ_ERR_CANCELLED (raw status 0) in its place
     * in ticket order: its callable is still called (then destroyed), its future fulfilled,
     * or the queue-wide callable called, or (reap mode) it is reaped. False: too late, the
     * request is on the device or has completed, and completes with its own status.
     * Throws Error for anything else: NRTQ_ERR_UNKNOWN_TICKET (never issued by this queue),
     * NRTQ_ERR_NULL (a moved-from or destroyed Queue). Safe from any thread, callables too.
     */
    bool cancel(Ticket ticket) {
        nrtq_status status = nrtq_queue_cancel(queue_, ticket);
        if (status == NRTQ_ERR_TOO_LATE) return false;
        detail::check(status, "nrtq_queue_cancel");
        return true;
    }

    /** Wait up to `timeout` until request `ticket` has been delivered; false on timeout. */
    bool wait(Ticket ticket, std::chrono::microseconds timeout = forever) {
        nrtq_status status = nrtq_queue_wait(queue_, ticket, detail::micros(timeout));
        if (status == NRTQ_TIMEOUT) return false;
        detail::check(status, "nrtq_queue_wait");
        return true;
    }

    /** Wait up to `timeout` until everything submitted has been delivered; false on timeout. */
    bool drain(std::chrono::microseconds timeout = forever) {
        nrtq_status status = nrtq_queue_drain(queue_, detail::micros(timeout));
        if (status == NRTQ_TIMEOUT) return false;
        detail::check(status, "nrtq_queue_drain");
        return true;
    }

    /** Reap mode: readable while completions wait (poll/epoll it; owned by the queue). */
    int reap_fd() const {
        int fd = -1;
        detail::check(nrtq_queue_reap_fd(queue_, &fd), "nrtq_queue_reap_fd");
        return fd;
    }

    /** Reap mode: append up to `max` waiting completions, oldest first, to `out`; returns how
     *  many (0: none waiting). Never blocks. */
    std::size_t reap(std::vector<Completion> &out, std::size_t max = 64) {
        std::vector<nrtq_completion> batch(max);
        std::size_t count = 0;
        detail::check(nrtq_queue_reap(queue_, batch.data(), batch.size(), &count), "nrtq_queue_reap");
        for (std::size_t i = 0; i < count; i++) out.push_back(detail::from_c(batch[i], true));
        return count;
    }

    /** Up to `max` recent failed requests (each returned once here), and how many were
     *  dropped so far because the error log was full. */
    std::vector<Completion> errors(std::size_t max = 256, std::uint64_t *dropped = nullptr) {
        std::vector<nrtq_completion> batch(max);
        std::size_t count = 0;
        detail::check(nrtq_queue_errors(queue_, batch.data(), batch.size(), &count, dropped), "nrtq_queue_errors");
        std::vector<Completion> out;
        for (std::size_t i = 0; i < count; i++) out.push_back(detail::from_c(batch[i], delivery_ == NRTQ_DELIVERY_REAP));
        return out;
    }

    /** Counters and latency percentiles (see nrtq_stats). */
    nrtq_stats stats() const {
        nrtq_stats out{};
        out.struct_size = sizeof out;
        detail::check(nrtq_queue_stats(queue_, &out), "nrtq_queue_stats");
        return out;
    }

    /** The queue's terminal failure, if it has failed. */
    std::optional<Failure> failure() const {
        nrtq_status status = NRTQ_OK;
        std::uint32_t nrt_status = 0;
        detail::check(nrtq_queue_failure(queue_, &status, &nrt_status), "nrtq_queue_failure");
        if (status == NRTQ_OK) return std::nullopt;
        return Failure{status, nrt_status};
    }

    nrtq_delivery delivery() const noexcept { return delivery_; }
    nrtq_queue *native_handle() const noexcept { return queue_; }

private:
    void swap(Queue &other) noexcept {
        std::swap(queue_, other.queue_);
        std::swap(runtime_, other.runtime_);
        std::swap(model_, other.model_);
        std::swap(fatal_, other.fatal_);
        std::swap(hook_, other.hook_);
        std::swap(delivery_, other.delivery_);
    }

    static std::shared_ptr<void> lifetimes(const std::vector<ModelRef> &models) {
        auto all = std::make_shared<std::vector<std::shared_ptr<void>>>();
        for (const ModelRef &m : models) all->push_back(m.lifetime());
        return all;
    }

    detail::QueueSetSubmit set_submitter(const Inputs &inputs, const Outputs &outputs,
                                         std::chrono::microseconds timeout) const {
        return detail::QueueSetSubmit{queue_, inputs.native_handle(), outputs.native_handle(), detail::micros(timeout)};
    }
    detail::QueueHostSubmit host_submitter(const HostBuffers &inputs, const HostBuffers &outputs,
                                           std::chrono::microseconds timeout) const {
        return detail::QueueHostSubmit{queue_, inputs, outputs, detail::micros(timeout)};
    }

    /** The tagged and callable-less submits: NULL callback, so the completion goes to the
     *  queue-wide callable (callback mode) or to reap. */
    std::optional<Ticket> submit_without_callable(const Inputs &inputs, const Outputs &outputs, std::uint64_t tag,
                                                  std::chrono::microseconds timeout, const char *call) {
        return submit_untracked(set_submitter(inputs, outputs, timeout), tag, call, "nrtq_queue_submit");
    }

    template <class Raw>
    std::optional<Ticket> submit_untracked(Raw &&raw, std::uint64_t tag, const char *call, const char *c_call) {
        // A moved-from queue (queue_ NULL) is left to the C call, which says NRTQ_ERR_NULL.
        if (delivery_ == NRTQ_DELIVERY_CALLBACK && !hook_ && queue_ != nullptr)
            throw Error(NRTQ_ERR_WRONG_MODE, 0, call,
                        "this callback-mode queue has no queue-wide callable, so the completion would reach "
                        "nobody: give the submit a callable, or set QueueConfig::on_complete (or use reap mode)");
        Ticket ticket = 0;
        nrtq_status status = raw(nullptr, tag, &ticket);
        if (status == NRTQ_BACKLOG_FULL) return std::nullopt;
        if (status != NRTQ_OK) throw submit_error(status, detail::last_error(), c_call);
        return ticket;
    }

    template <class F>
    std::optional<Ticket> submit_closure(const Inputs &inputs, const Outputs &outputs, F &&on_complete,
                                         std::chrono::microseconds timeout) {
        return submit_closure(set_submitter(inputs, outputs, timeout), std::forward<F>(on_complete),
                              "nrtq_queue_submit");
    }

    template <class Raw, class F>
    std::optional<Ticket> submit_closure(Raw &&raw, F &&on_complete, const char *c_call) {
        if (delivery_ == NRTQ_DELIVERY_REAP && queue_ != nullptr)
            throw Error(NRTQ_ERR_WRONG_MODE, 0, "Queue::submit",
                        "a reap-mode queue never calls callables; use submit_tagged and reap");
        Ticket ticket = 0;
        detail::Refusal refusal = detail::submit_boxed(std::forward<F>(on_complete), raw, ticket);
        if (refusal.status == NRTQ_OK) return ticket;
        if (refusal.status == NRTQ_BACKLOG_FULL) return std::nullopt;
        throw submit_error(refusal.status, std::move(refusal.message), c_call);
    }

    /** The Error of a refused submit; for a failed queue, with the raw status that failed it. */
    Error submit_error(nrtq_status status, std::string message, const char *c_call) const {
        std::uint32_t nrt_status = 0;
        if (status == NRTQ_ERR_QUEUE_FAILED && queue_ != nullptr) {
            nrtq_status failed = NRTQ_OK;
            if (nrtq_queue_failure(queue_, &failed, &nrt_status) != NRTQ_OK) nrt_status = 0;
        }
        return Error(status, nrt_status, c_call, std::move(message));
    }

    static Error backlog_full_on_completion_thread(const char *call) {
        return Error(NRTQ_BACKLOG_FULL, 0, call,
                     "the backlog is full and a callback on the completion thread cannot wait for room; "
                     "use the try_ variant there");
    }

    nrtq_queue *queue_ = nullptr;
    // Declared after queue_ only for readability: the destructor body destroys the queue
    // (delivering every completion) before these members release the runtime and model.
    std::shared_ptr<void> runtime_;
    std::shared_ptr<void> model_;
    std::shared_ptr<detail::FatalClosure> fatal_;
    // The queue-wide callable the C hook's user_data points at; like the members above it is
    // released only after the destructor body's nrtq_queue_destroy has returned.
    std::shared_ptr<detail::CompletionHook> hook_;
    nrtq_delivery delivery_ = NRTQ_DELIVERY_CALLBACK;
};

namespace detail {

/** A core-left callable, shared by the PoolConfig that set it and every Pool created with it. */
struct CoreLeftClosure {
    std::function<void(std::uint32_t, nrtq_status, std::uint32_t)> callable;
};

inline void core_left_trampoline(std::uint32_t core, nrtq_status status, std::uint32_t nrt_status,
                                 std::uint64_t user_data) noexcept {
    if (user_data == 0) return;
    auto *closure = reinterpret_cast<CoreLeftClosure *>(static_cast<std::uintptr_t>(user_data));
    try {
        closure->callable(core, status, nrt_status);
    } catch (...) {
        Completion c;
        c.status = status;
        c.nrt_status = nrt_status;
        report_callback_exception(std::current_exception(), c);
    }
}

} // namespace detail

/** Where a pool is in its life (Pool::state). */
struct PoolState {
    /** NRTQ_POOL_SERVING, NRTQ_POOL_FAILED (every core has left) or NRTQ_POOL_CLOSED. */
    nrtq_pool_state_t state = NRTQ_POOL_SERVING;
    /** When failed: the last core's status and raw libnrt status; else NRTQ_OK and 0. */
    nrtq_status status = NRTQ_OK;
    std::uint32_t nrt_status = 0;
    bool serving() const noexcept { return state == NRTQ_POOL_SERVING; }
};

/** Settings for a Pool; every setter returns *this and throws Error for a bad value. */
class PoolConfig {
public:
    PoolConfig() {
        nrtq_pool_config *raw = nullptr;
        detail::check(nrtq_pool_config_new(&raw), "nrtq_pool_config_new");
        config_.reset(raw);
    }
    PoolConfig(PoolConfig &&) noexcept = default;
    PoolConfig &operator=(PoolConfig &&) noexcept = default;
    PoolConfig(const PoolConfig &) = delete;
    PoolConfig &operator=(const PoolConfig &) = delete;

    /** The logical cores a Pool created from a model file loads it on, each at most once;
     *  empty (the default): every core the process sees. Ignored with loaded models. */
    PoolConfig &cores(const std::vector<std::uint32_t> &list) {
        detail::check(nrtq_pool_config_set_cores(config_.get(), list.data(), list.size()),
                      "nrtq_pool_config_set_cores");
        return *this;
    }
    /** Requests the pool backlog holds before a submit is "not now", 0-2^24 (default 4096). */
    PoolConfig &backlog(std::uint32_t n) {
        detail::check(nrtq_pool_config_set_backlog(config_.get(), n), "nrtq_pool_config_set_backlog");
        return *this;
    }
    /** NRTQ_DELIVERY_CALLBACK (default) or NRTQ_DELIVERY_REAP. */
    PoolConfig &delivery(nrtq_delivery mode) {
        detail::check(nrtq_pool_config_set_delivery(config_.get(), mode), "nrtq_pool_config_set_delivery");
        delivery_ = mode;
        return *this;
    }
    /** Requests safe to run twice (default false): one on a core's device when the core
     *  died runs again on another core instead of failing. Each is still delivered once. */
    PoolConfig &retry_safe(bool safe) {
        detail::check(nrtq_pool_config_set_retry_safe(config_.get(), safe), "nrtq_pool_config_set_retry_safe");
        return *this;
    }
    /** Completion threads serving the cores, 1-256 (default 1: the runtime's own). */
    PoolConfig &completion_threads(std::uint32_t n) {
        detail::check(nrtq_pool_config_set_completion_threads(config_.get(), n),
                      "nrtq_pool_config_set_completion_threads");
        return *this;
    }
    /** Each core's queue settings (depth, wait policy, deadline, ...), copied. A config
     *  carrying a callable (on_complete, on_fatal) is refused with Error(NRTQ_ERR_INVALID):
     *  use the pool's on_complete and on_core_left. Its delivery mode is ignored. */
    PoolConfig &queue_config(const QueueConfig &config) {
        detail::check(nrtq_pool_config_set_queue_config(config_.get(), config.native_handle()),
                      "nrtq_pool_config_set_queue_config");
        return *this;
    }
    /** Make every core's queue a pipeline (host buffers in and out: Pool::submit_host) with
     *  these settings, copied. */
    PoolConfig &pipeline(const PipelineConfig &config) {
        // The C call takes NULL as "no pipeline": a moved-from config must not mean that.
        if (config.native_handle() == nullptr)
            throw Error(NRTQ_ERR_NULL, 0, "PoolConfig::pipeline", "the PipelineConfig was moved from");
        detail::check(nrtq_pool_config_set_pipeline(config_.get(), config.native_handle()),
                      "nrtq_pool_config_set_pipeline");
        pipeline_ = true;
        return *this;
    }
    /** Back to tensor-set cores (Pool::submit). */
    PoolConfig &pipeline(std::nullptr_t) {
        detail::check(nrtq_pool_config_set_pipeline(config_.get(), nullptr), "nrtq_pool_config_set_pipeline");
        pipeline_ = false;
        return *this;
    }
    /**
     * The pool-wide completion callable, f(const Completion&) (copy-constructible), for the
     * requests submitted without one (tag in Completion::user_data, the pool ticket in
     * Completion::ticket). Same thread, rules and exception handling as
     * QueueConfig::on_complete; callback mode only (a reap-mode Pool with one throws
     * Error(NRTQ_ERR_INVALID) at creation). nullptr or an empty std::function removes it.
     */
    template <class F> PoolConfig &on_complete(F &&callable) {
        static_assert(std::is_invocable_v<std::decay_t<F> &, const Completion &>,
                      "on_complete takes a callable invocable as f(const nrtq::Completion&)");
        auto hook = std::make_shared<detail::CompletionHook>();
        hook->callable = std::forward<F>(callable);
        if (!hook->callable) return on_complete(nullptr);
        detail::check(nrtq_pool_config_set_completion_hook(config_.get(), &detail::completion_hook_trampoline,
                                                           reinterpret_cast<std::uintptr_t>(hook.get())),
                      "nrtq_pool_config_set_completion_hook");
        hook_ = std::move(hook);
        return *this;
    }
    PoolConfig &on_complete(std::nullptr_t) {
        detail::check(nrtq_pool_config_set_completion_hook(config_.get(), nullptr, 0),
                      "nrtq_pool_config_set_completion_hook");
        hook_.reset();
        return *this;
    }
    /**
     * Called once per core that leaves the pool, as f(uint32_t core, nrtq_status status,
     * uint32_t nrt_status): `core` is its index in the pool (the order of cores() or of
     * the models given), `status` NRTQ_ERR_QUEUE_FAILED (dead unit), NRTQ_ERR_DEADLINE or
     * NRTQ_ERR_PANIC. On a completion thread, under the completion callables' rules (it
     * must not drain or destroy the pool); exceptions go to the callback exception
     * handler. Shared by every pool created from this config, kept until each is destroyed.
     */
    template <class F> PoolConfig &on_core_left(F &&callable) {
        static_assert(std::is_invocable_v<std::decay_t<F> &, std::uint32_t, nrtq_status, std::uint32_t>,
                      "on_core_left takes a callable f(uint32_t core, nrtq_status, uint32_t nrt_status)");
        auto closure = std::make_shared<detail::CoreLeftClosure>();
        closure->callable = std::forward<F>(callable);
        if (!closure->callable) return on_core_left(nullptr);
        detail::check(nrtq_pool_config_set_core_left_callback(config_.get(), &detail::core_left_trampoline,
                                                              reinterpret_cast<std::uintptr_t>(closure.get())),
                      "nrtq_pool_config_set_core_left_callback");
        core_left_ = std::move(closure);
        return *this;
    }
    PoolConfig &on_core_left(std::nullptr_t) {
        detail::check(nrtq_pool_config_set_core_left_callback(config_.get(), nullptr, 0),
                      "nrtq_pool_config_set_core_left_callback");
        core_left_.reset();
        return *this;
    }

    const nrtq_pool_config *native_handle() const noexcept { return config_.get(); }

private:
    friend class Pool;
    struct Free {
        void operator()(nrtq_pool_config *c) const noexcept { nrtq_pool_config_free(c); }
    };
    std::unique_ptr<nrtq_pool_config, Free> config_;
    nrtq_delivery delivery_ = NRTQ_DELIVERY_CALLBACK;
    bool pipeline_ = false;
    std::shared_ptr<detail::CompletionHook> hook_;
    std::shared_ptr<detail::CoreLeftClosure> core_left_;
};

/**
 * A pool: one model on several NeuronCores behind one submit (nrtq_pool). Each request goes
 * to the core expected to finish it soonest; when a core's execution unit dies the core
 * leaves (PoolConfig::on_core_left), requests that never reached its device run elsewhere,
 * and the pool serves on; once every core has left, state() is NRTQ_POOL_FAILED and submits
 * throw Error(NRTQ_ERR_QUEUE_FAILED). Every accepted request completes exactly once.
 *
 * A pool never waits for backlog room: every submit returns an empty std::optional when
 * the backlog is full ("not now", as everywhere in this header, is not an exception).
 * Callables and futures work as on a Queue (one heap closure per request, called once on
 * a completion thread, exceptions to the handler). Tickets are the pool's own; completions
 * of different cores may arrive out of ticket order. Thread-safe: submit from any thread.
 *
 * With PoolConfig::pipeline, cores are pipelines and requests carry host buffers
 * (submit_host); otherwise tensor sets usable on every core (submit).
 */
class Pool {
public:
    using Ticket = std::uint64_t;

    /** Load the model file at `path` (a NEFF, or nrt-emu's .nrtm) on the config's cores
     *  (default: every core the process sees); the pool unloads it at destroy. */
    Pool(const Runtime &runtime, const std::string &path, const PoolConfig &config = PoolConfig())
        : runtime_(runtime.lifetime()), hook_(config.hook_), core_left_(config.core_left_),
          delivery_(config.delivery_), pipeline_(config.pipeline_) {
        detail::check(nrtq_pool_create(runtime.native_handle(), path.c_str(), config.native_handle(), &pool_),
                      "nrtq_pool_create");
    }
    /** Over models the application loaded, one per core (core i of the pool is models[i]);
     *  the pool keeps nrtq_nrt.hpp Models loaded; raw handles stay the caller's to keep. */
    Pool(const Runtime &runtime, const std::vector<ModelRef> &models, const PoolConfig &config = PoolConfig())
        : runtime_(runtime.lifetime()), hook_(config.hook_), core_left_(config.core_left_),
          delivery_(config.delivery_), pipeline_(config.pipeline_) {
        std::vector<void *> raw;
        for (const ModelRef &m : models) {
            raw.push_back(m.native_handle());
            models_.push_back(m.lifetime());
        }
        detail::check(nrtq_pool_create_with_models(runtime.native_handle(), raw.data(), raw.size(),
                                                   config.native_handle(), &pool_),
                      "nrtq_pool_create_with_models");
    }

    Pool(Pool &&other) noexcept { swap(other); }
    Pool &operator=(Pool &&other) noexcept {
        if (this != &other) {
            Pool gone(std::move(other));
            swap(gone);
        }
        return *this;
    }
    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;

    /** destroy(forever); a failure goes to stderr and what the pool uses is leaked, as
     *  for Queue. */
    ~Pool() {
        if (pool_ == nullptr) return;
        nrtq_status status = nrtq_pool_destroy(pool_, -1);
        if (status != NRTQ_OK && status != NRTQ_TIMEOUT) {
            std::fprintf(stderr, "nrtq: destroying a pool failed (is the last owner dying in a callback?): %s: %s\n",
                         nrtq_status_str(status), nrtq_last_error());
            struct Kept {
                std::shared_ptr<void> runtime;
                std::vector<std::shared_ptr<void>> models;
                std::shared_ptr<detail::CompletionHook> hook;
                std::shared_ptr<detail::CoreLeftClosure> core_left;
            };
            static_cast<void>(new Kept{std::move(runtime_), std::move(models_), std::move(hook_), std::move(core_left_)});
        }
    }

    /** Destroy now: refuse new work, cancel the backlog, wait up to `timeout` per core for
     *  its device, deliver every completion, unload what the pool loaded. False when
     *  requests were abandoned on a device (NRTQ_ERR_CANCELLED with NRT_TIMEOUT). Throws
     *  Error (the pool stays usable) from a callback on a completion thread. */
    bool destroy(std::chrono::microseconds timeout = forever) {
        nrtq_status status = nrtq_pool_destroy(pool_, detail::micros(timeout));
        if (status == NRTQ_TIMEOUT) {
            pool_ = nullptr;
            return false;
        }
        detail::check(status, "nrtq_pool_destroy");
        pool_ = nullptr;
        return true;
    }

    /** Tensor-set pools: submit with a callable f(const Completion&); empty when the
     *  backlog is full (the callable is then already destroyed). */
    template <class F> std::optional<Ticket> submit(const Inputs &inputs, const Outputs &outputs, F &&on_complete) {
        return submit_closure(set_submitter(inputs, outputs), std::forward<F>(on_complete), "nrtq_pool_submit");
    }
    /** Tensor-set pools: the pool-wide callable (callback mode) or reap receives it, with `tag`. */
    std::optional<Ticket> submit_tagged(const Inputs &inputs, const Outputs &outputs, std::uint64_t tag = 0) {
        return submit_untracked(set_submitter(inputs, outputs), tag, "Pool::submit_tagged", "nrtq_pool_submit");
    }
    /** Tensor-set pools: a future for the Completion. */
    std::optional<std::future<Completion>> submit_future(const Inputs &inputs, const Outputs &outputs,
                                                         Ticket *ticket = nullptr) {
        return future_of([&](auto &&fulfil) { return submit(inputs, outputs, std::move(fulfil)); }, ticket);
    }

    /**
     * Pools of pipelines: submit host buffers (host_input / host_output), each model
     * input and output once, of exactly the tensor's size (otherwise Error(NRTQ_ERR_INVALID)
     * naming the tensor, nothing accepted). On its core the inputs are written, the model
     * runs and the outputs are read into the output buffers before it completes.
     *
     * Buffer reuse (nrtq_pool_submit_host): as for Queue::submit_host, the buffers belong
     * to the request until it is delivered. A request moved off a core that died is written
     * again from its inputs on another core, so inputs must stay unchanged until delivery.
     */
    template <class F>
    std::optional<Ticket> submit_host(const HostBuffers &inputs, const HostBuffers &outputs, F &&on_complete) {
        return submit_closure(host_submitter(inputs, outputs), std::forward<F>(on_complete), "nrtq_pool_submit_host");
    }
    std::optional<Ticket> submit_host_tagged(const HostBuffers &inputs, const HostBuffers &outputs,
                                             std::uint64_t tag = 0) {
        return submit_untracked(host_submitter(inputs, outputs), tag, "Pool::submit_host_tagged",
                                "nrtq_pool_submit_host");
    }
    std::optional<std::future<Completion>> submit_host_future(const HostBuffers &inputs, const HostBuffers &outputs,
                                                              Ticket *ticket = nullptr) {
        return future_of([&](auto &&fulfil) { return submit_host(inputs, outputs, std::move(fulfil)); }, ticket);
    }

    /** Wait up to `timeout` until every request accepted so far has been delivered. */
    bool drain(std::chrono::microseconds timeout = forever) const {
        nrtq_status status = nrtq_pool_drain(pool_, detail::micros(timeout));
        if (status == NRTQ_TIMEOUT) return false;
        detail::check(status, "nrtq_pool_drain");
        return true;
    }

    /** Reap mode: readable while completions wait (owned by the pool). */
    int reap_fd() const {
        int fd = -1;
        detail::check(nrtq_pool_reap_fd(pool_, &fd), "nrtq_pool_reap_fd");
        return fd;
    }
    /** Reap mode: append up to `max` waiting completions to `out`; how many (0: none). */
    std::size_t reap(std::vector<Completion> &out, std::size_t max = 64) {
        std::vector<nrtq_completion> batch(max);
        std::size_t count = 0;
        detail::check(nrtq_pool_reap(pool_, batch.data(), batch.size(), &count), "nrtq_pool_reap");
        for (std::size_t i = 0; i < count; i++) out.push_back(detail::from_c(batch[i], true));
        return count;
    }
    /** Up to `max` recent failed completions, each returned once here. */
    std::vector<Completion> errors(std::size_t max = 256, std::uint64_t *dropped = nullptr) {
        std::vector<nrtq_completion> batch(max);
        std::size_t count = 0;
        detail::check(nrtq_pool_errors(pool_, batch.data(), batch.size(), &count, dropped), "nrtq_pool_errors");
        std::vector<Completion> out;
        for (std::size_t i = 0; i < count; i++) out.push_back(detail::from_c(batch[i], delivery_ == NRTQ_DELIVERY_REAP));
        return out;
    }

    PoolState state() const {
        std::uint32_t state = 0;
        PoolState out;
        detail::check(nrtq_pool_state(pool_, &state, &out.status, &out.nrt_status), "nrtq_pool_state");
        out.state = static_cast<nrtq_pool_state_t>(state);
        return out;
    }
    nrtq_pool_counts stats() const {
        nrtq_pool_counts out{};
        out.struct_size = sizeof out;
        detail::check(nrtq_pool_stats(pool_, &out), "nrtq_pool_stats");
        return out;
    }
    /** Every core in pool order, with its health (healthy, and why it left). */
    std::vector<nrtq_pool_core> cores() const {
        std::size_t total = 0, count = 0;
        detail::check(nrtq_pool_cores(pool_, nullptr, 0, &count, &total), "nrtq_pool_cores");
        std::vector<nrtq_pool_core> out(total);
        detail::check(nrtq_pool_cores(pool_, out.data(), out.size(), &count, &total), "nrtq_pool_cores");
        out.resize(count);
        return out;
    }

    nrtq_delivery delivery() const noexcept { return delivery_; }
    bool is_pipeline() const noexcept { return pipeline_; }
    nrtq_pool *native_handle() const noexcept { return pool_; }

private:
    void swap(Pool &other) noexcept {
        std::swap(pool_, other.pool_);
        std::swap(runtime_, other.runtime_);
        std::swap(models_, other.models_);
        std::swap(hook_, other.hook_);
        std::swap(core_left_, other.core_left_);
        std::swap(delivery_, other.delivery_);
        std::swap(pipeline_, other.pipeline_);
    }

    detail::PoolSetSubmit set_submitter(const Inputs &inputs, const Outputs &outputs) const {
        return detail::PoolSetSubmit{pool_, inputs.native_handle(), outputs.native_handle()};
    }
    detail::PoolHostSubmit host_submitter(const HostBuffers &inputs, const HostBuffers &outputs) const {
        return detail::PoolHostSubmit{pool_, inputs, outputs};
    }

    template <class Submit> std::optional<std::future<Completion>> future_of(Submit &&submit, Ticket *ticket) {
        std::promise<Completion> promise;
        std::future<Completion> future = promise.get_future();
        std::optional<Ticket> accepted = submit(detail::fulfiller(std::move(promise)));
        if (!accepted) return std::nullopt;
        if (ticket != nullptr) *ticket = *accepted;
        return future;
    }

    template <class Raw, class F> std::optional<Ticket> submit_closure(Raw &&raw, F &&on_complete, const char *c_call) {
        if (delivery_ == NRTQ_DELIVERY_REAP && pool_ != nullptr)
            throw Error(NRTQ_ERR_WRONG_MODE, 0, "Pool::submit",
                        "a reap-mode pool never calls callables; use the tagged submits and reap");
        Ticket ticket = 0;
        detail::Refusal refusal = detail::submit_boxed(std::forward<F>(on_complete), raw, ticket);
        if (refusal.status == NRTQ_OK) return ticket;
        if (refusal.status == NRTQ_BACKLOG_FULL) return std::nullopt;
        throw submit_error(refusal.status, std::move(refusal.message), c_call);
    }

    template <class Raw>
    std::optional<Ticket> submit_untracked(Raw &&raw, std::uint64_t tag, const char *call, const char *c_call) {
        if (delivery_ == NRTQ_DELIVERY_CALLBACK && !hook_ && pool_ != nullptr)
            throw Error(NRTQ_ERR_WRONG_MODE, 0, call,
                        "this callback-mode pool has no pool-wide callable, so the completion would reach nobody: "
                        "give the submit a callable, or set PoolConfig::on_complete (or use reap mode)");
        Ticket ticket = 0;
        nrtq_status status = raw(nullptr, tag, &ticket);
        if (status == NRTQ_BACKLOG_FULL) return std::nullopt;
        if (status != NRTQ_OK) throw submit_error(status, detail::last_error(), c_call);
        return ticket;
    }

    /** The Error of a refused submit; for a failed pool, with the last core's raw status. */
    Error submit_error(nrtq_status status, std::string message, const char *c_call) const {
        std::uint32_t nrt_status = 0;
        if (status == NRTQ_ERR_QUEUE_FAILED && pool_ != nullptr) {
            std::uint32_t state = 0;
            nrtq_status failed = NRTQ_OK;
            if (nrtq_pool_state(pool_, &state, &failed, &nrt_status) != NRTQ_OK) nrt_status = 0;
        }
        return Error(status, nrt_status, c_call, std::move(message));
    }

    nrtq_pool *pool_ = nullptr;
    // Released only after the destructor body's nrtq_pool_destroy has returned.
    std::shared_ptr<void> runtime_;
    std::vector<std::shared_ptr<void>> models_;
    std::shared_ptr<detail::CompletionHook> hook_;
    std::shared_ptr<detail::CoreLeftClosure> core_left_;
    nrtq_delivery delivery_ = NRTQ_DELIVERY_CALLBACK;
    bool pipeline_ = false;
};

} // namespace nrtq

#endif /* NRTQ_HPP */
