"""Scenarios against a real Triton server running nrtq's backend on the emulator, through
Triton's own Python client (HTTP and gRPC). Run by tests/triton.rs:

    python scenarios.py serve  --server-root S --backend-dir B --models M --work W
    python scenarios.py faults --server-root S --backend-dir B --models M --work W

Each scenario asserts as it goes (a failure exits non-zero with the reason), stops the
server (SIGTERM, clean exit, nothing of its session left) and prints a SUMMARY line.
"""
import argparse
import concurrent.futures
import os
import sys
import time

import numpy as np
import tritonclient.grpc as tgrpc
import tritonclient.http as thttp
from tritonclient.utils import InferenceServerException

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PROTOCOLS = {"http": thttp, "grpc": tgrpc}


class client:
    """A Triton client for one use (`with client(server, "http") as c:`), closed afterwards:
    an HTTP connection left open holds up the server's shutdown for its exit timeout."""

    def __init__(self, server, proto):
        url = server.http_url if proto == "http" else server.grpc_url
        self.c = PROTOCOLS[proto].InferenceServerClient(url=url)

    def __enter__(self):
        return self.c

    def __exit__(self, *exc):
        self.c.close()


def add_request(proto, rng, size=1024, batched=False):
    mod = PROTOCOLS[proto]
    a = rng.standard_normal(size).astype(np.float32)
    b = rng.standard_normal(size).astype(np.float32)
    shape = [1, size] if batched else [size]
    inputs = []
    for name, values in (("a", a), ("b", b)):
        i = mod.InferInput(name, shape, "FP32")
        i.set_data_from_numpy(values.reshape(shape))
        inputs.append(i)
    return inputs, a + b


def expect_equal(what, got, want):
    """Element by element; names the first element that differs."""
    if got is None:
        raise AssertionError(f"{what}: output missing")
    got = np.asarray(got).reshape(-1)
    want = np.asarray(want).reshape(-1)
    if got.shape != want.shape:
        raise AssertionError(f"{what}: {got.shape[0]} elements, expected {want.shape[0]}")
    bad = np.nonzero(got != want)[0]
    if bad.size:
        i = bad[0]
        raise AssertionError(f"{what}: {bad.size} elements differ, first [{i}] = {got[i]!r}, expected {want[i]!r}")


def infer_add(server, proto, model, rng, batched=False):
    """One add request; returns (ok, message) after checking a success's every element."""
    inputs, want = add_request(proto, rng, batched=batched)
    try:
        with client(server, proto) as c:
            result = c.infer(model, inputs)
    except InferenceServerException as e:
        return False, e.message() or str(e)
    expect_equal(f"{model} over {proto}", result.as_numpy("out"), want)
    return True, ""


def concurrently(count, threads, fn):
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, range(count)))


def stats(server, model):
    with client(server, "http") as c:
        s = c.get_inference_statistics(model)["model_stats"][0]
    inf = s["inference_stats"]
    return {
        "inference_count": s["inference_count"],
        "execution_count": s["execution_count"],
        "success": inf["success"]["count"],
        "fail": inf["fail"]["count"],
    }


def setup(args, name):
    work = os.path.join(args.work, name)
    repo = os.path.join(work, "repo")
    if os.path.exists(repo):
        import shutil

        shutil.rmtree(repo)
    os.makedirs(repo)
    return work, repo


# --- serve: outputs, several outputs, the dynamic batcher, statistics, metrics ----------


