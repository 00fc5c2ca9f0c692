"""Measure how long the Evaluate page takes to rerun on a run with many validation images (not a test;
prints a table).

A saved run with 1,000 validation images (small generated pictures in two classes, a frozen backbone,
a few epochs) is opened on the Evaluate page through Streamlit's AppTest, then:

- threshold: the threshold slider moves to a value it has not had before, and the page reruns
- tab: a widget in another tab changes (the example of "What the model looks at", the layout of the
  embedding map), as a reader going from tab to tab does; every tab runs on every rerun

Each rerun is timed from the change to the finished script (AppTest runs the page in this process).
"first" is the first rerun of a kind (the threshold's first move; the first look at another example,
whose heat map is new); then each kind is repeated and its median and maximum reported.
AppTest compiles the page's scripts again on each run, which a server does once (its script cache keeps
the bytecode); the scripts are compiled once here too, unless --compile-each-run.

Run from the repository root: python -m benchmarks.bench_pages [--val N] [--repeat N]
"""
from __future__ import annotations

import argparse
import atexit
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
# Runs are saved to, and caches kept in, throw-away folders (set before tlcore makes its caches), the
# same ones in the process that trains the run; the process that made them removes them at the end.
for variable, tlcore_variable, prefix in (("BENCH_PAGES_RUNS", "TLCORE_RUNS_DIR", "bench-pages-runs-"),
                                          ("BENCH_PAGES_CACHE", "TLCORE_CACHE_DIR", "bench-pages-cache-")):
    if variable not in os.environ:
        os.environ[variable] = tempfile.mkdtemp(prefix=prefix)
        atexit.register(shutil.rmtree, os.environ[variable], ignore_errors=True)
    os.environ[tlcore_variable] = os.environ[variable]
sys.path.insert(0, str(REPO))

from streamlit.runtime.scriptrunner.script_cache import ScriptCache  # noqa: E402
from streamlit.testing.v1 import AppTest, app_test  # noqa: E402

import tlcore  # noqa: E402
from tlcore import TrainConfig, build_dataset, save_run  # noqa: E402
from tlcore.data import Record  # noqa: E402

TIMEOUT = 600


