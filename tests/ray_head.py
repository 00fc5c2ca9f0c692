"""A Ray head on this machine for tests and benchmarks: a free port of 127.0.0.1, token authentication
with the token in the environment (Ray reads it when imported, so import this module before Ray),
and the repository importable by its workers; stopped, with every process it started, on leaving."""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("RAY_AUTH_MODE", "token")
os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def ray_head(cpus: int = 2):
    """The head's address (127.0.0.1:port) while it runs, with `cpus` processors and no dashboard."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        ["ray", "start", "--head", "--block", "--port", str(port), "--num-cpus", str(cpus), "--include-dashboard",
         "false", "--disable-usage-stats"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("the Ray head did not start") from None
                time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        import ray

        from tlcore.runs import cluster

        ray.shutdown()
        cluster._CONNECTED.clear()
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
