"""A Triton server under test: a model repository of emulator models, the server started on
free localhost ports with nrtq's backend, and stopped with nothing left behind.

Used by scenarios.py (driven by tests/triton.rs) and bench/load.py.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request


def free_ports(count):
    """Ports the kernel just handed out, released again for the server to bind."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def write_model(repo, name, model_file, config, file_name="model.nrtm"):
    """repo/name/config.pbtxt and repo/name/1/<file_name> (a copy of model_file)."""
    os.makedirs(os.path.join(repo, name, "1"), exist_ok=True)
    shutil.copyfile(model_file, os.path.join(repo, name, "1", file_name))
    with open(os.path.join(repo, name, "config.pbtxt"), "w") as f:
        f.write(config)


def add_config(cores, size=1024, batch=0, extra="", backend="nrtq"):
    """config.pbtxt of the emulator's add model (out = a + b, f32[size])."""
    params = f'parameters {{ key: "cores" value: {{ string_value: "{cores}" }} }}\n' if backend == "nrtq" else ""
    return (
        f'backend: "{backend}"\n'
        f"max_batch_size: {batch}\n"
        f'input [ {{ name: "a" data_type: TYPE_FP32 dims: [ {size} ] }},'
        f' {{ name: "b" data_type: TYPE_FP32 dims: [ {size} ] }} ]\n'
        f'output [ {{ name: "out" data_type: TYPE_FP32 dims: [ {size} ] }} ]\n'
        f"instance_group [ {{ kind: {'KIND_MODEL' if backend == 'nrtq' else 'KIND_CPU'} count: 1 }} ]\n"
        + params
        + extra
    )


class Server:
    """tritonserver from the unpacked nvidia-pytriton wheel at `server_root`."""

    def __init__(self, server_root, backend_dir, repo, log_path, env=None, args=()):
        self.server_root = server_root
        self.backend_dir = backend_dir
        self.repo = repo
        self.log_path = log_path
        self.env = dict(env or {})
        self.args = list(args)
        self.proc = None
        self.http_port = self.grpc_port = self.metrics_port = None

    @property
    def http_url(self):
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self):
        return f"127.0.0.1:{self.grpc_port}"

    def start(self, timeout=60.0):
        self.http_port, self.grpc_port, self.metrics_port = free_ports(3)
        pyt = os.path.join(self.server_root, "pytriton", "tritonserver")
        env = dict(os.environ)
        libs = [os.path.join(self.server_root, "nvidia_pytriton.libs")]
        if self.env.get("LD_LIBRARY_PATH"):
            libs.append(self.env.pop("LD_LIBRARY_PATH"))
        env.update(self.env)
        env["LD_LIBRARY_PATH"] = ":".join(libs)
        # For sanitizer runs of the backend (`make -C triton asan`, then this variable set to
        # the ASan and UBSan runtimes): preloaded into the server only, never into Python.
        if os.environ.get("TRITON_SERVER_LD_PRELOAD"):
            env["LD_PRELOAD"] = os.environ["TRITON_SERVER_LD_PRELOAD"]
        cmd = [
            os.path.join(pyt, "bin", "tritonserver"),
            "--model-repository", self.repo,
            "--backend-directory", self.backend_dir,
            "--http-address", "127.0.0.1", "--grpc-address", "127.0.0.1", "--metrics-address", "127.0.0.1",
            "--http-port", str(self.http_port), "--grpc-port", str(self.grpc_port),
            "--metrics-port", str(self.metrics_port),
            "--exit-timeout-secs", "20",
        ] + self.args
        self.log = open(self.log_path, "w")
        # Its own session: stop() checks that nothing of that session outlives the server.
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tritonserver exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
            if self.get("/v2/health/ready")[0] == 200:
                return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"tritonserver not ready after {timeout} s:\n{self.log_tail()}")

    def get(self, path, port=None):
        """(status, body) of an HTTP GET, (None, '') when nothing answers."""
        url = f"http://127.0.0.1:{port or self.http_port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except (urllib.error.URLError, ConnectionError, socket.timeout):
            return None, ""

    def metrics(self):
        status, body = self.get("/metrics", port=self.metrics_port)
        if status != 200:
            raise RuntimeError(f"metrics endpoint answered {status}")
        return body

    def log_tail(self, lines=40):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""

    def log_text(self):
        with open(self.log_path) as f:
            return f.read()

    def session_alive(self):
        try:
            os.killpg(self.proc.pid, 0)
            return True
        except ProcessLookupError:
            return False

    def stop(self, timeout=40.0):
        """SIGTERM, wait for a clean exit, then check no process of its session is left.
        Returns the exit status; raises if the server had to be killed or left a process."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"tritonserver did not exit {timeout} s after SIGTERM:\n{self.log_tail()}")
        deadline = time.monotonic() + 10
        while self.session_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        left = self.session_alive()
        if left:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()
        if left:
            raise RuntimeError("a process of tritonserver's session outlived it")
        if code != 0:
            raise RuntimeError(f"tritonserver exited with {code} after SIGTERM:\n{self.log_tail()}")
        return code

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()


def metric_sum(metrics_text, name, model):
    """The sum of a Prometheus metric's samples for one model (0.0 if absent)."""
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(name + "{") and f'model="{model}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def emit(summary):
    """The last line of a scenario's stdout: what tests/triton.rs reads."""
    print("SUMMARY " + json.dumps(summary, sort_keys=True), flush=True)