def picture(kind: str, rng: np.random.Generator, size: int = 64) -> bytes:
    """Class 'disc': a dark disc on light noise; class 'bars': dark horizontal bars. As PNG bytes."""
    image = Image.fromarray(rng.integers(170, 255, (size, size, 3), dtype=np.uint8))
    draw = ImageDraw.Draw(image)
    dx, dy = (int(v) for v in rng.integers(-6, 6, 2))
    if kind == "disc":
        r = size // 3
        draw.ellipse([size // 2 + dx - r, size // 2 + dy - r, size // 2 + dx + r, size // 2 + dy + r], fill=(30, 30, 30))
    else:
        for y in range(10 + dy, size, 16):
            draw.rectangle([0, y, size, y + 6], fill=(30, 30, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def records(per_class: int, prefix: str, seed: int) -> list[Record]:
    rng = np.random.default_rng(seed)
    return [Record(kind, f"{prefix}/{kind}/{i:04d}.png", picture(kind, rng))
            for kind in ("disc", "bars") for i in range(per_class)]


def train_run(n_val: int) -> Path:
    """A saved run: 100 training images, n_val validation images, 0 trainable blocks, 3 epochs, in
    $TLCORE_RUNS_DIR/bench-run."""
    train_set, val_set = build_dataset(records(50, "train", 0)), build_dataset(records(n_val // 2, "val", 1))
    config = TrainConfig(epochs=3, trainable_blocks=0, device="cpu")
    if hasattr(tlcore, "train"):
        result = tlcore.train(train_set, config, val_dataset=val_set)
    else:  # the engine before its rewrite (to measure the pages as they were)
        result = tlcore.train_image_classifier(train_set, config, val_dataset=val_set)
    return save_run(result, Path(os.environ["TLCORE_RUNS_DIR"]) / "bench-run")


def timed(app: AppTest) -> float:
    start = time.perf_counter()
    app.run()
    elapsed = time.perf_counter() - start
    if app.exception:
        raise RuntimeError(app.exception[0].message)
    return elapsed * 1000


def widget(app: AppTest, kind: str, label_start: str):
    return next(w for w in getattr(app, kind) if w.label.startswith(label_start))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--val", type=int, default=1000, help="validation images")
    parser.add_argument("--repeat", type=int, default=5, help="reruns of each kind")
    parser.add_argument("--compile-each-run", action="store_true",
                        help="AppTest's own behaviour: a new script cache, so a new compile, on every run")
    parser.add_argument("--settle", type=float, default=20.0,
                        help="seconds to wait after the first render: the app starts a worker process for training "
                             "then, which imports the engine, as a server has long before anyone moves a slider")
    parser.add_argument("--train-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_only:
        train_run(args.val)
        return
    if not args.compile_each_run:
        shared = ScriptCache()
        app_test.ScriptCache = lambda: shared  # one cache for every run, as the server keeps one

    # Trained in a process of its own, as the app's workers do: this one then holds what a server holds
    # (the saved run as the page reads it), not the training's data and objects.
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "benchmarks.bench_pages", "--train-only", "--val", str(args.val)],
                   cwd=REPO, env=os.environ, check=True, stdout=subprocess.DEVNULL)
    train_s = time.perf_counter() - start

    app = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    app.switch_page("views/4_Evaluate.py")
    first_ms = timed(app)  # loads the run, its images and the model; the first heat map and map
    assert app.selectbox[0].value.endswith("bench-run"), app.selectbox[0].value
    time.sleep(args.settle)

    results: dict[str, list[float]] = {}
    first: dict[str, float] = {}

    # The threshold: each rerun a value not seen before, as when a reader drags the slider along.
    slider = lambda: widget(app, "slider", "Threshold")  # noqa: E731
    values = [round(0.30 + 0.03 * i, 2) for i in range(args.repeat + 1)]
    slider().set_value(values[0])
    first["threshold"] = timed(app)
    results["threshold"] = []
    for v in values[1:]:
        slider().set_value(v)
        results["threshold"].append(timed(app))

    # Another tab: the example looked at (Grad-CAM), then the embedding map's layout, in turn. Each value
    # is visited once first (a new example's heat map, a new layout are computed once).
    look = lambda: widget(app, "selectbox", "Validation image")  # noqa: E731
    radio = lambda: widget(app, "radio", "Layout")  # noqa: E731
    rows, layouts = list(look().options[:2]), list(radio().options[:2])
    look().set_value(rows[1])
    first["tab"] = timed(app)
    radio().set_value(layouts[1])
    layout_ms = timed(app)
    shown = {"look": 1, "layout": 1}
    results["tab"] = []
    for i in range(args.repeat):
        if i % 2 == 0:
            shown["look"] = 1 - shown["look"]
            look().set_value(rows[shown["look"]])
        else:
            shown["layout"] = 1 - shown["layout"]
            radio().set_value(layouts[shown["layout"]])
        results["tab"].append(timed(app))

    print(f"Evaluate page, {args.val} validation images (run trained and saved in {train_s:.0f} s); "
          f"first render {first_ms:.0f} ms, first {layouts[1]} layout {layout_ms:.0f} ms; "
          f"scripts compiled {'on every run' if args.compile_each_run else 'once'}")
    print(f"{'rerun after':<12} {'first (ms)':>10} {'median (ms)':>12} {'max (ms)':>10} {'reruns':>7}")
    for name, times in results.items():
        print(f"{name:<12} {first[name]:>10.0f} {statistics.median(times):>12.0f} {max(times):>10.0f} "
              f"{len(times):>7}")


if __name__ == "__main__":
    main()
