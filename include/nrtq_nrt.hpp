/*
 * nrtq_nrt.hpp: libnrt helpers for nrtq.hpp users, so a C++ program never handles a
 * void *: nrtq::Model (nrt_load / nrt_unload, tensor info) and nrtq::TensorSet (a model's
 * inputs or outputs, allocated from its tensor info, written and read by name or index).
 *
 * Separate from nrtq.hpp because it includes libnrt's headers and calls libnrt itself:
 * build with libnrt's include directory and link -lnrt, e.g. against the emulator in the
 * nrtq source tree
 *
 *     c++ -std=c++17 -I<nrtq>/nrt-emu/include app.cpp $(pkg-config --cflags --libs nrtq) \
 *         -L<nrtq>/target/debug/emu/2.30 -Wl,-rpath,<nrtq>/target/debug/emu/2.30 -lnrt
 *
 * or against a Neuron install with -I/opt/aws/neuron/include -L/opt/aws/neuron/lib -lnrt.
 *
 * Errors: a failed libnrt call throws nrtq::Error with status NRTQ_ERR_RUNTIME and the
 * raw NRT_STATUS in nrt_status(); a bad argument (unknown tensor name, index or size
 * mismatch, unreadable file) throws NRTQ_ERR_INVALID naming the tensor and why.
 *
 * Lifetimes: a Model and a TensorSet keep the Runtime they were made with open (libnrt
 * must not close under them); a Queue keeps its Model loaded. A TensorSet given to a
 * submit must stay alive, and must not be written, until that request has completed.
 * Writing and reading a TensorSet from several threads at once is not synchronised.
 */
#ifndef NRTQ_NRT_HPP
#define NRTQ_NRT_HPP

#include "nrtq.hpp"

#include <nrt/nrt.h>
// libnrt's nrt_tensor_info_array_t ends in a C flexible array member, which ISO C++ lacks
// (g++ and clang++ accept it as an extension): keep -Wpedantic users building.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#endif
#include <nrt/nrt_experimental.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>

namespace nrtq {

/** One input or output of a model, from nrt_get_model_tensor_info. */
struct TensorInfo {
    std::string name;             /* the key the model expects in a tensor set */
    bool input = true;            /* input (read by the model) or output (written) */
    std::size_t size = 0;         /* bytes */
    nrt_dtype_t dtype = NRT_DTYPE_UNKNOWN;
    std::vector<std::uint32_t> shape;
};

namespace detail {

inline void check_nrt(NRT_STATUS status, const std::string &call) {
    if (status != NRT_SUCCESS)
        throw Error(NRTQ_ERR_RUNTIME, static_cast<std::uint32_t>(status), call,
                    "libnrt returned NRT status " + std::to_string(static_cast<int>(status)));
}

/** Bytes per element of a dtype, 0 when unknown. */
inline std::size_t dtype_bytes(nrt_dtype_t dtype) noexcept {
    switch (dtype) {
    case NRT_DTYPE_INT8:
    case NRT_DTYPE_UINT8:
    case NRT_DTYPE_FP8_E3:
    case NRT_DTYPE_FP8_E4:
    case NRT_DTYPE_FP8_E5: return 1;
    case NRT_DTYPE_INT16:
    case NRT_DTYPE_UINT16:
    case NRT_DTYPE_BFLOAT16:
    case NRT_DTYPE_FLOAT16: return 2;
    case NRT_DTYPE_INT32:
    case NRT_DTYPE_UINT32:
    case NRT_DTYPE_FLOAT32:
    case NRT_DTYPE_FP32R: return 4;
    case NRT_DTYPE_INT64:
    case NRT_DTYPE_UINT64: return 8;
    default: return 0;
    }
}

} // namespace detail

/** A model loaded with nrt_load, unloaded when the last owner (Model, Queue) goes. */
class Model {
public:
    using handle_kind = detail::model_kind;