def serve(args):
    work, repo = setup(args, "serve")
    models = args.models
    harness.write_model(repo, "add", f"{models}/add_f32.nrtm", harness.add_config("0,1"))
    harness.write_model(repo, "add_batched", f"{models}/add_f32.nrtm", harness.add_config(
        "0,1", batch=8, extra="dynamic_batching { max_queue_delay_microseconds: 500000 }\n"))
    harness.write_model(repo, "chain", f"{models}/chain_f32.nrtm", (
        'backend: "nrtq"\nmax_batch_size: 0\n'
        'input [ { name: "a" data_type: TYPE_FP32 dims: [ 4, 4 ] }, { name: "b" data_type: TYPE_FP32 dims: [ 4, 4 ] } ]\n'
        'output [ { name: "sum" data_type: TYPE_FP32 dims: [ 4, 4 ] }, { name: "diff" data_type: TYPE_FP32 dims: [ 4, 4 ] },'
        ' { name: "prod" data_type: TYPE_FP32 dims: [ 4, 4 ] }, { name: "half" data_type: TYPE_FP32 dims: [ 4, 4 ] } ]\n'
        'parameters { key: "cores" value: { string_value: "1" } }\n'))
    # One slot: concurrent requests wait in the backend's FIFO for it.
    harness.write_model(repo, "narrow", f"{models}/add_f32.nrtm", harness.add_config(
        "0", extra='parameters { key: "slots_per_core" value: { string_value: "1" } }\n'))
    # A model whose core dies at its 6th request (the fault is in the model file), alone on
    # core 2: in Triton's default model-control mode it cannot be unloaded, so it fails every
    # request with UNAVAILABLE from then on.
    harness.write_model(repo, "dies", f"{models}/add_f32_dies.nrtm", harness.add_config("2"))
    server = harness.Server(args.server_root, args.backend_dir, repo, os.path.join(work, "server.log"),
                            env={"NRT_EMU_TOTAL_CORES": "3", "NEURON_RT_LOG_LEVEL": "QUIET"}).start()
    summary = {}
    try:
        rng = np.random.default_rng(15)
        sent = 0
        for proto in ("http", "grpc"):
            with client(server, proto) as c:
                assert c.is_server_ready() and c.is_model_ready("add"), f"{proto}: server or model not ready"
            for _ in range(40):
                ok, message = infer_add(server, proto, "add", rng)
                assert ok, f"add over {proto} failed: {message}"
            # Concurrent clients, every output checked.
            results = concurrently(64, 8, lambda i, p=proto: infer_add(server, p, "add", np.random.default_rng(1000 + i)))
            assert all(ok for ok, _ in results), [m for ok, m in results if not ok][:3]
            sent += 104
            # Several outputs: ask for two of the four, by name.
            mod = PROTOCOLS[proto]
            a = rng.standard_normal((4, 4)).astype(np.float32)
            b = rng.standard_normal((4, 4)).astype(np.float32)
            ins = [mod.InferInput("a", [4, 4], "FP32"), mod.InferInput("b", [4, 4], "FP32")]
            ins[0].set_data_from_numpy(a)
            ins[1].set_data_from_numpy(b)
            outs = [mod.InferRequestedOutput("prod"), mod.InferRequestedOutput("half")]
            with client(server, proto) as c:
                r = c.infer("chain", ins, outputs=outs)
            prod = (a + b) * (a - b)
            expect_equal(f"chain.prod over {proto}", r.as_numpy("prod"), prod)
            expect_equal(f"chain.half over {proto}", r.as_numpy("half"), prod * np.float32(0.5))
            assert r.as_numpy("sum") is None, "an output that was not requested came back"
        summary["add_requests"] = sent

        # The dynamic batcher: 16 requests at once are grouped into fewer executions; each
        # request still runs (one device execution each) and gets its own outputs.
        before = stats(server, "add_batched")
        results = concurrently(16, 16, lambda i: infer_add(server, "grpc", "add_batched",
                                                           np.random.default_rng(2000 + i), batched=True))
        assert all(ok for ok, _ in results), [m for ok, m in results if not ok][:3]
        after = stats(server, "add_batched")
        inferences = after["inference_count"] - before["inference_count"]
        executions = after["execution_count"] - before["execution_count"]
        assert inferences == 16, f"dynamic batcher: {inferences} inferences counted, 16 sent"
        assert 2 <= executions < 16, f"dynamic batcher: {executions} batches for 16 requests (expected grouping, max 8)"
        summary["batched_requests"] = inferences
        summary["batched_executions"] = executions

        # More requests than slots: they wait for the one slot, in order, and all succeed.
        results = concurrently(24, 12, lambda i: infer_add(server, "grpc", "narrow", np.random.default_rng(5000 + i)))
        assert all(ok for ok, _ in results), [m for ok, m in results if not ok][:3]
        s = stats(server, "narrow")
        assert s["success"] == 24 and s["fail"] == 0, f"narrow statistics {s}"

        # A batch dimension other than 1 is refused with the reason.
        mod = PROTOCOLS["http"]
        ins = [mod.InferInput(n, [3, 1024], "FP32") for n in ("a", "b")]
        for i in ins:
            i.set_data_from_numpy(np.zeros((3, 1024), np.float32))
        try:
            with client(server, "http") as c:
                c.infer("add_batched", ins)
            raise AssertionError("a request of batch size 3 was accepted")
        except InferenceServerException as e:
            assert "one device execution per request" in e.message(), e.message()

        # The last core of a model dies (default model-control mode: no unload possible).
        outcomes = [infer_add(server, "http", "dies", rng) for _ in range(8)]
        assert [ok for ok, _ in outcomes] == [True] * 5 + [False] * 3, outcomes
        assert "NRT status 101" in outcomes[5][1], outcomes[5][1]
        assert "every NeuronCore of this model has failed" in outcomes[6][1], outcomes[6][1]
        summary["after_last_core_none_mode"] = outcomes[6][1]
        assert "Triton refused to unload it" in server.log_text(), "no log line for the refused unload"

        # Statistics reach Triton's metrics: queue and compute time, request counts.
        s = stats(server, "add")
        assert s["success"] == sent and s["fail"] == 0, f"add statistics {s}, {sent} requests sent"
        metrics = server.metrics()
        for name in ("nv_inference_queue_duration_us", "nv_inference_compute_infer_duration_us",
                     "nv_inference_compute_input_duration_us", "nv_inference_request_duration_us"):
            value = harness.metric_sum(metrics, name, "add")
            assert value > 0, f"metric {name} for model add is {value}"
            summary[name] = value
        summary["nv_inference_request_success"] = harness.metric_sum(metrics, "nv_inference_request_success", "add")
        assert summary["nv_inference_request_success"] == sent, summary
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        server.kill()
        raise
    server.stop()
    summary["stopped_cleanly"] = True
    harness.emit(summary)


