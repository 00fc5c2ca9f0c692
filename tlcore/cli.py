"""`python -m tlcore backbones | train | predict | export | serve | cache`: the app's engine without the browser."""
from __future__ import annotations

import argparse
import sys
from contextlib import contextmanager
from pathlib import Path

from .backbones import get_backbone_info, list_backbones
from .cli_data import ConsoleProgress, add_data_arguments, read_datasets
from .cli_guide import add_guide_commands
from .core.config import HEADS, TrainConfig, default_config
from .data import read_file, texts_from_upload
from .data.text import TABLE_SUFFIXES
from .data.images import IMAGE_SUFFIXES
from .core.errors import ConfigError, DataError, RunPathError, TLCoreError
from .core.formats import csv_text
from .engine.reuse import describe_reuse


def cmd_backbones(args) -> int:
    print(f"{'name':38} {'modality':8} {'parameters':>11} {'blocks':>6}  {'licence':13} offline")
    for info in list_backbones():
        print(f"{info.name:38} {info.modality:8} {info.num_params:>11,} {info.num_blocks:>6}  {info.licence:13} "
              f"{'yes' if info.offline else 'no (downloads on first use)'}")
        if info.modality == "image":
            print("    feature blocks: " + ", ".join(f"{i} {name}" for i, name in enumerate(info.block_names, 1)))
    return 0


@contextmanager
def _out_folder_hint():
    """A --out that cannot take a run is refused in the command line's words."""
    try:
        yield
    except RunPathError as exc:
        raise RunPathError(exc.problem, "Type a new folder for the run instead, e.g. --out runs/my-run.") from None


def cmd_train(args) -> int:
    from .runs.files import save_run
    from .runs.folders import check_run_target
    from .runs.train import train

    with _out_folder_hint():
        check_run_target(args.out)  # before training, so no minutes are spent on a run that cannot be saved

    task_defaults = default_config(args.task)
    backbone = get_backbone_info(args.backbone or task_defaults.backbone)
    last = backbone.num_blocks if backbone.modality == "image" else None
    config = TrainConfig(
        backbone=backbone.name, trainable_blocks=args.trainable_blocks,
        epochs=args.epochs, learning_rate=args.lr or task_defaults.learning_rate, batch_size=args.batch_size,
        augment=args.augment,
        early_stopping_patience=args.patience, val_fraction=args.val_fraction, seed=args.seed, device=args.device,
        head=args.head, word_vectors_file=args.word_vectors, two_stage=args.two_stage,
        feature_block=None if args.feature_block == last else args.feature_block,  # the last: the whole backbone
    )
    dataset, val_dataset = read_datasets(args)
    run = train(dataset, config, val_dataset=val_dataset, callbacks=[ConsoleProgress()])
    if run.facts.truncated_texts:
        print(f"{run.facts.truncated_texts} texts were longer than {run.facts.max_tokens} tokens "
              "and were cut to that length.")
    print(describe_reuse(run.facts.reuse))
    with _out_folder_hint():
        save_run(run, args.out)
    auc = "n/a" if run.report.auc is None else f"{run.report.auc:.4f}"
    print(f"AUC {auc}  accuracy {run.report.accuracy:.4f}  on {run.report.n} validation {dataset.report.unit}s "
          f"({run.facts.device}, {run.facts.timings_s['total']:.1f}s). Saved to {args.out}")
    return 0