    /** Load the model file at `path` onto logical core `vnc` (-1: libnrt picks). The
     *  runtime must have initialised libnrt (Runtime(true)) or the application did. */
    Model(const Runtime &runtime, const std::string &path, std::int32_t vnc = -1) {
        std::ifstream file(path, std::ios::binary);
        if (!file)
            throw Error(NRTQ_ERR_INVALID, 0, "nrtq::Model", "cannot open " + path + ": " + std::strerror(errno));
        std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
        if (file.bad()) throw Error(NRTQ_ERR_INVALID, 0, "nrtq::Model", "cannot read " + path);
        load(runtime, bytes, vnc, "nrt_load(" + path + ")");
    }
    /** Load a model from its bytes (not kept after the call). */
    Model(const Runtime &runtime, const std::vector<char> &bytes, std::int32_t vnc = -1) {
        load(runtime, bytes, vnc, "nrt_load");
    }

    Model(Model &&) noexcept = default;
    Model &operator=(Model &&) noexcept = default;
    Model(const Model &) = delete;
    Model &operator=(const Model &) = delete;

    /** Inputs in the model's order, then outputs. */
    const std::vector<TensorInfo> &tensors() const { return core().tensors; }
    /** The logical core the model is loaded on. */
    std::uint32_t vnc() const { return core().vnc; }
    /** The tensor called `name`; Error(NRTQ_ERR_INVALID) naming the model's tensors if none. */
    const TensorInfo &tensor(std::string_view name) const {
        for (const TensorInfo &t : core().tensors)
            if (t.name == name) return t;
        std::string known;
        for (const TensorInfo &t : core().tensors) known += (known.empty() ? "" : ", ") + t.name;
        throw Error(NRTQ_ERR_INVALID, 0, "nrtq::Model::tensor",
                    "the model has no tensor named '" + std::string(name) + "' (it has " + known + ")");
    }

    nrt_model_t *native_handle() const noexcept { return core_ ? core_->model : nullptr; }
    /** Keeps the model loaded (and its runtime open): Queue holds one. */
    std::shared_ptr<void> lifetime() const noexcept { return core_; }

private:
    struct Core {
        nrt_model_t *model = nullptr;
        std::shared_ptr<void> runtime;
        std::vector<TensorInfo> tensors;
        std::uint32_t vnc = 0;
        Core() = default;
        Core(const Core &) = delete;
        Core &operator=(const Core &) = delete;
        ~Core() {
            if (model == nullptr) return;
            NRT_STATUS status = nrt_unload(model);
            if (status != NRT_SUCCESS) std::fprintf(stderr, "nrtq: nrt_unload failed: NRT status %d\n", (int)status);
        }
    };

    const Core &core() const {
        if (!core_) throw Error(NRTQ_ERR_NULL, 0, "nrtq::Model", "this Model was moved from");
        return *core_;
    }

    void load(const Runtime &runtime, const std::vector<char> &bytes, std::int32_t vnc, const std::string &call) {
        auto core = std::make_shared<Core>();
        core->runtime = runtime.lifetime();
        if (!core->runtime) throw Error(NRTQ_ERR_NULL, 0, "nrtq::Model", "the Runtime was moved from");
        detail::check_nrt(nrt_load(bytes.data(), bytes.size(), vnc, -1, &core->model), call);
        nrt_model_info_t info{};
        std::size_t written = 0;
        detail::check_nrt(nrt_get_model_info(core->model, &info, sizeof info, &written), "nrt_get_model_info");
        core->vnc = info.vnc;
        nrt_tensor_info_array_t *array = nullptr;
        detail::check_nrt(nrt_get_model_tensor_info(core->model, &array), "nrt_get_model_tensor_info");
        // Copy, then free the runtime's array even if a copy throws.
        std::unique_ptr<nrt_tensor_info_array_t, NRT_STATUS (*)(nrt_tensor_info_array_t *)> owned(
            array, &nrt_free_model_tensor_info);
        for (std::uint64_t i = 0; i < array->tensor_count; i++) {
            const nrt_tensor_info_t &raw = array->tensor_array[i];
            TensorInfo t;
            t.name = std::string(raw.name, strnlen(raw.name, sizeof raw.name));
            t.input = raw.usage == NRT_TENSOR_USAGE_INPUT;
            t.size = raw.size;
            t.dtype = raw.dtype;
            if (raw.shape != nullptr) t.shape.assign(raw.shape, raw.shape + raw.ndim);
            core->tensors.push_back(std::move(t));
        }
        core_ = std::move(core);
    }

