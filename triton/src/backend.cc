// backend.cc: the Triton entry points of libtriton_nrtq.so.
//
// Life cycle (Triton's backend API):
//   TRITONBACKEND_Initialize        open nrtq's runtime (nrt_init) once for the process
//   TRITONBACKEND_ModelInitialize   read config.pbtxt (as JSON), load the model on its cores
//                                   through an Executor, check the config against the
//                                   model's tensors
//   TRITONBACKEND_ModelInstanceExecute
//                                   per request: map its input buffers and its response's
//                                   output buffers, hand both to the Executor, return at once;
//                                   the statistics are reported, the response sent and the
//                                   request released from nrtq's completion thread
//   TRITONBACKEND_ModelFinalize     the Executor's destructor answers every request left
//
// A batch from Triton's dynamic batcher runs as one device execution per request (the
// model is compiled for one item); its batch statistics are reported once, when its last
// request completes.
#include "executor.h"
#include "json.h"
#include "triton_api.h"

#include <atomic>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace triton_nrtq {
namespace {

void log(TRITONSERVER_LogLevel level, int line, const std::string &message) {
    if (!TRITONSERVER_LogIsEnabled(level)) return;
    TRITONSERVER_Error *err = TRITONSERVER_LogMessage(level, "nrtq/backend.cc", line, message.c_str());
    if (err != nullptr) TRITONSERVER_ErrorDelete(err);
}
#define NRTQ_LOG(level, message) log(level, __LINE__, (message))

/** Logs and frees an error returned where nobody can take it (completion thread). */
void log_error(TRITONSERVER_Error *err, const char *what) {
    if (err == nullptr) return;
    NRTQ_LOG(TRITONSERVER_LOG_ERROR, std::string(what) + ": " + TRITONSERVER_ErrorMessage(err));
    TRITONSERVER_ErrorDelete(err);
}

TRITONSERVER_Error *error(TRITONSERVER_Error_Code code, const std::string &message) {
    return TRITONSERVER_ErrorNew(code, message.c_str());
}

/** Thrown inside the backend to become a TRITONSERVER_Error at the entry point. */
struct Failure {
    TRITONSERVER_Error_Code code;
    std::string message;
};

/** Turns a Triton call's error into a Failure (taking ownership of it). */
void check(TRITONSERVER_Error *err, const std::string &call) {
    if (err == nullptr) return;
    Failure f{TRITONSERVER_ERROR_INTERNAL, call + ": " + TRITONSERVER_ErrorMessage(err)};
    TRITONSERVER_ErrorDelete(err);
    throw f;
}

/** Runs an entry point's body, mapping every exception to a Triton error: nothing throws
 *  across the C boundary. */
template <class F> TRITONSERVER_Error *guarded(const char *entry, F &&body) noexcept {
    try {
        body();
        return nullptr;
    } catch (const Failure &f) {
        return error(f.code, std::string(entry) + ": " + f.message);
    } catch (const nrtq::Error &e) {
        return error(TRITONSERVER_ERROR_INTERNAL, std::string(entry) + ": " + e.what());
    } catch (const std::exception &e) {
        return error(TRITONSERVER_ERROR_INTERNAL, std::string(entry) + ": " + e.what());
    } catch (...) {
        return error(TRITONSERVER_ERROR_INTERNAL, std::string(entry) + ": an unknown exception");
    }
}

/** The Triton error code a failed request is answered with. */
TRITONSERVER_Error_Code code_for(nrtq_status status) {
    switch (status) {
    case NRTQ_ERR_INVALID:
    case NRTQ_ERR_NULL: return TRITONSERVER_ERROR_INVALID_ARG;
    case NRTQ_ERR_QUEUE_FAILED:
    case NRTQ_ERR_CLOSED:
    case NRTQ_ERR_DEADLINE:
    case NRTQ_BACKLOG_FULL: return TRITONSERVER_ERROR_UNAVAILABLE;
    case NRTQ_ERR_CANCELLED: return TRITONSERVER_ERROR_CANCELLED;
    default: return TRITONSERVER_ERROR_INTERNAL;
    }
}

struct DataType {
    const char *config;  // config.pbtxt's data_type
    TRITONSERVER_DataType triton;
    nrt_dtype_t nrt;
};
const DataType kDataTypes[] = {
    {"TYPE_FP32", TRITONSERVER_TYPE_FP32, NRT_DTYPE_FLOAT32},  {"TYPE_FP16", TRITONSERVER_TYPE_FP16, NRT_DTYPE_FLOAT16},
    {"TYPE_BF16", TRITONSERVER_TYPE_BF16, NRT_DTYPE_BFLOAT16}, {"TYPE_INT8", TRITONSERVER_TYPE_INT8, NRT_DTYPE_INT8},
    {"TYPE_UINT8", TRITONSERVER_TYPE_UINT8, NRT_DTYPE_UINT8},  {"TYPE_INT16", TRITONSERVER_TYPE_INT16, NRT_DTYPE_INT16},
    {"TYPE_UINT16", TRITONSERVER_TYPE_UINT16, NRT_DTYPE_UINT16}, {"TYPE_INT32", TRITONSERVER_TYPE_INT32, NRT_DTYPE_INT32},
    {"TYPE_UINT32", TRITONSERVER_TYPE_UINT32, NRT_DTYPE_UINT32}, {"TYPE_INT64", TRITONSERVER_TYPE_INT64, NRT_DTYPE_INT64},
    {"TYPE_UINT64", TRITONSERVER_TYPE_UINT64, NRT_DTYPE_UINT64},
};

const DataType *data_type_of(const std::string &config_name) {
    for (const DataType &t : kDataTypes)
        if (config_name == t.config) return &t;
    return nullptr;
}

/** One core number of the `cores` parameter, or -1 if `text` is not one (0-4095). */
int core_number(const std::string &text) {
    if (text.empty() || text.size() > 4 || text.find_first_not_of("0123456789") != std::string::npos) return -1;
    const int n = std::stoi(text);
    return n <= 4095 ? n : -1;
}

/** "0-3,6" -> {0,1,2,3,6}. */
std::vector<int> parse_cores(const std::string &text) {
    const auto malformed = [&text]() {
        return Failure{TRITONSERVER_ERROR_INVALID_ARG,
                       "parameter 'cores' = '" + text +
                           "': expected logical core numbers (0-4095) and ranges such as \"0\", \"0,1\" or \"0-7\""};
    };
    std::vector<int> cores;
    std::stringstream items(text);
    std::string item;
    while (std::getline(items, item, ',')) {
        const std::size_t dash = item.find('-');
        const int first = core_number(item.substr(0, dash));
        const int last = dash == std::string::npos ? first : core_number(item.substr(dash + 1));
        if (first < 0 || last < first) throw malformed();
        for (int c = first; c <= last; c++) {
            for (int seen : cores)
                if (seen == c)
                    throw Failure{TRITONSERVER_ERROR_INVALID_ARG,
                                  "parameter 'cores' = '" + text + "' names NeuronCore " + std::to_string(c) + " twice"};
            cores.push_back(c);
        }
    }
    if (cores.empty()) throw malformed();
    return cores;
}

bool file_exists(const std::string &path) { return std::ifstream(path).good(); }

struct BackendState {
    nrtq::Runtime runtime;
};
/** Set by TRITONBACKEND_Initialize, cleared by TRITONBACKEND_Finalize; Triton calls every
 *  model's initialisation between the two. */
BackendState *g_backend = nullptr;

/** One configured tensor: config.pbtxt's view checked against the model's. */
struct TensorSpec {
    std::string name;
    const DataType *type = nullptr;
    std::vector<std::int64_t> dims;  // without the batch dimension
    std::size_t bytes = 0;
};

/** One model: its configuration and its Executor, shared by all of its instances. */
struct ModelState {
    TRITONBACKEND_Model *model = nullptr;
    TRITONSERVER_Server *server = nullptr;
    std::string name;
    bool batched = false;               // max_batch_size > 0: tensors carry a leading batch dim of 1
    std::vector<TensorSpec> inputs;     // in the model's input order
    std::vector<TensorSpec> outputs;    // in the model's output order
    std::unique_ptr<Executor> executor;
    std::atomic<bool> unloading_requested{false};
};

/** The batch statistics of one Execute call, reported when its last request completes. */
struct BatchStats {
    TRITONBACKEND_ModelInstance *instance;
    std::uint64_t exec_start_ns;
    std::mutex lock;
    std::size_t pending = 0;
    std::uint64_t size = 0;
    std::uint64_t compute_start_ns = UINT64_MAX, compute_end_ns = 0;

