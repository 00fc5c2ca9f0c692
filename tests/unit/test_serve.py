"""The HTTP prediction service (`python -m tlcore serve RUN`) as a client sees it: a real server process
per run on 127.0.0.1, spoken to with the standard library only. Its limits are lowered through the
environment (8 items, 1 MB files, 1 megapixel, 200 characters) so the refusals are cheap to reach."""
from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import encode, shape_records, weather_music_frame
from tlcore import TrainConfig, build_dataset, build_text_dataset, load_classifier, save_run, train
from tlcore.data import Table
from tlcore.runs.archive import zip_run
from tlcore.serve.batcher import MicroBatcher

REPO = Path(__file__).resolve().parents[2]
LIMITS = {"TLCORE_MAX_REQUEST_ITEMS": "8", "TLCORE_MAX_FILE_MB": "1", "TLCORE_MAX_MEGAPIXELS": "1",
          "TLCORE_MAX_TEXT_CHARS": "200"}
TEXTS = ["It will rain heavily tonight.", "The band played a loud concert.", "Snow is expected in the hills.",
         "Our choir sang a slow ballad."]


class Server:
    """A `python -m tlcore serve` process, its address and what it printed."""

    def __init__(self, run: Path, folder: Path, *args: str):
        self.port = free_port()
        self.out, self.err = folder / f"out-{self.port}.txt", folder / f"err-{self.port}.txt"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "tlcore", "serve", str(run), "--port", str(self.port),
                                          *args], stdout=out, stderr=err, cwd=folder,
                                         env={**os.environ, **LIMITS, "PYTHONPATH": str(REPO)})
        deadline = time.monotonic() + 180
        while not self.answers():
            assert self.proc.poll() is None, f"the server stopped: {self.err.read_text()}"
            assert time.monotonic() < deadline, "the server did not answer within 3 minutes"
            time.sleep(0.2)

    def answers(self) -> bool:
        try:
            return call(self, "GET", "/health")[0] == 200
        except OSError:
            return False

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(server: Server, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
         chunked: bool = False) -> tuple[int, dict | str]:
    """(status, the JSON answer, or the text where it is not JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        if chunked:
            conn.request(method, path, body=iter([body]), headers=headers or {}, encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        text = response.read().decode("utf-8", "replace")
    finally:
        conn.close()
    try:
        return response.status, json.loads(text)
    except ValueError:
        return response.status, text


def multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, dict]:
    """A multipart/form-data body of (field, file name or None for a plain field, bytes) parts."""
    boundary = uuid.uuid4().hex
    chunks = []
    for field, filename, data in parts:
        disposition = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename is not None else "")
        chunks.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
                      f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def post_files(server: Server, files: list[tuple[str, bytes]]):
    return call(server, "POST", "/predict", *multipart([("files", name, data) for name, data in files]))


def post_json(server: Server, value) -> tuple[int, dict | str]:
    return call(server, "POST", "/predict", json.dumps(value).encode(), {"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("serve")


@pytest.fixture(scope="module")
def image_run(folder) -> Path:
    """EfficientNet-Lite0 as a feature extractor on 12 generated shapes: seconds to train."""
    run = train(build_dataset(shape_records(6)), TrainConfig(epochs=5, val_fraction=0.34, device="cpu"))
    return save_run(run, folder / "shapes-run")


@pytest.fixture(scope="module")
def text_run(folder) -> Path:
    dataset = build_text_dataset(Table(weather_music_frame(20), "texts.csv"), "text", "label")
    return save_run(train(dataset, TrainConfig(backbone="tfidf", epochs=20, device="cpu")), folder / "texts-run")


@pytest.fixture(scope="module")
def image_server(image_run, folder):
    server = Server(image_run, folder)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def text_server(text_run, folder):
    """The text run as a run zip; started without --host: it must listen on 127.0.0.1 only."""
    packed = folder / "texts-run.zip"
    packed.write_bytes(zip_run(text_run))
    server = Server(packed, folder)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def images() -> list[tuple[str, bytes]]:
    return [(r.name.replace("/", "-"), r.data) for r in shape_records(4, seed=7)]


def assert_predictions(answer: dict, names: list[str], expected: np.ndarray, classes: list[str]) -> None:
    """Names in order, probabilities equal to the run's own predict_proba, labels their argmax."""
    predictions = answer["predictions"]
    assert [p["name"] for p in predictions] == names
    got = np.array([[p["probabilities"][c] for c in classes] for p in predictions])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert [p["label"] for p in predictions] == [classes[i] for i in expected.argmax(1)]
    assert all(set(p) == {"name", "label", "probabilities"} for p in predictions)