    std::shared_ptr<Core> core_;
};

/**
 * A model's inputs (or outputs) as one tensor set: a device tensor per model tensor, of
 * the size its tensor info gives, on the model's core, added under the model's name.
 */
class TensorSet {
public:
    using handle_kind = detail::tensor_set_kind;

    static TensorSet inputs_of(const Model &model) { return TensorSet(model, true); }
    static TensorSet outputs_of(const Model &model) { return TensorSet(model, false); }

    TensorSet(TensorSet &&) noexcept = default;
    TensorSet &operator=(TensorSet &&) noexcept = default;
    TensorSet(const TensorSet &) = delete;
    TensorSet &operator=(const TensorSet &) = delete;

    /** How many tensors the set holds. */
    std::size_t size() const { return core().infos.size(); }
    /** Tensor `index`'s info (Error(NRTQ_ERR_INVALID) when out of range). */
    const TensorInfo &info(std::size_t index) const { return core().infos[checked(index)]; }
    /** The index of the tensor called `name` (Error(NRTQ_ERR_INVALID) naming the set's tensors). */
    std::size_t index_of(std::string_view name) const {
        const Core &c = core();
        for (std::size_t i = 0; i < c.infos.size(); i++)
            if (c.infos[i].name == name) return i;
        std::string known;
        for (const TensorInfo &t : c.infos) known += (known.empty() ? "" : ", ") + t.name;
        throw Error(NRTQ_ERR_INVALID, 0, "nrtq::TensorSet",
                    "no tensor named '" + std::string(name) + "' among the model's " + kind() + " (" + known + ")");
    }

    /** Write `count` elements at element `offset` of tensor `index` (nrt_tensor_write). */
    template <class T> void write(std::size_t index, const T *data, std::size_t count, std::size_t offset = 0) {
        const std::size_t bytes = span_bytes<T>(index, count, offset, "write");
        detail::check_nrt(nrt_tensor_write(core().tensors[index], data, offset * sizeof(T), bytes),
                          "nrt_tensor_write(" + core().infos[index].name + ")");
    }
    template <class T> void write(std::string_view name, const T *data, std::size_t count, std::size_t offset = 0) {
        write(index_of(name), data, count, offset);
    }
    /** Write the whole tensor from `values` (its byte size must match the tensor's). */
    template <class T> void write(std::size_t index, const std::vector<T> &values) {
        whole<T>(index, values.size(), "write");
        write(index, values.data(), values.size());
    }
    template <class T> void write(std::string_view name, const std::vector<T> &values) {
        write(index_of(name), values);
    }

    /** Read `count` elements at element `offset` of tensor `index` into `out` (nrt_tensor_read). */
    template <class T> void read(std::size_t index, T *out, std::size_t count, std::size_t offset = 0) const {
        const std::size_t bytes = span_bytes<T>(index, count, offset, "read");
        detail::check_nrt(nrt_tensor_read(core().tensors[index], out, offset * sizeof(T), bytes),
                          "nrt_tensor_read(" + core().infos[index].name + ")");
    }
    template <class T> void read(std::string_view name, T *out, std::size_t count, std::size_t offset = 0) const {
        read(index_of(name), out, count, offset);
    }
    /** The whole tensor as elements of T (its byte size must be a multiple of sizeof(T)). */
    template <class T> std::vector<T> read(std::size_t index) const {
        const std::size_t count = info(index).size / sizeof(T);
        whole<T>(index, count, "read");
        std::vector<T> out(count);
        read(index, out.data(), count);
        return out;
    }
    template <class T> std::vector<T> read(std::string_view name) const { return read<T>(index_of(name)); }

