"""What the command line's commands share: reading the data a command is given, reporting it, and
printing progress."""
from __future__ import annotations

import argparse
from pathlib import Path

from .core.config import TrainConfig
from .core.settings import job_settings

from .engine.loop import Callback, EpochLog, Trainer
from .data import DataReport, build_dataset, build_text_dataset, guess_columns, read_data_path, read_file, read_table


def print_report(title: str, report: DataReport) -> None:
    print(f"{title}: {sum(report.class_counts.values())} {report.unit}s in {len(report.class_counts)} classes")
    for label, count in report.class_counts.items():
        print(f"  {label}: {count}")
    for note in report.notes:
        print(f"Note: {note}")
    for reason, count in report.dropped.items():
        print(f"Dropped {count} rows with {reason}.")
    if report.skipped:
        print(f"Skipped {len(report.skipped)} files:")
        for item in report.skipped:
            print(f"  {item.name}: {item.reason}")


def read_texts(path: str, text_column: str | None, label_column: str | None):
    table = read_table(read_file(Path(path)), Path(path).name)
    guessed_text, guessed_label = guess_columns(table.frame)
    return build_text_dataset(table, text_column or guessed_text, label_column or guessed_label)


def read_data(args, path: str):
    if args.task == "text":
        return read_texts(path, args.text_column, args.label_column)
    return build_dataset(*read_data_path(path))


def read_datasets(args):
    """The training data and the separate validation data (None: a split), each reported."""
    dataset = read_data(args, args.data)
    print_report("Training data", dataset.report)
    val_dataset = None
    if args.val_data:
        val_dataset = read_data(args, args.val_data)
        print_report("Validation data", val_dataset.report)
    return dataset, val_dataset


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The data, how to read it and how to split it: the same for every command that learns from data."""
    defaults = TrainConfig()
    parser.add_argument("data", help="images: folder of class folders, or a .zip of them; texts: .csv/.tsv/.xlsx")
    parser.add_argument("--task", choices=["image", "text"], default="image")
    parser.add_argument("--text-column", help="texts: the column holding the texts (guessed if left out)")
    parser.add_argument("--label-column",
                        help="texts: the column holding the labels (found by its name, e.g. label or class; "
                             "asked for otherwise)")
    parser.add_argument("--val-fraction", type=float, default=defaults.val_fraction)
    parser.add_argument("--val-data", help="explicit validation folder or zip (instead of a split)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--device", default=defaults.device, choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--cluster", metavar="ADDRESS",
                        help="run on the Ray cluster whose head is at ADDRESS (host:port; \"local\": a Ray on this "
                             "machine); default: backend and ray_address under [jobs] in tlcore.toml")


def cluster_address(args) -> str | None:
    """The cluster a command runs on: --cluster, else the [jobs] settings' when their backend is Ray; None
    when it runs here."""
    settings = job_settings()
    return args.cluster or (settings.ray_address if settings.backend == "ray" else None)


def on_cluster(args, work, epochs: int = 1):
    """Run `work` on the command's cluster with its progress on the console; the finished job (its folder
    holds the runs, its outcome is the work's result). The caller removes the job's folder."""
    from .runs.cluster import run_on_cluster

    return run_on_cluster(work, epochs, address=cluster_address(args), callbacks=[ConsoleProgress()])


class ConsoleProgress(Callback):
    def __init__(self):
        self._phase = None

    def on_phase(self, phase: str, done: int, total: int) -> None:
        if phase != self._phase or done == total:
            print(f"{phase}: {done}/{total}" if total else f"{phase}...", flush=True)
            self._phase = phase

    def on_epoch_end(self, trainer: Trainer | None, log: EpochLog) -> None:
        print(f"epoch {log.epoch}: train loss {log.train_loss:.4f} acc {log.train_accuracy:.3f} | "
              f"val loss {log.val_loss:.4f} acc {log.val_accuracy:.3f} ({log.seconds:.1f}s)", flush=True)