def test_health_and_info(image_server, image_run):
    status, health = call(image_server, "GET", "/health")
    assert status == 200 and health["status"] == "ok" and set(health["served"]) == {"requests", "items", "passes"}
    status, info = call(image_server, "GET", "/info")
    config = json.loads((image_run / "config.json").read_text())
    metrics = json.loads((image_run / "metrics.json").read_text())
    assert status == 200 and info["task"] == "image" and info["classes"] == ["circle", "stripes"]
    assert (info["backbone"], info["trainable_blocks"], info["head"]) == ("efficientnet_lite0", 0, "linear")
    assert info["feature_block"] is None
    assert info["preprocessing"] == config["preprocessing"]
    for key in ("auc", "accuracy", "n_train", "n_val", "per_class", "confusion_matrix", "best_epoch"):
        assert info["metrics"][key] == metrics[key], key
    assert info["limits"] == {"max_request_items": 8, "max_file_mb": 1, "max_megapixels": 1, "max_text_chars": 200}


def test_images_are_predicted_as_the_run_predicts_them(image_server, image_run, images):
    status, answer = post_files(image_server, images)
    assert status == 200
    classifier = load_classifier(image_run)
    assert_predictions(answer, [n for n, _ in images], classifier.predict_proba(images), classifier.classes)


def test_an_unreadable_file_among_several_gets_a_problem_and_the_others_their_prediction(image_server, image_run,
                                                                                         images):
    sent = [images[0], ("notes.txt", b"not an image"), images[1]]
    status, answer = post_files(image_server, sent)
    assert status == 200
    bad = answer["predictions"][1]
    assert bad == {"name": "notes.txt", "problem": "not an image we can read (use JPEG, PNG, WebP, BMP, GIF or TIFF)."}
    good = {"predictions": [answer["predictions"][0], answer["predictions"][2]]}
    classifier = load_classifier(image_run)
    assert_predictions(good, [images[0][0], images[1][0]], classifier.predict_proba(images[:2]), classifier.classes)


def test_texts_are_predicted_as_the_run_predicts_them(text_server, text_run):
    status, info = call(text_server, "GET", "/info")
    metrics = json.loads((text_run / "metrics.json").read_text())
    assert status == 200 and (info["task"], info["backbone"], info["preprocessing"]) == ("text", "tfidf", None)
    assert (info["metrics"]["auc"], info["metrics"]["n_train"]) == (metrics["auc"], metrics["n_train"])
    status, answer = post_json(text_server, {"texts": TEXTS})
    assert status == 200
    classifier = load_classifier(text_run)
    assert_predictions(answer, TEXTS, classifier.predict_proba(TEXTS), classifier.classes)
    assert [p["label"] for p in answer["predictions"]] == ["weather", "music", "weather", "music"]


def big_image() -> bytes:
    return encode(Image.new("RGB", (1200, 1000), (200, 30, 30)))  # 1.2 megapixels, a few kB as PNG