def _expand_inputs(inputs: list[str]) -> list[tuple[str, bytes]]:
    files = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            files += [(str(p), read_file(p)) for p in sorted(path.rglob("*"))
                      if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        elif path.is_file():
            files.append((str(path), read_file(path)))
        else:
            raise DataError(f"'{item}' does not exist. Give image files or folders of images.")
    if not files:
        raise DataError("No images found in the inputs. Give image files or folders of images.")
    return files


def _expand_texts(inputs: list[str]) -> list[str]:
    """Each input is a file of texts (CSV/TSV/XLSX column, or one per line in .txt) or a text itself."""
    texts = []
    for item in inputs:
        path = Path(item)
        if path.suffix.lower() in TABLE_SUFFIXES and path.is_file():
            texts += texts_from_upload(read_file(path), path.name)
        elif path.suffix.lower() in TABLE_SUFFIXES and len(item.split()) == 1:
            raise DataError(f"'{item}' does not exist. Give a file of texts that exists, or type the texts themselves.")
        else:
            texts.append(item)
    if not texts:
        raise DataError("No texts found in the inputs. Give texts, or a CSV/TXT file with one text per row.")
    return texts


def cmd_cache(args) -> int:
    from .engine.cache import default_cache

    cache = default_cache()
    if args.clear:
        cache.clear()
    print(f"{cache.folder}: {cache.disk_usage() / 1024**2:.0f} MB "
          f"(at most {cache.disk_bytes / 1024**3:g} GB; set TLCORE_CACHE_DIR or TLCORE_CACHE_DISK_GB to change)")
    return 0


def _predictions_file(out: str, inputs: list[str]) -> Path:
    """Where predict may write its CSV: a .csv file that is not a folder, not one of the inputs and not
    inside a saved run (its files are the model)."""
    from .runs.folders import is_run

    path = Path(out).resolve()
    problem = None
    if path.is_dir():
        problem = f"'{out}' is a folder."
    elif path.suffix.lower() != ".csv":
        problem = f"'{out}' is not a .csv file name."
    elif any(Path(item).is_file() and Path(item).resolve() == path for item in inputs):
        problem = f"'{out}' is one of the inputs."
    elif any(is_run(folder) for folder in path.parents):
        problem = f"'{out}' is inside a saved run."
    if problem:
        raise ConfigError(f"{problem} Nothing was written. Type a new CSV file instead, e.g. --out predictions.csv.")
    return path


def cmd_predict(args) -> int:
    from .runs.files import load_classifier

    out = _predictions_file(args.out, args.inputs)
    classifier = load_classifier(args.run_dir)
    inputs = _expand_texts(args.inputs) if classifier.task == "text" else _expand_inputs(args.inputs)
    table = classifier.predict_table(inputs)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(csv_text(table), encoding="utf-8")
    failed = table["predicted"].isna().sum() if "problem" in table else 0
    unreadable = f" ({failed} unreadable, see 'problem')" if failed else ""
    print(f"Wrote {len(table)} prediction{'' if len(table) == 1 else 's'} to {args.out}{unreadable}")
    return 0


def cmd_export(args) -> int:
    from .runs.export import export_onnx, export_zip

    if args.format == "zip":
        export_zip(args.run, args.out)
        print(f"Wrote the run to {args.out}. Open it in the app (Evaluate or Predict) or with "
              f"`python -m tlcore predict {args.out} ...`.")
        return 0
    export_onnx(args.run, args.out)
    print(f"Wrote {args.out}: model.onnx, predict.py, requirements.txt, labels.json and MODEL_CARD.md. Try:\n"
          f"  cd {args.out} && pip install -r requirements.txt && python predict.py INPUTS --out predictions.csv")
    return 0


def cmd_serve(args) -> int:
    from .serve import serve

    return serve(args.run, host=args.host, port=args.port, device=args.device)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tlcore", description="Transfer learning without the browser.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("backbones", help="list the backbone registry").set_defaults(func=cmd_backbones)

    defaults = TrainConfig()
    train = sub.add_parser("train", help="train a classifier on images (class folders or a zip) or texts (a table)")
    add_data_arguments(train)
    train.add_argument("--out", required=True, help="run folder to write")
    train.add_argument("--backbone", help="see `backbones` (default: efficientnet_lite0 / all-MiniLM-L6-v2)")
    train.add_argument("--head", default=defaults.head, choices=list(HEADS))
    train.add_argument("--word-vectors", help="a GloVe-format .txt for the word-vectors backbone")
    train.add_argument("--trainable-blocks", type=int, default=defaults.trainable_blocks)
    train.add_argument("--feature-block", type=int,
                       help="images: pool the output of this block (counted from 1; see `backbones`) and drop the "
                            "blocks above it (default: the last block)")
    train.add_argument("--two-stage", action=argparse.BooleanOptionalAction, default=defaults.two_stage,
                       help="with trainable blocks: fit the head on the frozen backbone first, then fine-tune "
                            "at a tenth of the learning rate (default)")
    train.add_argument("--epochs", type=int, default=defaults.epochs)
    train.add_argument("--lr", type=float, help="learning rate (default: 0.003 for images, 0.01 for texts)")
    train.add_argument("--batch-size", type=int, default=defaults.batch_size)
    train.add_argument("--augment", action=argparse.BooleanOptionalAction, default=defaults.augment)
    train.add_argument("--patience", type=int, default=defaults.early_stopping_patience,
                       help="early-stopping patience in epochs (0 = off)")
    train.set_defaults(func=cmd_train)
    add_guide_commands(sub)

    cache = sub.add_parser("cache", help="where decoded images and frozen activations are cached, and how much")
    cache.add_argument("--clear", action="store_true", help="empty the cache")
    cache.set_defaults(func=cmd_cache)

    predict = sub.add_parser("predict", help="predict images or texts with a saved run")
    predict.add_argument("run_dir")
    predict.add_argument("inputs", nargs="+", help="image files or folders; or texts, or .csv/.txt files of texts")
    predict.add_argument("--out", required=True, help="CSV file to write")
    predict.set_defaults(func=cmd_predict)

    export = sub.add_parser("export", help="a saved run as ONNX with a plain predict.py, or as one zip")
    export.add_argument("run", help="a saved run folder or run zip")
    export.add_argument("--format", choices=["onnx", "zip"], default="onnx",
                        help="onnx: model.onnx with predict.py and a model card (default); zip: the run as one file")
    export.add_argument("--out", required=True,
                        help="onnx: a new folder (or an earlier export, replaced); zip: a .zip file name")
    export.set_defaults(func=cmd_export)

    served = sub.add_parser("serve", help="answer predictions over HTTP (docs at /docs)")
    served.add_argument("run", help="a saved run folder or run zip")
    served.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    served.add_argument("--port", type=int, default=8000)
    served.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"],
                        help="where the model runs (auto: a GPU when there is one)")
    served.set_defaults(func=cmd_serve)
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