    /** One request finished; reports the batch when it was the last. Call before the
     *  request is released (the instance must still be alive). */
    void finish(const Outcome &outcome) {
        std::uint64_t start = 0, end = 0, n = 0;
        {
            std::lock_guard<std::mutex> guard(lock);
            if (outcome.compute_start_ns != 0 && outcome.compute_start_ns < compute_start_ns)
                compute_start_ns = outcome.compute_start_ns;
            if (outcome.compute_end_ns > compute_end_ns) compute_end_ns = outcome.compute_end_ns;
            if (--pending != 0) return;
            start = compute_start_ns == UINT64_MAX ? exec_start_ns : compute_start_ns;
            end = compute_end_ns == 0 ? start : compute_end_ns;
            n = size;
        }
        if (n == 0) return;
        log_error(TRITONBACKEND_ModelInstanceReportBatchStatistics(instance, n, exec_start_ns, start, end, now_ns()),
                  "TRITONBACKEND_ModelInstanceReportBatchStatistics");
    }
};

std::string request_label(TRITONBACKEND_Request *request) {
    const char *id = nullptr;
    if (TRITONSERVER_Error *err = TRITONBACKEND_RequestId(request, &id)) TRITONSERVER_ErrorDelete(err);
    return id != nullptr && id[0] != '\0' ? std::string("request '") + id + "'" : std::string("request");
}

/** Answers a request that never reached a core, and releases it. */
void refuse(TRITONBACKEND_ModelInstance *instance, TRITONBACKEND_Request *request, TRITONBACKEND_Response *response,
            std::uint64_t exec_start_ns, TRITONSERVER_Error_Code code, const std::string &message) {
    if (response == nullptr) {
        if (TRITONSERVER_Error *err = TRITONBACKEND_ResponseNew(&response, request)) {
            log_error(err, "TRITONBACKEND_ResponseNew");
            response = nullptr;
        }
    }
    // Statistics before the response, as for executed requests.
    const std::uint64_t now = now_ns();
    log_error(TRITONBACKEND_ModelInstanceReportStatistics(instance, request, false, exec_start_ns, now, now, now),
              "TRITONBACKEND_ModelInstanceReportStatistics");
    if (response != nullptr) {
        // ResponseSend does not take the error: it stays ours to delete.
        TRITONSERVER_Error *answer = error(code, message);
        log_error(TRITONBACKEND_ResponseSend(response, TRITONSERVER_RESPONSE_COMPLETE_FINAL, answer),
                  "TRITONBACKEND_ResponseSend");
        TRITONSERVER_ErrorDelete(answer);
    }
    log_error(TRITONBACKEND_RequestRelease(request, TRITONSERVER_REQUEST_RELEASE_ALL), "TRITONBACKEND_RequestRelease");
}

/** Builds the Job of one request: its input buffers, its response's output buffers.
 *  Throws Failure (the request is then refused with that message). */
Job job_for(const ModelState &state, TRITONBACKEND_Request *request, TRITONBACKEND_Response *response) {
    Job job;
    job.inputs.resize(state.inputs.size());
    for (std::size_t k = 0; k < state.inputs.size(); k++) {
        const TensorSpec &spec = state.inputs[k];
        TRITONBACKEND_Input *input = nullptr;
        if (TRITONSERVER_Error *err = TRITONBACKEND_RequestInput(request, spec.name.c_str(), &input)) {
            TRITONSERVER_ErrorDelete(err);
            throw Failure{TRITONSERVER_ERROR_INVALID_ARG, "input '" + spec.name + "' is missing"};
        }
        TRITONSERVER_DataType type{};
        const std::int64_t *shape = nullptr;
        std::uint32_t dims = 0, buffers = 0;
        std::uint64_t bytes = 0;
        check(TRITONBACKEND_InputProperties(input, nullptr, &type, &shape, &dims, &bytes, &buffers),
              "TRITONBACKEND_InputProperties");
        if (type != spec.type->triton)
            throw Failure{TRITONSERVER_ERROR_INVALID_ARG,
                          "input '" + spec.name + "' must be " + std::string(spec.type->config + 5)};
        if (state.batched && (dims == 0 || shape[0] != 1))
            throw Failure{TRITONSERVER_ERROR_INVALID_ARG,
                          "input '" + spec.name +
                              "' has a batch dimension other than 1: this backend runs one device execution per "
                              "request, so each request carries one item (Triton's dynamic batcher groups them)"};
        if (bytes != spec.bytes)
            throw Failure{TRITONSERVER_ERROR_INVALID_ARG, "input '" + spec.name + "' is " + std::to_string(bytes) +
                                                              " bytes; the model takes " + std::to_string(spec.bytes)};
        for (std::uint32_t b = 0; b < buffers; b++) {
            const void *data = nullptr;
            std::uint64_t size = 0;
            TRITONSERVER_MemoryType memory = TRITONSERVER_MEMORY_CPU;
            std::int64_t memory_id = 0;
            check(TRITONBACKEND_InputBuffer(input, b, &data, &size, &memory, &memory_id), "TRITONBACKEND_InputBuffer");
            if (memory == TRITONSERVER_MEMORY_GPU)
                throw Failure{TRITONSERVER_ERROR_UNSUPPORTED, "input '" + spec.name + "' is in GPU memory"};
            job.inputs[k].push_back(HostBytes{data, static_cast<std::size_t>(size)});
        }
    }
    job.outputs.resize(state.outputs.size());
    std::uint32_t requested = 0;
    check(TRITONBACKEND_RequestOutputCount(request, &requested), "TRITONBACKEND_RequestOutputCount");
    for (std::uint32_t r = 0; r < requested; r++) {
        const char *name = nullptr;
        check(TRITONBACKEND_RequestOutputName(request, r, &name), "TRITONBACKEND_RequestOutputName");
        std::size_t k = 0;
        while (k < state.outputs.size() && state.outputs[k].name != name) k++;
        if (k == state.outputs.size())
            throw Failure{TRITONSERVER_ERROR_INVALID_ARG, std::string("the model has no output '") + name + "'"};
        const TensorSpec &spec = state.outputs[k];
        std::vector<std::int64_t> shape;
        if (state.batched) shape.push_back(1);
        shape.insert(shape.end(), spec.dims.begin(), spec.dims.end());
        TRITONBACKEND_Output *output = nullptr;
        check(TRITONBACKEND_ResponseOutput(response, &output, spec.name.c_str(), spec.type->triton, shape.data(),
                                           static_cast<std::uint32_t>(shape.size())),
              "TRITONBACKEND_ResponseOutput");
        void *buffer = nullptr;
        TRITONSERVER_MemoryType memory = TRITONSERVER_MEMORY_CPU;
        std::int64_t memory_id = 0;
        check(TRITONBACKEND_OutputBuffer(output, &buffer, spec.bytes, &memory, &memory_id), "TRITONBACKEND_OutputBuffer");
        if (memory == TRITONSERVER_MEMORY_GPU)
            throw Failure{TRITONSERVER_ERROR_UNSUPPORTED, "Triton gave output '" + spec.name + "' GPU memory"};
        job.outputs[k] = HostBuffer{buffer, spec.bytes};
    }
    return job;
}

/** Reads config.pbtxt's tensors (`input` or `output`) and checks them against the model. */
std::vector<TensorSpec> configured_tensors(const json::Value &config, const char *key,
                                           const std::vector<nrtq::TensorInfo> &model_tensors, bool inputs) {
    std::vector<TensorSpec> specs;
    for (const nrtq::TensorInfo &t : model_tensors) {
        if (t.input != inputs) continue;
        const json::Value *found = nullptr;
        for (const json::Value &c : config[key].items)
            if (c["name"].text == t.name) found = &c;
        if (found == nullptr) {
            if (inputs)
                throw Failure{TRITONSERVER_ERROR_INVALID_ARG,
                              "config.pbtxt has no input '" + t.name + "', which the model reads"};
            continue;  // an output the configuration does not offer is never requested
        }
        TensorSpec spec;
        spec.name = t.name;
        spec.type = data_type_of((*found)["data_type"].text);
        if (spec.type == nullptr || spec.type->nrt != t.dtype)
            throw Failure{TRITONSERVER_ERROR_INVALID_ARG,
                          std::string(key) + " '" + t.name + "': data_type " + (*found)["data_type"].text +
                              " does not match the model's tensor"};
        std::size_t elements = 1;
        for (const json::Value &d : (*found)["dims"].items) {
            const long long dim = d.as_int(-1);
            if (dim <= 0)
                throw Failure{TRITONSERVER_ERROR_INVALID_ARG,
                              std::string(key) + " '" + t.name + "': every dimension must be fixed and positive"};
            spec.dims.push_back(dim);
            elements *= static_cast<std::size_t>(dim);
        }
        spec.bytes = elements * nrtq::detail::dtype_bytes(t.dtype);
        if (spec.bytes != t.size)
            throw Failure{TRITONSERVER_ERROR_INVALID_ARG,
                          std::string(key) + " '" + t.name + "': dims give " + std::to_string(spec.bytes) +
                              " bytes, the model's tensor is " + std::to_string(t.size)};
        specs.push_back(std::move(spec));
    }
    for (const json::Value &c : config[key].items) {
        bool known = false;
        for (const TensorSpec &s : specs) known = known || s.name == c["name"].text;
        if (!known)
            throw Failure{TRITONSERVER_ERROR_INVALID_ARG,
                          std::string(key) + " '" + c["name"].text + "' is not one of the model's " +
                              (inputs ? "inputs" : "outputs")};
    }
    return specs;
}

std::string parameter(const json::Value &config, const char *key) { return config["parameters"][key]["string_value"].text; }

unsigned unsigned_parameter(const json::Value &config, const char *key, unsigned fallback, unsigned max) {
    const std::string text = parameter(config, key);
    if (text.empty()) return fallback;
    try {
        std::size_t used = 0;
        const unsigned long v = std::stoul(text, &used);
        if (used == text.size() && v >= 1 && v <= max) return static_cast<unsigned>(v);
    } catch (const std::exception &) {
    }
    throw Failure{TRITONSERVER_ERROR_INVALID_ARG,
                  std::string("parameter '") + key + "' = '" + text + "': expected 1-" + std::to_string(max)};
}

void initialize_model(TRITONBACKEND_Model *model) {
    auto state = std::make_unique<ModelState>();
    state->model = model;
    const char *name = nullptr;
    check(TRITONBACKEND_ModelName(model, &name), "TRITONBACKEND_ModelName");
    state->name = name;
    std::uint64_t version = 0;
    check(TRITONBACKEND_ModelVersion(model, &version), "TRITONBACKEND_ModelVersion");
    TRITONBACKEND_ArtifactType artifact{};
    const char *location = nullptr;
    check(TRITONBACKEND_ModelRepository(model, &artifact, &location), "TRITONBACKEND_ModelRepository");
    check(TRITONBACKEND_ModelServer(model, &state->server), "TRITONBACKEND_ModelServer");

    TRITONSERVER_Message *message = nullptr;
    check(TRITONBACKEND_ModelConfig(model, 1, &message), "TRITONBACKEND_ModelConfig");
    const char *base = nullptr;
    std::size_t size = 0;
    TRITONSERVER_Error *err = TRITONSERVER_MessageSerializeToJson(message, &base, &size);
    std::string text = err == nullptr ? std::string(base, size) : std::string();
    log_error(TRITONSERVER_MessageDelete(message), "TRITONSERVER_MessageDelete");
    check(err, "TRITONSERVER_MessageSerializeToJson");
    const json::Value config = json::parse(text);

    state->batched = config["max_batch_size"].as_int(0) > 0;
    const std::string dir = std::string(location) + "/" + std::to_string(version) + "/";
    std::string file = parameter(config, "model_file");
    if (file.empty()) file = file_exists(dir + "model.neff") ? "model.neff" : "model.nrtm";
    if (!file_exists(dir + file))
        throw Failure{TRITONSERVER_ERROR_NOT_FOUND,
                      "no model file " + dir + file + " (set parameter 'model_file', or add model.neff / model.nrtm)"};

    ExecutorOptions options;
    const std::string model_path = dir + file;
    options.model_path = model_path;
    std::uint32_t visible = 0;
    const NRT_STATUS counted = nrt_get_visible_nc_count(&visible);
    if (counted != NRT_SUCCESS || visible == 0)
        throw Failure{TRITONSERVER_ERROR_UNAVAILABLE, "libnrt reports no visible NeuronCore (NRT status " +
                                                          std::to_string(static_cast<int>(counted)) + ")"};
    std::string cores = parameter(config, "cores");
    if (cores.empty()) cores = "0-" + std::to_string(visible - 1);
    options.cores = parse_cores(cores);
    for (int core : options.cores)
        if (static_cast<std::uint32_t>(core) >= visible)
            throw Failure{TRITONSERVER_ERROR_INVALID_ARG,
                          "parameter 'cores' names NeuronCore " + std::to_string(core) + ", but this process sees " +
                              std::to_string(visible) + " (0-" + std::to_string(visible - 1) +
                              "; NEURON_RT_VISIBLE_CORES and NEURON_RT_NUM_CORES decide which)"};
    options.slots_per_core = unsigned_parameter(config, "slots_per_core", 8, 1024);
    options.queue_depth = unsigned_parameter(config, "queue_depth", 3, 1024);
    ModelState *raw = state.get();
    options.on_core_lost = [raw](int core, nrtq_status status, std::uint32_t nrt_status, std::size_t live) {
        NRTQ_LOG(TRITONSERVER_LOG_ERROR, "model '" + raw->name + "': NeuronCore " + std::to_string(core) +
                                             " left service (" + nrtq_status_str(status) + ", NRT status " +
                                             std::to_string(nrt_status) + "); " + std::to_string(live) +
                                             " core(s) still serving");
    };
    options.on_all_cores_lost = [raw]() {
        // Triton has no call that marks a model unready: ask the server to unload it, so
        // that the model's readiness says so (the server's /v2/health/ready does not count
        // unloaded models). Triton refuses this outside --model-control-mode=explicit;
        // requests then keep failing with UNAVAILABLE, which the log line says.
        if (raw->unloading_requested.exchange(true)) return;
        TRITONSERVER_Error *unload = TRITONSERVER_ServerUnloadModel(raw->server, raw->name.c_str());
        if (unload == nullptr) {
            NRTQ_LOG(TRITONSERVER_LOG_ERROR,
                     "model '" + raw->name + "': every NeuronCore has failed; the model is being unloaded");
        } else {
            NRTQ_LOG(TRITONSERVER_LOG_ERROR, "model '" + raw->name +
                                                 "': every NeuronCore has failed and Triton refused to unload it (" +
                                                 TRITONSERVER_ErrorMessage(unload) +
                                                 "); every request now fails with UNAVAILABLE");
            TRITONSERVER_ErrorDelete(unload);
        }
    };

    if (g_backend == nullptr) throw Failure{TRITONSERVER_ERROR_INTERNAL, "the backend is not initialised"};
    state->executor = std::make_unique<Executor>(g_backend->runtime, std::move(options));
    state->inputs = configured_tensors(config, "input", state->executor->tensors(), true);
    state->outputs = configured_tensors(config, "output", state->executor->tensors(), false);
    // Job::outputs is indexed by the model's output order: keep a spec (maybe unrequested)
    // for every model output so that indices line up.
    std::vector<TensorSpec> all_outputs;
    for (const nrtq::TensorInfo &t : state->executor->tensors()) {
        if (t.input) continue;
        TensorSpec spec;
        spec.name = t.name;
        for (const TensorSpec &s : state->outputs)
            if (s.name == t.name) spec = s;
        all_outputs.push_back(std::move(spec));
    }
    state->outputs = std::move(all_outputs);

    NRTQ_LOG(TRITONSERVER_LOG_INFO, "model '" + state->name + "' version " + std::to_string(version) + ": " +
                                        model_path + " on NeuronCores " + cores +
                                        (state->batched ? ", one device execution per batched request" : ""));
    check(TRITONBACKEND_ModelSetState(model, state.get()), "TRITONBACKEND_ModelSetState");
    (void)state.release();
}

} // namespace
} // namespace triton_nrtq