IMAGE_REFUSALS = {
    "texts sent to an image run": (lambda: (b'{"texts": ["a"]}', {"Content-Type": "application/json"}), 415,
                                   "This run classifies images, not texts."),
    "a plain-text body": (lambda: (b"hello", {"Content-Type": "text/plain"}), 415,
                          "this run takes multipart/form-data"),
    "no content type": (lambda: (b"hello", {}), 415, "of no stated type"),
    "no boundary": (lambda: (b"--x--", {"Content-Type": "multipart/form-data"}), 400, "cannot be read"),
    "no files": (lambda: multipart([]), 422, "No files were sent."),
    "a field of another name": (lambda: multipart([("file", "a.png", shape_records(1)[0].data)]), 422,
                                "only 'files' is read"),
    "text in the files field": (lambda: multipart([("files", None, b"cat.png")]), 422, "holds text, not a file"),
    "only an unreadable file": (lambda: multipart([("files", "a.png", b"\x89PNG broken")]), 422,
                                "No file in the request could be read. a.png: "),
    "only a file over max_file_mb": (lambda: multipart([("files", "huge.png", b"\0" * (2 * 1024**2))]), 422,
                                     "huge.png: too large (2 MB); the limit is 1 MB (setting max_file_mb"),
    "only an image over max_megapixels": (lambda: multipart([("files", "wide.png", big_image())]), 422,
                                          "wide.png: too many pixels (1200x1000); the limit is 1 megapixels"),
    "more files than max_request_items": (lambda: multipart([("files", f"{i}.png", b"x") for i in range(9)]), 413,
                                          "the limit is 8 (setting max_request_items"),
    "a body larger than the limits allow": (lambda: (b"", {"Content-Type": "multipart/form-data; boundary=x",
                                                           "Content-Length": str(10 * 1024**2)}),  # refused unread
                                            413, "The request is 10 MB; at most 9 MB is read"),
}


@pytest.mark.parametrize("make, status, says", IMAGE_REFUSALS.values(), ids=IMAGE_REFUSALS.keys())
def test_a_bad_image_request_is_refused_in_a_sentence(image_server, make, status, says):
    got, answer = call(image_server, "POST", "/predict", *make())
    assert (got, type(answer)) == (status, dict) and says in answer["detail"], answer
    assert answer["detail"].endswith(".")
    assert call(image_server, "GET", "/health")[0] == 200


TEXT_REFUSALS = {
    "images sent to a text run": (lambda: multipart([("files", "a.png", b"x")]), 415,
                                  "This run classifies texts, sent as JSON, not a form"),
    "an empty body": (lambda: b"", 422, "The request has no body"),
    "not JSON": (lambda: b"{texts: [", 400, "The body is not valid JSON (Expecting property name"),
    "not UTF-8": (lambda: b'{"texts": ["\xff\xfe"]}', 400, "The body is not valid JSON"),
    "nested too deeply": (lambda: b"[" * 100_000, 400, "The body is not valid JSON (nested too deeply)"),
    "a list, not an object": (lambda: b'["a"]', 422, 'an object with the one key "texts", not a list'),
    "another key": (lambda: b'{"text": ["a"]}', 422, 'not an object with the keys "text"'),
    "texts not a list": (lambda: b'{"texts": "a"}', 422, '"texts" must be a list of strings, not a string'),
    "no texts": (lambda: b'{"texts": []}', 422, '"texts" is empty'),
    "a number among the texts": (lambda: b'{"texts": ["a", 3]}', 422, "but item 2 is a number"),
    "a lone surrogate": (lambda: b'{"texts": ["a", "\\ud800"]}', 422, "Text 2 holds a lone surrogate"),
    "an empty text": (lambda: b'{"texts": ["a", "  "]}', 422, "Text 2 is empty"),
    "a text over max_text_chars": (lambda: json.dumps({"texts": ["a" * 201]}).encode(), 413,
                                   "Text 1 has 201 characters; the limit is 200 (setting max_text_chars"),
    "more texts than max_request_items": (lambda: json.dumps({"texts": ["a"] * 9}).encode(), 413,
                                          "holds 9 texts; the limit is 8"),
}


@pytest.mark.parametrize("make, status, says", TEXT_REFUSALS.values(), ids=TEXT_REFUSALS.keys())
def test_a_bad_text_request_is_refused_in_a_sentence(text_server, make, status, says):
    made = make()
    body, headers = made if isinstance(made, tuple) else (made, {"Content-Type": "application/json"})
    got, answer = call(text_server, "POST", "/predict", body, headers)
    assert (got, type(answer)) == (status, dict) and says in answer["detail"], answer
    assert answer["detail"].endswith(".")
    assert call(text_server, "GET", "/health")[0] == 200


@pytest.mark.parametrize("method, path, body, status, says", [
    ("GET", "/predict", None, 405, "/predict does not take GET. The service answers GET /health"),
    ("GET", "/nothing-here", None, 404, "There is nothing at /nothing-here."),
    ("POST", "/predict", b'{"texts": ["a"]}', 411, "does not state its length"),
])
def test_wrong_routes_and_unstated_lengths_are_refused_in_a_sentence(text_server, method, path, body, status, says):
    got, answer = call(text_server, method, path, body, {"Content-Type": "application/json"}, chunked=body is not None)
    assert got == status and says in answer["detail"], answer


