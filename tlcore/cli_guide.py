"""`python -m tlcore recommend | learning-curve | layer-sweep`: the guidance on the user's data, from the command
line, as a table and a sentence on screen and, with --out, as JSON."""
from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path

from .cli_data import ConsoleProgress, add_data_arguments, cluster_address, on_cluster, read_datasets
from .core.config import default_config
from .core.errors import ConfigError


def _json_target(out: str | None) -> Path | None:
    """Where --out may write: a .json file that is not a folder (checked before minutes of work)."""
    if out is None:
        return None
    path = Path(out)
    if path.is_dir() or path.suffix.lower() != ".json":
        raise ConfigError(f"'{out}' is not a .json file name. Nothing was written. Type one, e.g. --out advice.json.")
    return path


def _write_json(path: Path | None, data: dict) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        print(f"Wrote {path}")


def _config(args):
    """The task's defaults with the data arguments (and --backbone and --feature-block, where the command
    has them)."""
    config = replace(default_config(args.task), val_fraction=args.val_fraction, seed=args.seed, device=args.device,
                     feature_block=getattr(args, "feature_block", None))
    return replace(config, backbone=args.backbone) if getattr(args, "backbone", None) else config


def _answer(args, work):
    """Where --out writes (checked first), and the answer of `work(dataset, config, val_dataset)` on the
    command's data with the task's settings: here, or on the cluster; its progress on the console."""
    out = _json_target(args.out)
    dataset, val_dataset = read_datasets(args)
    work = work(dataset, _config(args), val_dataset)
    if not cluster_address(args):
        return out, work([ConsoleProgress()], None)
    job = on_cluster(args, work)
    shutil.rmtree(job.folder, ignore_errors=True)
    return out, job.outcome


def cmd_recommend(args) -> int:
    from .runs.work import RecommendWork

    backbones = tuple(args.backbones) if args.backbones else None
    out, advice = _answer(args, lambda data, config, val: RecommendWork(data, config, val, backbones))
    print(f"\n{'backbone':38} {'AUC':>6} {'95 % interval':>15} {'seconds':>8}")
    for b in advice.backbones:
        if b.auc is None:
            print(f"{b.name:38} not probed: {b.problem}")
        else:
            print(f"{b.name:38} {b.auc:>6.3f} {_interval(b.auc_low, b.auc_high):>15} {b.seconds:>8.1f}")
    chosen = advice.recommended
    block = f", feature block {chosen['feature_block']}" if chosen["feature_block"] else ""
    print(f"\nRecommended: {chosen['backbone']} with {chosen['trainable_blocks']} trainable blocks{block}.")
    print(chosen["reason"])
    _write_json(out, advice.to_dict())
    return 0


def cmd_learning_curve(args) -> int:
    from .runs.work import curve_work

    out, curve = _answer(args, curve_work)
    print(f"\n{'examples per class':>18} {'transfer AUC':>13} {'baseline AUC':>13}   (baseline: {curve.baseline})")
    baseline = {p.per_class: p for p in curve.points if p.method == "baseline"}
    for p in (p for p in curve.points if p.method == "transfer"):
        b = baseline.get(p.per_class)
        print(f"{p.per_class:>18,} {_auc(p.auc):>13} {_auc(b.auc if b else None):>13}")
    if curve.zero_shot is not None:
        print(f"{0:>18} {_auc(curve.zero_shot['auc']):>13}   (no training: similarity to the class names)")
    print(f"\n{curve.advice}")
    _write_json(out, curve.to_dict())
    return 0


def cmd_layer_sweep(args) -> int:
    from .runs.work import layer_work

    out, sweep = _answer(args, layer_work)
    print(f"\n{'block':>5} {'name':12} {'features':>8} {'AUC':>6} {'95 % interval':>15}")
    for b in sweep.blocks:
        print(f"{b.block:>5} {b.name:12} {b.features:>8,} {_auc(b.auc):>6} {_interval(b.auc_low, b.auc_high):>15}")
    print(f"\n{sweep.reason}")
    if sweep.earlier_wins:
        print(f"Train on it with --feature-block {sweep.recommended}.")
    _write_json(out, sweep.to_dict())
    return 0


def _auc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _interval(low: float | None, high: float | None) -> str:
    return "" if low is None else f"{low:.3f}-{high:.3f}"


def add_guide_commands(sub: argparse._SubParsersAction) -> None:
    recommend = sub.add_parser("recommend", help="probe every usable backbone on your data and recommend a start")
    add_data_arguments(recommend)
    recommend.add_argument("--backbones", nargs="+", help="only these (default: every one usable on this machine)")
    recommend.add_argument("--out", help="also write the ranking and the recommendation as JSON to this file")
    recommend.set_defaults(func=cmd_recommend)

    curve = sub.add_parser("learning-curve",
                           help="validation AUC against examples per class, with and without transfer")
    add_data_arguments(curve)
    curve.add_argument("--backbone", help="see `backbones` (default: efficientnet_lite0 / all-MiniLM-L6-v2)")
    curve.add_argument("--feature-block", type=int, help="images: the curve of features from this block (see train)")
    curve.add_argument("--out", help="also write the points and the advice as JSON to this file")
    curve.set_defaults(func=cmd_learning_curve)

    layers = sub.add_parser("layer-sweep", help="images: which block of the backbone gives the best features")
    add_data_arguments(layers)
    layers.add_argument("--backbone", help="an image backbone, see `backbones` (default: efficientnet_lite0)")
    layers.add_argument("--out", help="also write each block's AUC and the advice as JSON to this file")
    layers.set_defaults(func=cmd_layer_sweep)
