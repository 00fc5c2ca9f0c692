"""`python -m tlcore train | sweep`: train once, or at several depths, here or on a cluster, and save the runs."""
from __future__ import annotations

import argparse
import shutil
from contextlib import contextmanager
from pathlib import Path

from .backbones import get_backbone_info
from .cli_data import ConsoleProgress, add_data_arguments, cluster_address, on_cluster, read_datasets
from .core.config import HEADS, TrainConfig, default_config
from .core.errors import ConfigError, RunPathError
from .engine.reuse import describe_reuse


@contextmanager
def _out_folder_hint():
    """A --out that cannot take a run is refused in the command line's words."""
    try:
        yield
    except RunPathError as exc:
        raise RunPathError(exc.problem, "Type a new folder for the run instead, e.g. --out runs/my-run.") from None


def _train_config(args) -> TrainConfig:
    task_defaults = default_config(args.task)
    backbone = get_backbone_info(args.backbone or task_defaults.backbone)
    last = backbone.num_blocks if backbone.modality == "image" else None
    return TrainConfig(
        backbone=backbone.name, trainable_blocks=args.trainable_blocks,
        epochs=args.epochs, learning_rate=args.lr or task_defaults.learning_rate, batch_size=args.batch_size,
        augment=args.augment,
        early_stopping_patience=args.patience, val_fraction=args.val_fraction, seed=args.seed, device=args.device,
        head=args.head, word_vectors_file=args.word_vectors, two_stage=args.two_stage,
        feature_block=None if args.feature_block == last else args.feature_block,  # the last: the whole backbone
    )


def _trained_on_cluster(args, work, config: TrainConfig, names: list[str], out: Path) -> None:
    """Run a training work on the cluster and save its runs `names` under `out` (out itself for one)."""
    from .runs.files import copy_run

    job = on_cluster(args, work, config.planned_epochs)
    try:
        for name in names:
            with _out_folder_hint():
                copy_run(job.folder / name, out if len(names) == 1 else out / name, overwrite=True)
    finally:
        shutil.rmtree(job.folder, ignore_errors=True)


def cmd_train(args) -> int:
    from .runs.files import load_run, save_run
    from .runs.folders import check_run_target
    from .runs.data_parallel import check_workers
    from .runs.train import train
    from .runs.work import RUN_FOLDER, TrainWork

    with _out_folder_hint():
        check_run_target(args.out)  # before training, so no minutes are spent on a run that cannot be saved
    config = _train_config(args)
    if args.workers > 1 and not cluster_address(args):
        raise ConfigError(f"--workers {args.workers} shares the fine-tune between workers of a Ray cluster: add "
                          "--cluster HOST:PORT (\"local\" starts a Ray on this machine), or leave --workers out.")
    check_workers(config, args.workers)
    dataset, val_dataset = read_datasets(args)
    if cluster_address(args):
        _trained_on_cluster(args, TrainWork(dataset, config, val_dataset, args.workers), config, [RUN_FOLDER],
                            Path(args.out))
        run = load_run(args.out)
    else:
        run = train(dataset, config, val_dataset=val_dataset, callbacks=[ConsoleProgress()])
    if run.facts.truncated_texts:
        print(f"{run.facts.truncated_texts} texts were longer than {run.facts.max_tokens} tokens "
              "and were cut to that length.")
    print(describe_reuse(run.facts.reuse))
    if run.folder is None:
        with _out_folder_hint():
            save_run(run, args.out)
    auc = "n/a" if run.report.auc is None else f"{run.report.auc:.4f}"
    print(f"AUC {auc}  accuracy {run.report.accuracy:.4f}  on {run.report.n} validation {dataset.report.unit}s "
          f"({_where(run)}, {run.facts.timings_s['total']:.1f}s). Saved to {args.out}")
    return 0


def _where(run) -> str:
    cluster = run.facts.cluster
    if not cluster:
        return run.facts.device
    shared = f", shared by {cluster['workers']} workers" if cluster["workers"] > 1 else ""
    return f"{run.facts.device} on the cluster's {cluster['node']}{shared}"


def cmd_sweep(args) -> int:
    from .runs.files import load_run
    from .runs.work import SweepWork

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunPathError(f"'{args.out}' already exists and is not an empty folder, so nothing is written there.",
                           "Type a new folder for the sweep instead, e.g. --out runs/my-sweep.")
    config = _train_config(args)
    depths = tuple(sorted(set(args.depths)))
    dataset, val_dataset = read_datasets(args)
    work = SweepWork(dataset, config, depths, val_dataset)
    names = [f"run-{depth}" for depth in depths]
    if cluster_address(args):
        _trained_on_cluster(args, work, config, names, out)
    else:
        out.mkdir(parents=True, exist_ok=True)
        work([ConsoleProgress()], out)
    print(f"\n{'trainable blocks':>16} {'AUC':>7} {'accuracy':>9} {'seconds':>8}  run")
    for depth, name in zip(depths, names):
        run = load_run(out / name)
        auc = "n/a" if run.report.auc is None else f"{run.report.auc:.4f}"
        print(f"{depth:>16} {auc:>7} {run.report.accuracy:>9.4f} {run.facts.timings_s['total']:>8.1f}  {out / name}")
    return 0


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """How to train: the same for train and sweep."""
    defaults = TrainConfig()
    parser.add_argument("--backbone", help="see `backbones` (default: efficientnet_lite0 / all-MiniLM-L6-v2)")
    parser.add_argument("--head", default=defaults.head, choices=list(HEADS))
    parser.add_argument("--word-vectors", help="a GloVe-format .txt for the word-vectors backbone")
    parser.add_argument("--trainable-blocks", type=int, default=defaults.trainable_blocks)
    parser.add_argument("--feature-block", type=int,
                        help="images: pool the output of this block (counted from 1; see `backbones`) and drop the "
                             "blocks above it (default: the last block)")
    parser.add_argument("--two-stage", action=argparse.BooleanOptionalAction, default=defaults.two_stage,
                        help="with trainable blocks: fit the head on the frozen backbone first, then fine-tune "
                             "at a tenth of the learning rate (default)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--lr", type=float, help="learning rate (default: 0.003 for images, 0.01 for texts)")
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=defaults.augment)
    parser.add_argument("--patience", type=int, default=defaults.early_stopping_patience,
                        help="early-stopping patience in epochs (0 = off)")


def add_train_commands(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a classifier on images (class folders or a zip) or texts (a table)")
    add_data_arguments(train)
    train.add_argument("--out", required=True, help="run folder to write")
    train.add_argument("--workers", type=int, default=1,
                       help="on a cluster: share a fine-tune between this many workers (data-parallel; default 1)")
    add_training_arguments(train)
    train.set_defaults(func=cmd_train)

    sweep = sub.add_parser("sweep", help="train at several numbers of trainable blocks (a depth sweep), same split")
    add_data_arguments(sweep)
    sweep.add_argument("--depths", type=int, nargs="+", default=[0, 1, 2, 3],
                       help="the numbers of trainable blocks to train at (default: 0 1 2 3)")
    sweep.add_argument("--out", required=True, help="a new folder; each depth's run is saved in it as run-K")
    add_training_arguments(sweep)
    sweep.set_defaults(func=cmd_sweep)