using namespace triton_nrtq;

extern "C" {

TRITONSERVER_Error *TRITONBACKEND_Initialize(TRITONBACKEND_Backend *backend) {
    return guarded("TRITONBACKEND_Initialize", [&] {
        std::uint32_t major = 0, minor = 0;
        check(TRITONBACKEND_ApiVersion(&major, &minor), "TRITONBACKEND_ApiVersion");
        if (major != TRITONBACKEND_API_VERSION_MAJOR || minor < TRITONBACKEND_API_VERSION_MINOR)
            throw Failure{TRITONSERVER_ERROR_UNSUPPORTED,
                          "this Triton has backend API " + std::to_string(major) + "." + std::to_string(minor) +
                              "; libtriton_nrtq needs " + std::to_string(TRITONBACKEND_API_VERSION_MAJOR) + "." +
                              std::to_string(TRITONBACKEND_API_VERSION_MINOR) + " or a later minor"};
        (void)backend;
        // One runtime for the process: libnrt is initialised once, whatever the number of models.
        g_backend = new BackendState{nrtq::Runtime(true)};
        NRTQ_LOG(TRITONSERVER_LOG_INFO, "nrtq " + std::string(nrtq_version()) + " over libnrt " +
                                            g_backend->runtime.version());
    });
}

TRITONSERVER_Error *TRITONBACKEND_Finalize(TRITONBACKEND_Backend *backend) {
    (void)backend;
    return guarded("TRITONBACKEND_Finalize", [&] {
        delete g_backend;
        g_backend = nullptr;
    });
}

TRITONSERVER_Error *TRITONBACKEND_ModelInitialize(TRITONBACKEND_Model *model) {
    return guarded("TRITONBACKEND_ModelInitialize", [&] { initialize_model(model); });
}

TRITONSERVER_Error *TRITONBACKEND_ModelFinalize(TRITONBACKEND_Model *model) {
    return guarded("TRITONBACKEND_ModelFinalize", [&] {
        void *state = nullptr;
        check(TRITONBACKEND_ModelState(model, &state), "TRITONBACKEND_ModelState");
        delete static_cast<ModelState *>(state);
    });
}

TRITONSERVER_Error *TRITONBACKEND_ModelInstanceInitialize(TRITONBACKEND_ModelInstance *instance) {
    // Every instance shares its model's Executor: an instance is only a Triton thread
    // calling Execute, which returns at once, so one instance keeps every core busy.
    (void)instance;
    return nullptr;
}

TRITONSERVER_Error *TRITONBACKEND_ModelInstanceFinalize(TRITONBACKEND_ModelInstance *instance) {
    (void)instance;
    return nullptr;
}

TRITONSERVER_Error *TRITONBACKEND_ModelInstanceExecute(TRITONBACKEND_ModelInstance *instance,
                                                       TRITONBACKEND_Request **requests,
                                                       const uint32_t request_count) {
    const std::uint64_t exec_start = now_ns();
    ModelState *state = nullptr;
    TRITONSERVER_Error *err = guarded("TRITONBACKEND_ModelInstanceExecute", [&] {
        TRITONBACKEND_Model *model = nullptr;
        check(TRITONBACKEND_ModelInstanceModel(instance, &model), "TRITONBACKEND_ModelInstanceModel");
        void *raw = nullptr;
        check(TRITONBACKEND_ModelState(model, &raw), "TRITONBACKEND_ModelState");
        state = static_cast<ModelState *>(raw);
    });
    // From here on every request is ours: each is answered and released exactly once,
    // and Execute itself reports success (Triton's contract once requests are taken).
    auto batch = std::make_shared<BatchStats>();
    batch->instance = instance;
    batch->exec_start_ns = exec_start;
    batch->pending = request_count;
    for (uint32_t r = 0; r < request_count; r++) {
        TRITONBACKEND_Request *request = requests[r];
        if (err != nullptr) {
            refuse(instance, request, nullptr, exec_start, TRITONSERVER_ERROR_INTERNAL, TRITONSERVER_ErrorMessage(err));
            batch->finish(Outcome{});
            continue;
        }
        TRITONBACKEND_Response *response = nullptr;
        Job job;
        try {
            check(TRITONBACKEND_ResponseNew(&response, request), "TRITONBACKEND_ResponseNew");
            job = job_for(*state, request, response);
        } catch (const Failure &f) {
            refuse(instance, request, response, exec_start, f.code, request_label(request) + ": " + f.message);
            batch->finish(Outcome{});
            continue;
        } catch (const std::exception &e) {
            refuse(instance, request, response, exec_start, TRITONSERVER_ERROR_INTERNAL,
                   request_label(request) + ": " + e.what());
            batch->finish(Outcome{});
            continue;
        }
        {
            std::lock_guard<std::mutex> guard(batch->lock);
            batch->size++;
        }
        job.done = [instance, request, response, exec_start, batch](const Outcome &outcome) {
            // Statistics first: a client that reads them right after its response must
            // find its request counted.
            const std::uint64_t end = now_ns();
            const std::uint64_t compute_start = outcome.compute_start_ns != 0 ? outcome.compute_start_ns : end;
            const std::uint64_t compute_end = outcome.compute_end_ns != 0 ? outcome.compute_end_ns : end;
            log_error(TRITONBACKEND_ModelInstanceReportStatistics(instance, request, outcome.ok(), exec_start,
                                                                  compute_start, compute_end, end),
                      "TRITONBACKEND_ModelInstanceReportStatistics");
            batch->finish(outcome);
            TRITONSERVER_Error *answer = nullptr;
            if (!outcome.ok())
                answer = error(code_for(outcome.status), request_label(request) + ": " + outcome.message);
            log_error(TRITONBACKEND_ResponseSend(response, TRITONSERVER_RESPONSE_COMPLETE_FINAL, answer),
                      "TRITONBACKEND_ResponseSend");
            if (answer != nullptr) TRITONSERVER_ErrorDelete(answer);
            log_error(TRITONBACKEND_RequestRelease(request, TRITONSERVER_REQUEST_RELEASE_ALL),
                      "TRITONBACKEND_RequestRelease");
        };
        state->executor->run(std::move(job));
    }
    if (err != nullptr) TRITONSERVER_ErrorDelete(err);
    return nullptr;
}

} // extern "C"
