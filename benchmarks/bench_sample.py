"""Measure the README's performance table on this machine (not a test; prints a table).

- images per second of feature extraction (decode + resize + backbone forward) with the bundled backbone
- time from pressing Train to AUC for the sample data, with 0 and 1 trainable blocks (cold caches)
- the same runs again with another learning rate (caches hit), as a ratio to the cold run

Run from the repository root: python -m benchmarks.bench_sample [--per-class N]
"""
from __future__ import annotations

import argparse
import time

import torch

from tlcore import TrainConfig, build_dataset, describe_device, digits_sample, get_backbone_info, resolve_device
from tlcore import train
from tlcore.engine.cache import TensorCache
from tlcore.backbones.preprocessing import load_pixels
from tlcore.engine.adapters import ImageAdapter
from tlcore.engine.frozen import frozen_pass
from tlcore.engine.freezing import apply_freeze
from tlcore.engine.model import TransferModel
from tlcore.backbones import create_backbone


def extraction_rate(dataset, backbone: str, device: torch.device) -> float:
    prep = get_backbone_info(backbone).preprocessing
    model = TransferModel(create_backbone(backbone), len(dataset.classes)).to(device)
    boundary = apply_freeze(model, 0)
    start = time.perf_counter()
    pixels = load_pixels([(e.name, e.data) for e in dataset.examples], prep)
    frozen_pass(model, ImageAdapter(prep), pixels, boundary, device=device)
    return len(dataset) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-class", type=int, default=40)
    parser.add_argument("--backbone", default="efficientnet_lite0")
    args = parser.parse_args()
    device = resolve_device("auto")
    dataset = build_dataset(digits_sample(per_class=args.per_class))
    print(f"{len(dataset)} sample images, {args.backbone}, {describe_device(device)}")
    print(f"feature extraction: {extraction_rate(dataset, args.backbone, device):.1f} images/s")
    print(f"{'run':44} {'seconds':>8} {'AUC':>6} {'vs cold':>8}")
    for k in (0, 1):
        cache = TensorCache(None)  # in memory: the app's process keeps its caches
        cold = train(dataset, TrainConfig(backbone=args.backbone, trainable_blocks=k), cache=cache)
        warm = train(dataset, TrainConfig(backbone=args.backbone, trainable_blocks=k,
                                                           learning_rate=1e-3), cache=cache)
        t_cold, t_warm = cold.facts.timings_s["total"], warm.facts.timings_s["total"]
        print(f"{f'Train -> AUC, {k} trainable blocks, cold':44} {t_cold:8.1f} {cold.report.auc:6.3f} {1:8.2f}")
        print(f"{f'again, other learning rate (caches hit)':44} {t_warm:8.1f} {warm.report.auc:6.3f} "
              f"{t_warm / t_cold:8.2f}")


if __name__ == "__main__":
    main()
