"""The prediction service under load: `python -m tlcore serve` on a sample-data image run (EfficientNet-Lite0,
0 trainable blocks), answering single-image requests from 1 and from 8 concurrent clients.

Prints requests per second, the median and 95th-percentile latency, how many requests shared a forward
pass (from /health), and each row's throughput as a ratio to one client's.

Not a test. Run from the repository root: python -m benchmarks.bench_serve [--requests 160]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import torch

from tlcore import TrainConfig, build_dataset, describe_device, digits_sample, save_run, train

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def image_request(name: str, data: bytes) -> tuple[bytes, dict]:
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def get(port: int, path: str) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def start_server(run: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "tlcore", "serve", str(run), "--port", str(port)],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while True:
        try:
            get(port, "/health")
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("The server did not start.") from None
            time.sleep(0.2)


def load(port: int, requests: list[tuple[bytes, dict]], clients: int) -> tuple[float, np.ndarray]:
    """Send the requests from `clients` threads (one kept-alive connection each): (seconds, latencies)."""
    latencies, lock, queue = [], threading.Lock(), list(requests)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not queue:
                    break
                body, headers = queue.pop()
            start = time.perf_counter()
            conn.request("POST", "/predict", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"A request got {response.status}.")
            with lock:
                latencies.append(time.perf_counter() - start)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, np.array(latencies)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=160, help="single-image requests per row")
    args = parser.parse_args()
    records = digits_sample(per_class=20)
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as folder:
        trained = train(build_dataset(records), TrainConfig(trainable_blocks=0, epochs=5))
        run = save_run(trained, Path(folder) / "digits")
        port = free_port()
        server = start_server(run, port)
        try:
            requests = [image_request(r.name.replace("/", "-"), r.data) for r in records]
            requests = (requests * (args.requests // len(requests) + 1))[:args.requests]
            load(port, requests[:16], 4)  # warm-up: first passes, thread pools
            print(f"{args.requests} single-image requests per row, efficientnet_lite0 (0 trainable blocks), "
                  f"served on {describe_device(torch.device('cpu'))}, {os.cpu_count()} cores")
            print(f"{'clients':>7} {'requests/s':>11} {'p50 ms':>8} {'p95 ms':>8} {'requests per pass':>18} "
                  f"{'vs 1 client':>12}")
            base = None
            for clients in (1, 8):
                before = get(port, "/health")["served"]
                seconds, latencies = load(port, requests, clients)
                after = get(port, "/health")["served"]
                rate = len(latencies) / seconds
                base = base or rate
                shared = (after["requests"] - before["requests"]) / (after["passes"] - before["passes"])
                p50, p95 = np.percentile(latencies, [50, 95]) * 1000
                print(f"{clients:>7} {rate:>11.1f} {p50:>8.1f} {p95:>8.1f} {shared:>18.2f} {rate / base:>12.2f}")
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)


if __name__ == "__main__":
    main()
