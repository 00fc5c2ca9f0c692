"""The layer sweep on image sets (not a test; prints a table): validation AUC of the default linear head
on each block of EfficientNet-Lite0, the block it recommends, and the seconds the sweep took with an
empty cache and again with the features cached; then a run on the recommended block after the sweep.

Run from the repository root: python -m benchmarks.bench_layers
"""
from __future__ import annotations

import tempfile
import time

from benchmarks.bench_accuracy import noisy_digits
from tests.conftest import colour_records
from tlcore import TrainConfig, build_dataset, describe_device, resolve_device, train
from tlcore.data import digits_sample
from tlcore.engine.cache import TensorCache
from tlcore.runs.layer_sweep import sweep_layers


def main() -> None:
    print(f"{describe_device(resolve_device('auto'))}; EfficientNet-Lite0, default settings, seed 0")
    sets = [("app sample, 400 digits", build_dataset(digits_sample())),
            ("all 1,797 digits", build_dataset(digits_sample(per_class=1000))),
            ("1,797 digits, noisy and shifted", build_dataset(noisy_digits())),
            ("grey noise, one class 6 levels redder", build_dataset(colour_records()))]
    for name, dataset in sets:
        with tempfile.TemporaryDirectory() as folder:
            cache = TensorCache(folder)
            started = time.perf_counter()
            sweep = sweep_layers(dataset, TrainConfig(), cache=cache)
            cold = time.perf_counter() - started
            started = time.perf_counter()
            sweep_layers(dataset, TrainConfig(), cache=cache)
            cached = time.perf_counter() - started
            run = train(dataset, TrainConfig(feature_block=sweep.recommended), cache=cache)
        aucs = " ".join(f"{b.auc:.3f}" for b in sweep.blocks)
        print(f"{name:40} AUC per block: {aucs} | recommended {sweep.recommended} | sweep {cold:.1f} s, cached "
              f"{cached:.1f} s | run on it {run.facts.timings_s['total']:.1f} s, "
              f"AUC {run.report.auc:.3f}", flush=True)


if __name__ == "__main__":
    main()