def fuzz_bodies(rng: np.random.Generator, valid: bytes, count: int) -> list[bytes]:
    """Random bytes, and the valid body cut short, grown or with bytes changed."""
    bodies = []
    for _ in range(count):
        data = bytearray(valid)
        kind = rng.integers(4)
        if kind == 0:
            data = bytearray(rng.integers(0, 256, rng.integers(0, 400), dtype=np.uint8).tobytes())
        elif kind == 1:
            data = data[:rng.integers(0, len(data))]
        elif kind == 2:
            data[rng.integers(len(data)):rng.integers(len(data))] = rng.integers(0, 256, 30, dtype=np.uint8).tobytes()
        else:
            for i in rng.integers(0, len(data), 8):
                data[i] = rng.integers(256)
        bodies.append(bytes(data))
    return bodies


def test_fuzzed_requests_never_fail_the_server(image_server, text_server, images):
    rng = np.random.default_rng(0)
    image_body, image_headers = multipart([("files", name, data) for name, data in images[:2]])
    text_body = json.dumps({"texts": TEXTS}).encode()
    cases = [(image_server, body, image_headers) for body in fuzz_bodies(rng, image_body, 30)]
    cases += [(text_server, body, {"Content-Type": "application/json"}) for body in fuzz_bodies(rng, text_body, 40)]
    cases += [(text_server, json.dumps(value).encode(), {"Content-Type": "application/json"}) for value in (
        None, 1, "texts", {"texts": None}, {"texts": [None]}, {"texts": [[]]}, {"texts": [{"a": 1}]}, {"texts": [True]},
        {"texts": ["\u0000"]}, {"texts": ["\ud800"]}, {"texts": ["\udfff x"]}, {"texts": ["é" * 200]}, {"": []},
        {"texts": [1e308]})]
    for server, body, headers in cases:
        status, answer = call(server, "POST", "/predict", body, headers)
        assert status in (200, 400, 413, 415, 422), (status, answer, body[:80])
        assert status == 200 or isinstance(answer["detail"], str)
    assert call(image_server, "GET", "/health")[0] == call(text_server, "GET", "/health")[0] == 200


def test_concurrent_requests_are_all_answered_and_share_forward_passes(image_server, image_run):
    files = [(r.name.replace("/", "-"), r.data) for r in shape_records(8, seed=11)]
    classifier = load_classifier(image_run)
    expected = classifier.predict_proba(files)
    before = call(image_server, "GET", "/health")[1]["served"]
    start, answers = threading.Barrier(len(files)), [None] * len(files)

    def client(i: int) -> None:
        start.wait()
        answers[i] = post_files(image_server, [files[i]])

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(files))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, (status, answer) in enumerate(answers):
        assert status == 200
        assert_predictions(answer, [files[i][0]], expected[i:i + 1], classifier.classes)
    after = call(image_server, "GET", "/health")[1]["served"]
    assert after["requests"] - before["requests"] == after["items"] - before["items"] == 16
    assert after["passes"] - before["passes"] < 16  # some requests shared a forward pass


def test_docs_and_openapi_describe_the_routes(image_server):
    status, page = call(image_server, "GET", "/docs")
    assert status == 200 and "swagger" in page.lower()
    scripts = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert scripts and not [s for s in scripts if s.startswith(("http:", "https:", "//"))]  # nothing from a CDN
    for asset in scripts:
        assert call(image_server, "GET", asset)[0] == 200
    status, schema = call(image_server, "GET", "/openapi.json")
    assert status == 200 and {"/health", "/info", "/predict"} <= set(schema["paths"])
    predict = schema["paths"]["/predict"]["post"]
    assert "multipart/form-data" in predict["requestBody"]["content"]
    files = predict["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"]["files"]
    assert files["items"] == {"type": "string", "format": "binary"}  # the API page offers a file picker
    assert {"200", "400", "413", "415", "422"} <= set(predict["responses"])
    assert {"Prediction", "Predictions", "Info", "Health"} <= set(schema["components"]["schemas"])


