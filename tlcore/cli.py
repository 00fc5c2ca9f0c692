"""`python -m tlcore backbones | train | predict`: the app's engine without the browser."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .backbones import list_backbones
from .config import TrainConfig
from .data import ValidationReport, build_dataset, read_data_path
from .data.images import IMAGE_SUFFIXES
from .errors import DataError, TLCoreError
from .training import Callback, EpochLog, Trainer


def _print_report(title: str, report: ValidationReport) -> None:
    print(f"{title}: {sum(report.class_counts.values())} images in {len(report.class_counts)} classes")
    for label, count in report.class_counts.items():
        print(f"  {label}: {count}")
    if report.skipped:
        print(f"Skipped {len(report.skipped)} files:")
        for item in report.skipped:
            print(f"  {item.name}: {item.reason}")


class _ConsoleProgress(Callback):
    def __init__(self):
        self._phase = None

    def on_phase(self, phase: str, done: int, total: int) -> None:
        if phase != self._phase or done == total:
            print(f"{phase}: {done}/{total}", flush=True)
            self._phase = phase

    def on_epoch_end(self, trainer: Trainer, log: EpochLog) -> None:
        print(f"epoch {log.epoch}: train loss {log.train_loss:.4f} acc {log.train_accuracy:.3f} | "
              f"val loss {log.val_loss:.4f} acc {log.val_accuracy:.3f} ({log.seconds:.1f}s)", flush=True)


def cmd_backbones(args) -> int:
    print(f"{'name':20} {'modality':8} {'parameters':>11} {'blocks':>6}  offline")
    for info in list_backbones():
        print(f"{info.name:20} {info.modality:8} {info.num_params:>11,} {info.num_blocks:>6}  "
              f"{'yes' if info.offline else 'no (downloads on first use)'}")
    return 0


def cmd_train(args) -> int:
    from .experiment import train_image_classifier
    from .persistence import save_run

    config = TrainConfig(
        backbone=args.backbone, trainable_blocks=args.trainable_blocks, epochs=args.epochs,
        learning_rate=args.lr, batch_size=args.batch_size, augment=args.augment,
        early_stopping_patience=args.patience, val_fraction=args.val_fraction, seed=args.seed, device=args.device,
    )
    dataset = build_dataset(*read_data_path(args.data))
    _print_report("Training data", dataset.report)
    val_dataset = None
    if args.val_data:
        val_dataset = build_dataset(*read_data_path(args.val_data))
        _print_report("Validation data", val_dataset.report)
    result = train_image_classifier(dataset, config, val_dataset=val_dataset, callbacks=[_ConsoleProgress()])
    save_run(result, args.out)
    auc = "n/a" if result.report.auc is None else f"{result.report.auc:.4f}"
    print(f"AUC {auc}  accuracy {result.report.accuracy:.4f}  on {result.report.n} validation images "
          f"({result.device}, {result.timings_s['total']:.1f}s). Saved to {args.out}")
    return 0


def _expand_inputs(inputs: list[str]) -> list[tuple[str, bytes]]:
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files += [(str(p), p.read_bytes()) for p in sorted(path.rglob("*"))
                      if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        elif path.is_file():
            files.append((str(path), path.read_bytes()))
        else:
            raise DataError(f"'{item}' does not exist. Give image files or folders of images.")
    if not files:
        raise DataError("No images found in the inputs. Give image files or folders of images.")
    return files


def cmd_predict(args) -> int:
    from .persistence import load_run

    classifier = load_run(args.run_dir)
    table = classifier.predict_table(_expand_inputs(args.inputs))
    table.to_csv(args.out, index=False)
    failed = table["predicted"].isna().sum()
    print(f"Wrote {len(table)} predictions to {args.out}" + (f" ({failed} unreadable, see 'problem')" if failed else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tlcore", description="Transfer learning without the browser.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("backbones", help="list the backbone registry").set_defaults(func=cmd_backbones)

    defaults = TrainConfig()
    train = sub.add_parser("train", help="train a classifier on a folder of class folders or a zip")
    train.add_argument("data", help="folder of class folders, or a .zip of them")
    train.add_argument("--task", choices=["image"], default="image")
    train.add_argument("--out", required=True, help="run folder to write")
    train.add_argument("--backbone", default=defaults.backbone)
    train.add_argument("--trainable-blocks", type=int, default=defaults.trainable_blocks)
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--lr", type=float, default=defaults.learning_rate)
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--augment", action=argparse.BooleanOptionalAction, default=defaults.augment)
    train.add_argument("--patience", type=int, default=defaults.early_stopping_patience,
                       help="early-stopping patience in epochs (0 = off)")
    train.add_argument("--val-fraction", type=float, default=defaults.val_fraction)
    train.add_argument("--val-data", help="explicit validation folder or zip (instead of a split)")
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--device", default=defaults.device, choices=["auto", "cpu", "cuda", "mps"])
    train.set_defaults(func=cmd_train)

    predict = sub.add_parser("predict", help="predict images with a saved run")
    predict.add_argument("run_dir")
    predict.add_argument("inputs", nargs="+", help="image files or folders")
    predict.add_argument("--out", required=True, help="CSV file to write")
    predict.set_defaults(func=cmd_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except TLCoreError as exc:
        print(f"error: {exc.user_message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted.", file=sys.stderr)
        return 130
    except OSError as exc:
        print(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