# --- faults: per-request errors, a dead core, the last core ---------------------------


def faults(args):
    work, repo = setup(args, "faults")
    models = args.models
    harness.write_model(repo, "faulty", f"{models}/add_f32.nrtm", harness.add_config("0"))
    # The add at 5 ms per request, so that requests queue up on each core (and the pool,
    # which sends a request to the core expected to finish it soonest, uses both cores).
    slow = os.path.join(work, "add_f32_5ms.nrtm")
    with open(f"{models}/add_f32.nrtm") as f, open(slow, "w") as out:
        out.write(f.read().replace("time_ns 20000\n", "time_ns 5000000\n"))
    harness.write_model(repo, "halfdead", slow, harness.add_config("1,2"))
    harness.write_model(repo, "alldead", f"{models}/add_f32.nrtm", harness.add_config("3"))
    harness.write_model(repo, "busydead", slow, harness.add_config("4,5"))
    env = {
        "NRT_EMU_TOTAL_CORES": "6",
        # Numbers count per core: every 5th request on core 0 fails with 1004; core 2 dies
        # on its 4th request, core 3 on its 3rd, core 5 on its 11th.
        "NRT_EMU_FAULTS": "error every=5 code=1004 lnc=0; unrecoverable after=3 lnc=2; unrecoverable after=2 lnc=3;"
                          " unrecoverable after=10 lnc=5",
        "NEURON_RT_LOG_LEVEL": "QUIET",
    }
    # Configurations the backend refuses, loaded one by one below: (name, config, message).
    bad = [
        ("bad_cores", harness.add_config("0-x"), "parameter 'cores' = '0-x'"),
        ("bad_cores_twice", harness.add_config("0,0-1"), "names NeuronCore 0 twice"),
        ("bad_dims", harness.add_config("0", size=512), "dims give 2048 bytes, the model's tensor is 4096"),
        ("bad_core_number", harness.add_config("7"), "names NeuronCore 7, but this process sees 6"),
        ("bad_slots", harness.add_config("0", extra='parameters { key: "slots_per_core" value: { string_value: "0" } }\n'),
         "parameter 'slots_per_core' = '0': expected 1-1024"),
    ]
    for name, config, _ in bad:
        harness.write_model(repo, name, f"{models}/add_f32.nrtm", config)
    # Explicit model control: the only mode in which Triton lets the backend unload a
    # model whose every core has died.
    server = harness.Server(args.server_root, args.backend_dir, repo, os.path.join(work, "server.log"), env=env,
                            args=["--model-control-mode=explicit", "--load-model=faulty", "--load-model=halfdead",
                                  "--load-model=alldead", "--load-model=busydead"]).start()
    summary = {}
    try:
        rng = np.random.default_rng(16)
        # Injected execution errors: exactly the 5th, 10th, ... request on the core fails,
        # with nrtq's status and the raw NRT status in its message; the others succeed.
        failed = []
        for k in range(1, 21):
            ok, message = infer_add(server, "http", "faulty", rng)
            if not ok:
                failed.append(k)
                assert "NRTQ_ERR_EXEC" in message and "NRT status 1004" in message, message
                summary.setdefault("exec_error_message", message)
        assert failed == [5, 10, 15, 20], f"failed requests {failed}, expected [5, 10, 15, 20]"
        results = concurrently(40, 8, lambda i: infer_add(server, "grpc", "faulty", np.random.default_rng(3000 + i)))
        burst_failed = [m for ok, m in results if not ok]
        assert len(burst_failed) == 8, f"{len(burst_failed)} of 40 concurrent requests failed, expected 8"
        assert all("NRT status 1004" in m for m in burst_failed), burst_failed[:2]
        s = stats(server, "faulty")
        assert s["fail"] == 12 and s["success"] == 48, f"faulty statistics {s}"
        summary["faulty"] = s

        # One of two cores dies: the requests its device held fail, the model keeps serving on
        # the other. The pool sends each request to the core expected to finish it soonest, so
        # requests sent one at a time may all go to core 1; 8 at a time on a 5 ms model keep
        # both cores busy, and core 2 dies at its 4th request. What fails is what core 2's device held then
        # (the 4th and any queued behind it there: fewer than the 8 in flight).
        outcomes = concurrently(40, 8, lambda i: infer_add(server, "grpc", "halfdead", np.random.default_rng(8000 + i)))
        dead = [m for ok, m in outcomes if not ok]
        assert 1 <= len(dead) < 8, f"halfdead: {len(dead)} of 40 failed, expected 1-7 (core 2 dies at its 4th)"
        assert all("NRT status 101" in m and "on NeuronCore 2" in m for m in dead), dead
        message = dead[0]
        summary["halfdead_failed"] = len(dead)
        summary["dead_core_message"] = message
        with client(server, "http") as c:
            assert c.is_model_ready("halfdead"), "halfdead unready with one core left"
        results = concurrently(40, 8, lambda i: infer_add(server, "http", "halfdead", np.random.default_rng(4000 + i)))
        assert all(ok for ok, _ in results), [m for ok, m in results if not ok][:3]
        log = server.log_text()
        assert "NeuronCore 2 left service" in log, "no log line for the lost core"

        # A core dies under load: the requests its device held when it died fail with its
        # status (the one that killed it, and those queued behind it on the device; measured
        # 6 of the 12 in flight); those still in the pool's backlog, or between stages
        # before the device, are moved to the other core and succeed. Then the model serves
        # on the other core alone.
        results = concurrently(60, 12, lambda i: infer_add(server, "grpc", "busydead", np.random.default_rng(6000 + i)))
        busy_failed = [m for ok, m in results if not ok]
        assert 1 <= len(busy_failed) < 12, f"{len(busy_failed)} of 60 failed: {busy_failed[:3]}"
        assert all("NRT status 101" in m and "on NeuronCore 5" in m for m in busy_failed), busy_failed
        s = stats(server, "busydead")
        assert s["success"] == 60 - len(busy_failed) and s["fail"] == len(busy_failed), f"busydead statistics {s}"
        summary["busydead"] = s
        assert "NeuronCore 5 left service" in server.log_text(), "no log line for the lost core"
        results = concurrently(24, 12, lambda i: infer_add(server, "grpc", "busydead", np.random.default_rng(7000 + i)))
        assert all(ok for ok, _ in results), [m for ok, m in results if not ok][:3]

        probe_before = server.get("/v2/models/alldead/ready")[0]
        # The last core dies: the model is unloaded, so it reports unready.
        outcomes = [infer_add(server, "http", "alldead", rng) for _ in range(3)]
        assert [ok for ok, _ in outcomes] == [True, True, False], outcomes
        deadline = time.monotonic() + 20
        with client(server, "http") as c:
            while c.is_model_ready("alldead") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not c.is_model_ready("alldead"), "alldead still ready 20 s after its last core died"
        ok, message = infer_add(server, "http", "alldead", rng)
        assert not ok, "a request to a model with no core left succeeded"
        summary["after_last_core"] = message
        # The model's own readiness endpoint, which a Kubernetes readiness probe can use,
        # turns from 200 to unready. (The server's /v2/health/ready stays 200: Triton's
        # strict readiness does not count a model that was unloaded.)
        probe_after = server.get("/v2/models/alldead/ready")[0]
        assert probe_before == 200 and probe_after != 200, f"/v2/models/alldead/ready {probe_before} -> {probe_after}"
        summary["model_ready_probe"] = [probe_before, probe_after]
        summary["server_ready_after_unload"] = server.get("/v2/health/ready")[0]
        # A configuration the backend cannot serve fails to load, saying why (last: a
        # failed load makes the server's /v2/health/ready unready under strict readiness).
        for name, _, expected in bad:
            try:
                with client(server, "http") as c:
                    c.load_model(name)
                raise AssertionError(f"model {name} loaded")
            except InferenceServerException as e:
                assert expected in e.message(), f"{name}: {e.message()!r} does not say {expected!r}"
        summary["refused_configs"] = len(bad)

        # The other models are untouched.
        ok, message = infer_add(server, "grpc", "halfdead", rng)
        assert ok, message
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        server.kill()
        raise
    server.stop()
    summary["stopped_cleanly"] = True
    harness.emit(summary)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=["serve", "faults"])
    p.add_argument("--server-root", required=True)
    p.add_argument("--backend-dir", required=True)
    p.add_argument("--models", required=True)
    p.add_argument("--work", required=True)
    args = p.parse_args()
    {"serve": serve, "faults": faults}[args.scenario](args)


if __name__ == "__main__":
    main()
