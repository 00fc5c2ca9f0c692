"""`python -m tlcore backbones | train | sweep | recommend | learning-curve | layer-sweep | predict | export |
serve | cache`: the app's engine without the browser."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .backbones import list_backbones
from .cli_guide import add_guide_commands
from .cli_train import add_train_commands
from .data import read_file, texts_from_upload
from .data.text import TABLE_SUFFIXES
from .data.images import IMAGE_SUFFIXES
from .core.errors import ConfigError, DataError, TLCoreError
from .core.formats import csv_text


def cmd_backbones(args) -> int:
    print(f"{'name':38} {'modality':8} {'parameters':>11} {'blocks':>6}  {'licence':13} offline")
    for info in list_backbones():
        print(f"{info.name:38} {info.modality:8} {info.num_params:>11,} {info.num_blocks:>6}  {info.licence:13} "
              f"{'yes' if info.offline else 'no (downloads on first use)'}")
        if info.modality == "image":
            print("    feature blocks: " + ", ".join(f"{i} {name}" for i, name in enumerate(info.block_names, 1)))
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

    add_train_commands(sub)
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
