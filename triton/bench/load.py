"""Load test: Triton with nrtq's backend on N emulated cores, beside Triton's Python backend
running the same model the way a user would today (a Python model calling libnrt's
synchronous nrt_execute per request, one instance per core).

    make triton-bench                       # what this runs, with the paths filled in
    python load.py --server-root S --backend-dir B --libnrt L --models M --work W \\
        [--cores 2 8] [--repeat 3] [--requests-per-core 1500] [--seconds 10] \\
        [--clients 2] [--concurrency-per-core 16]

Per case (backend x cores): a fresh server with one model whose every request takes
1 ms of emulated device time; a warm-up; then `--repeat` measured rounds, each a bounded
number of requests (and at most `--seconds`) sent by `--clients` processes of asyncio gRPC
clients with `--concurrency-per-core` x cores requests in flight in all. Reported per case: requests/s
against the bound (cores / 1 ms), p50/p99 latency, and the server's CPU per request (every
process of the server's session: tritonserver, and the Python backend's stub processes),
as the median of the rounds with their min-max. Every response's output is checked.
"""
import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import harness  # noqa: E402

MODEL_TIME_NS = 1_000_000
SIZE = 1024
MODEL_TEXT = f"""nrt-emu-model 1
# The load test's model: out = a + b on f32[{SIZE}], 1 ms of device time per request.
name add_f32_1ms
time_ns {MODEL_TIME_NS}
input a f32 {SIZE}
input b f32 {SIZE}
output out f32 {SIZE}
op add out a b
end
"""


