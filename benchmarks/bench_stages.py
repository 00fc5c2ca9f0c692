"""Fine-tuning in one stage against two (not a test; prints a table): the same data, split, seed and
settings, with the top blocks trained together with a new random head from the start, or after the head
has been fitted alone on the frozen backbone (then everything at a tenth of the learning rate).

Run from the repository root: python -m benchmarks.bench_stages
"""
from __future__ import annotations

from tlcore import TrainConfig, build_dataset, describe_device, resolve_device, train
from tlcore.data import digits_sample


def main() -> None:
    print(f"{describe_device(resolve_device('auto'))}; EfficientNet-Lite0, linear head, 15 epochs, patience 5")
    print(f"{'dataset':30} {'blocks':>6} {'stages':>6} {'AUC':>7} {'accuracy':>9} {'kept epoch':>10} {'seconds':>8}")
    sets = [("app sample, 400 digits", build_dataset(digits_sample())),
            ("all 1,797 digits", build_dataset(digits_sample(per_class=1000)))]
    for name, dataset in sets:
        for blocks in (1, 2):
            for two_stage in (False, True):
                run = train(dataset, TrainConfig(trainable_blocks=blocks, two_stage=two_stage))
                print(f"{name:30} {blocks:>6} {2 if two_stage else 1:>6} {run.report.auc:>7.4f} "
                      f"{run.report.accuracy:>9.3f} {run.facts.best_epoch:>10} {run.facts.timings_s['total']:>8.1f}",
                      flush=True)


if __name__ == "__main__":
    main()
