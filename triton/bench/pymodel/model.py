"""The baseline the load test compares nrtq's backend with: a Triton Python-backend model
that drives libnrt the way a Python user does today, one synchronous nrt_execute per
request (through ctypes), one model instance (one stub process) per NeuronCore.

config.pbtxt parameters: "libnrt" (path of libnrt.so.1), "cores" ("0,1,..."); instance k of
the instance group uses the k-th core of that list.
"""
import ctypes
import json
import os

import numpy as np
import triton_python_backend_utils as pb_utils

NRT_FRAMEWORK_TYPE_NO_FW = 1
NRT_TENSOR_PLACEMENT_DEVICE = 0


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        lib = ctypes.CDLL(params["libnrt"])
        vp = ctypes.c_void_p
        lib.nrt_init.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p]
        lib.nrt_load.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int32, ctypes.c_int32, ctypes.POINTER(vp)]
        lib.nrt_tensor_allocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_size_t, ctypes.c_char_p,
                                            ctypes.POINTER(vp)]
        lib.nrt_allocate_tensor_set.argtypes = [ctypes.POINTER(vp)]
        lib.nrt_add_tensor_to_tensor_set.argtypes = [vp, ctypes.c_char_p, vp]
        lib.nrt_tensor_write.argtypes = [vp, vp, ctypes.c_size_t, ctypes.c_size_t]
        lib.nrt_tensor_read.argtypes = [vp, vp, ctypes.c_size_t, ctypes.c_size_t]
        lib.nrt_execute.argtypes = [vp, vp, vp]
        self.lib = lib

        index = int(args["model_instance_name"].rsplit("_", 1)[1])
        cores = [int(c) for c in params["cores"].split(",")]
        vnc = cores[index % len(cores)]
        self.check(lib.nrt_init(NRT_FRAMEWORK_TYPE_NO_FW, b"", b""), "nrt_init")
        path = os.path.join(args["model_repository"], args["model_version"], "model.nrtm")
        with open(path, "rb") as f:
            data = f.read()
        self.model = vp()
        self.check(lib.nrt_load(data, len(data), vnc, -1, ctypes.byref(self.model)), "nrt_load")

        self.inputs = [(t["name"], int(np.prod([int(d) for d in t["dims"]])) * 4) for t in config["input"]]
        self.outputs = [(t["name"], [int(d) for d in t["dims"]]) for t in config["output"]]
        self.in_set, self.out_set = vp(), vp()
        self.check(lib.nrt_allocate_tensor_set(ctypes.byref(self.in_set)), "nrt_allocate_tensor_set")
        self.check(lib.nrt_allocate_tensor_set(ctypes.byref(self.out_set)), "nrt_allocate_tensor_set")
        self.tensors = {}
        for name, size in self.inputs + [(n, int(np.prod(d)) * 4) for n, d in self.outputs]:
            t = vp()
            self.check(lib.nrt_tensor_allocate(NRT_TENSOR_PLACEMENT_DEVICE, vnc, size, name.encode(), ctypes.byref(t)),
                       "nrt_tensor_allocate")
            target = self.in_set if any(name == n for n, _ in self.inputs) else self.out_set
            self.check(lib.nrt_add_tensor_to_tensor_set(target, name.encode(), t), "nrt_add_tensor_to_tensor_set")
            self.tensors[name] = (t, size)

    def check(self, status, call):
        if status != 0:
            raise pb_utils.TritonModelException(f"{call} failed: NRT status {status}")

    def execute(self, requests):
        responses = []
        for request in requests:
            for name, size in self.inputs:
                x = np.ascontiguousarray(pb_utils.get_input_tensor_by_name(request, name).as_numpy())
                self.check(self.lib.nrt_tensor_write(self.tensors[name][0], x.ctypes.data, 0, size), "nrt_tensor_write")
            status = self.lib.nrt_execute(self.model, self.in_set, self.out_set)
            if status != 0:
                responses.append(pb_utils.InferenceResponse(
                    error=pb_utils.TritonError(f"nrt_execute failed: NRT status {status}")))
                continue
            outs = []
            for name, dims in self.outputs:
                y = np.empty(dims, dtype=np.float32)
                self.check(self.lib.nrt_tensor_read(self.tensors[name][0], y.ctypes.data, 0, y.nbytes), "nrt_tensor_read")
                outs.append(pb_utils.Tensor(name, y))
            responses.append(pb_utils.InferenceResponse(output_tensors=outs))
        return responses