def session_cpu_seconds(session):
    """User+system CPU of every live process in a session (tritonserver and its stubs)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the command: state(0) ppid(1) pgrp(2) session(3) ... utime(11) stime(12)
        if int(fields[3]) == session:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def session_threads_cpu(session):
    """CPU seconds per thread name (digits stripped) over every process of a session."""
    tick = os.sysconf("SC_CLK_TCK")
    groups = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[3]) != session:
                    continue
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    text = f.read()
            except OSError:
                continue
            name = text[text.index("(") + 1:text.rindex(")")].rstrip("0123456789-_:")
            fields = text.rsplit(")", 1)[1].split()
            groups[name] = groups.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return groups


def client_process(url, model, count, concurrency, seconds, start_at, queue):
    """One client process: `concurrency` asyncio tasks sharing `count` requests."""
    import tritonclient.grpc.aio as aio
    import tritonclient.grpc as grpc

    a = np.arange(SIZE, dtype=np.float32)
    b = np.full(SIZE, 0.25, dtype=np.float32)
    want = a + b

    async def run():
        client = aio.InferenceServerClient(url=url)
        inputs = [grpc.InferInput("a", [SIZE], "FP32"), grpc.InferInput("b", [SIZE], "FP32")]
        inputs[0].set_data_from_numpy(a)
        inputs[1].set_data_from_numpy(b)
        outputs = [grpc.InferRequestedOutput("out")]
        left = [count]
        latencies, errors, wrong = [], [], 0
        deadline = start_at + seconds

        async def worker():
            nonlocal wrong
            while left[0] > 0 and time.time() < deadline:
                left[0] -= 1
                t0 = time.perf_counter()
                try:
                    r = await client.infer(model, inputs, outputs=outputs)
                except Exception as e:  # noqa: BLE001 - counted and reported
                    errors.append(str(e))
                    continue
                latencies.append(time.perf_counter() - t0)
                if not np.array_equal(r.as_numpy("out"), want):
                    wrong += 1

        await asyncio.sleep(max(0.0, start_at - time.time()))
        t0 = time.time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        t1 = time.time()
        await client.close()
        return t0, t1, latencies, errors[:3], len(errors), wrong

    queue.put(asyncio.run(run()))


def round_(server, model, requests, args):
    """One measured round; returns its figures."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    per = [requests // args.clients + (1 if i < requests % args.clients else 0) for i in range(args.clients)]
    conc = max(1, args.concurrency_per_core * args.cores_now // args.clients)
    start_at = time.time() + 0.5
    procs = [ctx.Process(target=client_process, args=(server.grpc_url, model, n, conc, args.seconds, start_at, queue))
             for n in per]
    for p in procs:
        p.start()
    cpu0 = session_cpu_seconds(server.proc.pid)
    threads0 = session_threads_cpu(server.proc.pid)
    clients0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    results = [queue.get() for _ in procs]
    cpu1 = session_cpu_seconds(server.proc.pid)
    threads1 = session_threads_cpu(server.proc.pid)
    for p in procs:
        p.join()
    clients1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = (clients1.ru_utime + clients1.ru_stime) - (clients0.ru_utime + clients0.ru_stime)
    start = min(r[0] for r in results)
    end = max(r[1] for r in results)
    latencies = sorted(x for r in results for x in r[2])
    errors = sum(r[4] for r in results)
    wrong = sum(r[5] for r in results)
    if errors or wrong:
        samples = [e for r in results for e in r[3]]
        raise RuntimeError(f"{errors} failed and {wrong} wrong responses in a round: {samples}")
    done = len(latencies)
    wall = end - start
    by_thread = {k: v - threads0.get(k, 0.0) for k, v in threads1.items()}
    top = sorted(by_thread.items(), key=lambda kv: -kv[1])[:6]
    return {
        "requests": done,
        "seconds": wall,
        "rps": done / wall,
        "p50_ms": 1e3 * latencies[int(0.50 * (done - 1))],
        "p99_ms": 1e3 * latencies[int(0.99 * (done - 1))],
        # The client processes start 0.5 s after the first reading: the server is idle then.
        "cpu_us_per_request": 1e6 * (cpu1 - cpu0) / done,
        "client_cpu_us_per_request": 1e6 * client_cpu / done,
        # Server and client CPU over what the host has (the round's own span; the figures
        # start up to 0.5 s earlier, while everything is idle).
        "host_busy": ((cpu1 - cpu0) + client_cpu) / (wall * os.cpu_count()),
        "server_threads_us_per_request": {k: round(1e6 * v / done, 1) for k, v in top},
    }


def make_backend_dir(args, work):
    """nrtq's backend beside Triton's Python backend (with the wheel's 3.11 stub)."""
    d = os.path.join(work, "backends")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "python"))
    os.symlink(os.path.abspath(os.path.join(args.backend_dir, "nrtq")), os.path.join(d, "nrtq"))
    pyt = os.path.join(args.server_root, "pytriton", "tritonserver")
    for f in ("libtriton_python.so", "triton_python_backend_utils.py"):
        shutil.copy(os.path.join(pyt, "backends", "python", f), os.path.join(d, "python", f))
    shutil.copy(os.path.join(pyt, "python_backend_stubs", "3.11", "triton_python_backend_stub"),
                os.path.join(d, "python", "triton_python_backend_stub"))
    return d