    nrt_tensor_set_t *native_handle() const noexcept { return core_ ? core_->set : nullptr; }

private:
    struct Core {
        nrt_tensor_set_t *set = nullptr;
        std::vector<nrt_tensor_t *> tensors;
        std::vector<TensorInfo> infos;
        bool inputs = true;
        std::shared_ptr<void> runtime; // libnrt must stay open until the tensors are freed
        Core() = default;
        Core(const Core &) = delete;
        Core &operator=(const Core &) = delete;
        ~Core() {
            if (set != nullptr) nrt_destroy_tensor_set(&set);
            for (nrt_tensor_t *&t : tensors)
                if (t != nullptr) nrt_tensor_free(&t);
        }
    };

    TensorSet(const Model &model, bool inputs) : core_(std::make_unique<Core>()) {
        core_->inputs = inputs;
        core_->runtime = model.lifetime(); // the model's lifetime holds the runtime's
        if (!core_->runtime) throw Error(NRTQ_ERR_NULL, 0, "nrtq::TensorSet", "the Model was moved from");
        detail::check_nrt(nrt_allocate_tensor_set(&core_->set), "nrt_allocate_tensor_set");
        for (const TensorInfo &t : model.tensors()) {
            if (t.input != inputs) continue;
            nrt_tensor_t *tensor = nullptr;
            detail::check_nrt(nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, static_cast<int>(model.vnc()), t.size,
                                                  t.name.c_str(), &tensor),
                              "nrt_tensor_allocate(" + t.name + ")");
            core_->tensors.push_back(tensor);
            core_->infos.push_back(t);
            detail::check_nrt(nrt_add_tensor_to_tensor_set(core_->set, t.name.c_str(), tensor),
                              "nrt_add_tensor_to_tensor_set(" + t.name + ")");
        }
    }

    const Core &core() const {
        if (!core_) throw Error(NRTQ_ERR_NULL, 0, "nrtq::TensorSet", "this TensorSet was moved from");
        return *core_;
    }
    std::string kind() const { return core().inputs ? "inputs" : "outputs"; }

    std::size_t checked(std::size_t index) const {
        if (index >= core().infos.size())
            throw Error(NRTQ_ERR_INVALID, 0, "nrtq::TensorSet",
                        "tensor index " + std::to_string(index) + " is out of range: the model has " +
                            std::to_string(core().infos.size()) + " " + kind());
        return index;
    }

    /** Check T against the tensor's dtype and [offset, offset+count) against its size. */
    template <class T>
    std::size_t span_bytes(std::size_t index, std::size_t count, std::size_t offset, const char *what) const {
        static_assert(std::is_trivially_copyable_v<T>, "tensor elements must be trivially copyable");
        const TensorInfo &t = info(index);
        const std::size_t element = detail::dtype_bytes(t.dtype);
        const bool raw_bytes = sizeof(T) == 1;
        if (element != 0 && !raw_bytes && element != sizeof(T))
            throw Error(NRTQ_ERR_INVALID, 0, std::string("nrtq::TensorSet::") + what,
                        "tensor '" + t.name + "' has " + std::to_string(element) + "-byte elements, not " +
                            std::to_string(sizeof(T)) + "-byte ones");
        if (offset > t.size / sizeof(T) || count > t.size / sizeof(T) - offset)
            throw Error(NRTQ_ERR_INVALID, 0, std::string("nrtq::TensorSet::") + what,
                        "elements [" + std::to_string(offset) + ", " + std::to_string(offset + count) +
                            ") do not fit tensor '" + t.name + "' of " + std::to_string(t.size) + " bytes");
        return count * sizeof(T);
    }

    template <class T> void whole(std::size_t index, std::size_t count, const char *what) const {
        const TensorInfo &t = info(index);
        if (count * sizeof(T) != t.size)
            throw Error(NRTQ_ERR_INVALID, 0, std::string("nrtq::TensorSet::") + what,
                        "tensor '" + t.name + "' is " + std::to_string(t.size) + " bytes, not " +
                            std::to_string(count * sizeof(T)) + " (" + std::to_string(count) + " x " +
                            std::to_string(sizeof(T)) + ")");
    }

    std::unique_ptr<Core> core_;
};

} // namespace nrtq

#endif /* NRTQ_NRT_HPP */
