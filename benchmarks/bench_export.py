"""Measure the README's export rows on this machine (not a test; prints a table).

- seconds to export (convert to ONNX, then check against the app on the validation examples) and the
  size of model.onnx, for the bundled image and text backbones trained on the samples
- predictions per second of the exported model through onnxruntime (predict.py's own code) against
  the app's own prediction (PyTorch, the app's precision setting), from files for images (decode,
  resize, crop, network) and from strings for texts (tokenize, network), then the network alone on
  the same prepared inputs; best of three

Run from the repository root: python -m benchmarks.bench_export
"""
from __future__ import annotations

import json
import runpy
import tempfile
import time
from pathlib import Path

from tlcore import TrainConfig, build_dataset, describe_device, resolve_device, save_run, train
from tlcore.data import Table, build_text_dataset, digits_sample, text_sample
from tlcore.runs.export import export_onnx
from tlcore.runs.export.graph import graph_inputs
from tlcore.runs.files import load_classifier


def best_rate(n: int, work, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return n / best


def measure(label: str, run, inputs, write_inputs, folder: Path) -> None:
    saved = save_run(run, folder / "run")
    start = time.perf_counter()
    export = export_onnx(saved, folder / "export")
    seconds = time.perf_counter() - start
    size = (export / "model.onnx").stat().st_size / 1024**2
    classifier = load_classifier(saved)  # the app's own prediction first, before onnxruntime's threads exist
    prepared = classifier.adapter.encode(inputs)
    app = best_rate(len(inputs), lambda: classifier.predict_table(inputs))
    app_net = best_rate(len(inputs), lambda: classifier.proba(prepared))
    feeds = graph_inputs(classifier, prepared)

    script = runpy.run_path(str(export / "predict.py"))  # the exported script's own functions, in this process
    import onnxruntime

    labels = json.loads((export / "labels.json").read_text())
    session = onnxruntime.InferenceSession(str(export / "model.onnx"), providers=["CPUExecutionProvider"])
    items = write_inputs(folder)
    onnx = best_rate(len(inputs), lambda: script["classify"](session, labels, items))

    def onnx_network():
        for start in range(0, len(inputs), 32):
            session.run(["probabilities"], {k: v[start:start + 32].numpy() for k, v in feeds.items()})

    onnx_net = best_rate(len(inputs), onnx_network)
    print(f"{label:34} {seconds:8.1f} {size:6.1f} {app:9.1f} {onnx:9.1f} {onnx / app:6.2f} "
          f"{app_net:9.1f} {onnx_net:9.1f} {onnx_net / app_net:6.2f}")


def main() -> None:
    device = resolve_device("auto")
    print(f"{describe_device(device)}; export checks on the validation examples")
    print(f"{'':34} {'':8} {'':6} {'from inputs (files or strings)':^26} {'the network alone':^26}")
    print(f"{'run':34} {'export s':>8} {'MB':>6} {'app /s':>9} {'onnx /s':>9} {'ratio':>6} "
          f"{'app /s':>9} {'onnx /s':>9} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        images = build_dataset(digits_sample())
        run = train(images, TrainConfig(val_fraction=0.2))
        files = [(e.name.replace("/", "_"), e.data) for e in images.examples]

        def write_images(folder: Path) -> list[str]:
            (folder / "photos").mkdir()
            for name, data in files:
                (folder / "photos" / name).write_bytes(data)
            return [str(folder / "photos")]

        measure(f"images: efficientnet_lite0, {len(files)} files", run, files, write_images, Path(tmp) / "images")
        texts = build_text_dataset(Table(text_sample(), "sample"), "text", "label")
        run = train(texts, TrainConfig(backbone="all-MiniLM-L6-v2", learning_rate=1e-2, val_fraction=0.2))
        sentences = text_sample()["text"].tolist() * 4
        measure(f"texts: all-MiniLM-L6-v2, {len(sentences)} texts", run, sentences, lambda folder: sentences,
                Path(tmp) / "texts")


if __name__ == "__main__":
    main()