def case(args, work, backends, backend, cores):
    args.cores_now = cores
    name = f"{backend}_{cores}"
    repo = os.path.join(work, name, "repo")
    shutil.rmtree(os.path.join(work, name), ignore_errors=True)
    model_file = os.path.join(work, "add_f32_1ms.nrtm")
    core_list = ",".join(str(c) for c in range(cores))
    if backend == "nrtq":
        config = harness.add_config(f"0-{cores - 1}", size=SIZE)
        harness.write_model(repo, "m", model_file, config)
    else:
        config = harness.add_config(None, size=SIZE, backend="python").replace("count: 1", f"count: {cores}")
        config += (f'parameters {{ key: "cores" value: {{ string_value: "{core_list}" }} }}\n'
                   f'parameters {{ key: "libnrt" value: {{ string_value: "{os.path.abspath(args.libnrt)}" }} }}\n')
        harness.write_model(repo, "m", model_file, config)
        shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "pymodel", "model.py"),
                    os.path.join(repo, "m", "1", "model.py"))
    env = {"NRT_EMU_TOTAL_CORES": str(cores), "NRT_EMU_API": "2.30",
           "LD_LIBRARY_PATH": os.path.dirname(os.path.abspath(args.libnrt))}
    server = harness.Server(os.path.abspath(args.server_root), os.path.abspath(backends), os.path.abspath(repo),
                            os.path.join(work, name, "server.log"), env=env).start(timeout=120)
    try:
        requests = args.requests_per_core * cores
        round_(server, "m", max(200, requests // 10), args)  # warm-up
        rounds = [round_(server, "m", requests, args) for _ in range(args.repeat)]
    except BaseException:
        print(server.log_tail(), file=sys.stderr)
        server.kill()
        raise
    server.stop()
    bound = cores * 1e9 / MODEL_TIME_NS
    result = {"backend": backend, "cores": cores, "bound_rps": bound, "rounds": rounds}
    for key in ("rps", "p50_ms", "p99_ms", "cpu_us_per_request", "client_cpu_us_per_request", "host_busy"):
        values = [r[key] for r in rounds]
        result[key] = {"median": statistics.median(values), "min": min(values), "max": max(values)}
    result["of_bound"] = {k: v / bound for k, v in result["rps"].items()}
    return result


def fmt(m, scale=1.0, digits=0):
    return f"{m['median'] * scale:.{digits}f} ({m['min'] * scale:.{digits}f}-{m['max'] * scale:.{digits}f})"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server-root", required=True)
    p.add_argument("--backend-dir", required=True)
    p.add_argument("--libnrt", required=True, help="the emulator's libnrt.so.1 (for the Python baseline)")
    p.add_argument("--models", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--cores", type=int, nargs="+", default=[2, 8])
    p.add_argument("--backends", nargs="+", default=["nrtq", "python"], choices=["nrtq", "python"])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--requests-per-core", type=int, default=1500)
    p.add_argument("--seconds", type=float, default=10.0, help="upper bound of one round")
    p.add_argument("--clients", type=int, default=2, help="client processes")
    p.add_argument("--concurrency-per-core", type=int, default=16,
                   help="requests in flight per emulated core, all clients together")
    args = p.parse_args()
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "add_f32_1ms.nrtm"), "w") as f:
        f.write(MODEL_TEXT)
    if "python" in args.backends:
        # The wheel's 3.11 stub embeds the system's libpython3.11 (Debian's), which must find
        # a numpy older than 2 of its own: PYTHONPATH does not reach it.
        probe = subprocess.run(["/usr/bin/python3.11", "-c", "import numpy, sys; sys.exit(numpy.__version__ >= '2')"],
                               capture_output=True)
        if probe.returncode != 0:
            sys.exit("load.py: the Python-backend baseline needs the system's python3.11 with numpy < 2 "
                     "(Debian: apt-get install python3-numpy), or run with --backends nrtq")
    backends = make_backend_dir(args, work)
    load_before = os.getloadavg()[0]
    results = []
    for cores in args.cores:
        for backend in args.backends:
            r = case(args, work, backends, backend, cores)
            results.append(r)
            print(f"{backend:6} {cores} cores: {fmt(r['rps'])} req/s = {fmt(r['of_bound'], 100, 1)} % of "
                  f"{r['bound_rps']:.0f}; p50 {fmt(r['p50_ms'], 1, 2)} ms, p99 {fmt(r['p99_ms'], 1, 2)} ms; "
                  f"server CPU {fmt(r['cpu_us_per_request'])} us/request, client CPU "
                  f"{fmt(r['client_cpu_us_per_request'])} us/request, host busy {fmt(r['host_busy'], 100)} %",
                  flush=True)
            median_round = sorted(r["rounds"], key=lambda x: x["rps"])[len(r["rounds"]) // 2]
            print(f"       server CPU by thread (us/request, median round): {median_round['server_threads_us_per_request']}",
                  flush=True)
    meta = {"command": " ".join(sys.argv), "cpus": os.cpu_count(), "load_before": load_before,
            "load_after": os.getloadavg()[0], "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "args": vars(args)}
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    print(f"results: {os.path.join(work, 'results.json')} (load {load_before:.2f} before, "
          f"{meta['load_after']:.2f} after, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