def listening_addresses(port: int) -> set[str]:
    """The local addresses (hex, as the kernel lists them) of sockets listening on the port."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if int(hex_port, 16) == port and state == "0A":
                found.add(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").is_file(), reason="reads the kernel's socket table (Linux)")
def test_it_listens_on_this_machine_only_unless_told_otherwise(text_server):
    printed = text_server.out.read_text()
    assert printed.startswith(f"Serving texts-run.zip at http://127.0.0.1:{text_server.port} ")
    assert f"http://127.0.0.1:{text_server.port}/docs" in printed
    assert listening_addresses(text_server.port) == {"0100007F"}  # 127.0.0.1, and nothing else
    assert text_server.err.read_text() == ""


def test_a_run_that_is_not_one_or_a_taken_port_exits_2_with_one_line(folder, text_run):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (folder / "notes.zip").write_bytes(b"not a zip")
        for run, port, says in ([folder, free_port(), "is not a saved run"],
                                [folder / "notes.zip", free_port(), "'notes.zip' cannot be opened as a saved run"],
                                [text_run, port, f"Cannot listen on 127.0.0.1 port {port} (Address already in use)"]):
            proc = subprocess.run([sys.executable, "-m", "tlcore", "serve", str(run), "--port", str(port)],
                                  capture_output=True, text=True, cwd=folder, timeout=120,
                                  env={**os.environ, "PYTHONPATH": str(REPO)})
            assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and says in proc.stderr, proc.stderr
            assert proc.stdout == ""


def test_importing_tlcore_leaves_the_service_and_fastapi_unloaded():
    proc = subprocess.run([sys.executable, "-c", "import sys, tlcore; print(sorted(m for m in sys.modules "
                           "if m.split('.')[0] in ('fastapi', 'uvicorn') or m.startswith('tlcore.serve')))"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr


def run_batcher(sizes: list[int], max_rows: int, forward=None):
    """Requests of these many rows sent at once: (their answers in order of completion, each pass's rows)."""
    passes, finished = [], []

    def record(x: torch.Tensor):
        passes.append(len(x))
        return forward(x) if forward else x.numpy() * 2

    async def main():
        batcher = MicroBatcher(record, max_rows=max_rows)
        batcher.start()

        async def one(i: int):
            start = sum(sizes[:i])
            try:
                result = await batcher.predict(torch.arange(start, start + sizes[i], dtype=torch.float32))
            except RuntimeError as exc:
                result = exc
            finished.append((i, result))

        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(len(sizes)))), 10)  # a hang fails
        await batcher.stop()
        return batcher

    batcher = asyncio.run(main())
    return finished, passes, batcher


def test_the_batcher_merges_requests_arriving_together():
    finished, passes, batcher = run_batcher([1, 2, 1], max_rows=8)
    assert passes == [4] and (batcher.requests, batcher.rows, batcher.passes) == (3, 4, 1)
    results = dict(finished)
    assert [results[i].tolist() for i in range(3)] == [[0.0], [2.0, 4.0], [6.0]]


def test_a_large_request_goes_in_slices_behind_the_small_ones():
    finished, passes, _ = run_batcher([10, 1], max_rows=4)
    assert passes == [4, 4, 3]  # the small request rode in the second pass, with the large one's next slice
    assert [i for i, _ in finished] == [1, 0]
    assert dict(finished)[0].tolist() == [2.0 * i for i in range(10)]


def test_a_failed_pass_fails_its_requests_and_the_batcher_goes_on():
    def forward(x):
        if x[0] == 0:  # the first pass
            raise RuntimeError("no memory")
        return x.numpy()

    finished, passes, _ = run_batcher([2, 1, 5], max_rows=3, forward=forward)
    results = dict(finished)
    assert isinstance(results[0], RuntimeError) and isinstance(results[1], RuntimeError)
    assert results[2].tolist() == [3.0, 4.0, 5.0, 6.0, 7.0]


def test_ctrl_c_stops_the_server_cleanly(text_server):
    """Last: it stops the module's text server."""
    assert text_server.stop() == 0
    assert "Traceback" not in text_server.err.read_text()
