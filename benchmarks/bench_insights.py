"""Measure what the insight views cost on this machine (not a test; prints a table).

- a depth sweep over trainable blocks 0, 1, 2 on the sample, cold and again (caches hit)
- the Evaluate page's numbers: bootstrap intervals, the embedding map (PCA, t-SNE), Grad-CAM per image
- the backbone's own ImageNet top 5 for one photo, and how much a saved run grows with its validation data

Run from the repository root: python -m benchmarks.bench_insights [--per-class N]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tlcore import TrainConfig, build_dataset, describe_device, digits_sample, resolve_device, save_run
from tlcore.insight.embedding_map import project
from tlcore.insight.explain import ImagenetModel, grad_cam
from tlcore.insight.metrics import bootstrap_intervals
from tlcore.runs.run import Run
from tlcore.runs.sweep import sweep_depths


def timed(work):
    start = time.perf_counter()
    value = work()
    return value, time.perf_counter() - start


def folder_size(path: Path, pattern: str = "*") -> int:
    return sum(p.stat().st_size for p in path.rglob(pattern) if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-class", type=int, default=40)
    args = parser.parse_args()
    dataset = build_dataset(digits_sample(per_class=args.per_class))
    config = TrainConfig()
    with tempfile.TemporaryDirectory() as cache_dir:
        os.environ["TLCORE_CACHE_DIR"] = cache_dir  # a cold cache, before the process-wide one is made
        cold, cold_s = timed(lambda: sweep_depths(dataset, config, [0, 1, 2]))
        _, warm_s = timed(lambda: sweep_depths(dataset, config, [0, 1, 2]))
    record = cold[1]
    _, pixels_s = timed(lambda: record.pixels)
    _, boot_s = timed(lambda: bootstrap_intervals(record.y_val, record.val_proba))
    _, pca_s = timed(lambda: project(record.features["fine-tuned"], "PCA"))
    _, tsne_s = timed(lambda: project(record.features["fine-tuned"], "t-SNE"))
    grad_cam(record.classifier, record.pixels[:1], [0])  # the first call pays one-off set-up costs
    _, cam_s = timed(lambda: grad_cam(record.classifier, record.pixels[:8], [0] * 8))
    model, build_s = timed(lambda: ImagenetModel(config.backbone))
    _, top_s = timed(lambda: model.top(record.pixels[:1]))
    with tempfile.TemporaryDirectory() as runs:
        run = save_run(cold[1], Path(runs) / "run")
        extra = folder_size(run / "validation") + (run / "validation.safetensors").stat().st_size
        total = folder_size(run)

    print(f"device: {describe_device(resolve_device('auto'))}; {len(dataset)} images, "
          f"{len(record.y_val)} validation")
    print("| measure | value |\n|---|---|")
    aucs = ", ".join(f"{r.report.auc:.3f}" for r in cold)
    each = " / ".join(f"{r.facts.timings_s['total']:.1f}" for r in cold)
    print(f"| depth sweep 0, 1, 2 trainable blocks, cold | {cold_s:.1f} s ({each} s; AUC {aucs}) |")
    print(f"| the same sweep again (caches hit) | {warm_s:.1f} s ({warm_s / cold_s:.2f}x) |")
    print(f"| validation images decoded for the views | {pixels_s:.2f} s |")
    print(f"| bootstrap 95% intervals (1,000 resamples) | {boot_s * 1000:.0f} ms |")
    print(f"| embedding map: PCA / t-SNE | {pca_s * 1000:.0f} ms / {tsne_s:.2f} s |")
    print(f"| Grad-CAM | {cam_s / 8 * 1000:.0f} ms per image |")
    print(f"| ImageNet top 5: load backbone / one image | {build_s:.2f} s / {top_s * 1000:.0f} ms |")
    print(f"| saved run: validation data and images | {extra / 1e6:.1f} MB of {total / 1e6:.1f} MB |")


if __name__ == "__main__":
    main()
