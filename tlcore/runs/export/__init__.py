"""A run out of the app: an ONNX folder (model.onnx, predict.py, requirements.txt, labels.json,
MODEL_CARD.md, tokenizer.json for texts, and the whole run in run/ so its zip opens in the app again),
or the run as one zip. Written into a staging folder and swapped in, so a refusal leaves nothing."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import replace
from pathlib import Path

import torch

from ...backbones import get_backbone_info
from ...core.errors import ExportError, RunPathError
from ...core.settings import limits
from ..archive import run_location, zip_run
from ..checks import checked_config
from ..files import load_run
from ..folders import is_run, run_files, swap_in
from ..run import Run
from .card import model_card
from .graph import MAX_CHECKED, check_graph, graph_inputs, graph_of, write_graph
from .script import predict_script

FORMAT = "tlcore-export/1"
REQUIREMENTS = {"image": ["onnxruntime>=1.17", "numpy>=1.26", "pillow>=10.3"],
                "text": ["onnxruntime>=1.17", "numpy>=1.26", "tokenizers>=0.15"]}
__all__ = ["FORMAT", "export_labels", "export_onnx", "export_zip", "is_export"]


def export_labels(folder: str | Path) -> dict | None:
    """labels.json of an export folder; None if the folder is not one of our exports."""
    try:
        labels = json.loads((Path(folder) / "labels.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return labels if isinstance(labels, dict) and labels.get("format") == FORMAT else None


def is_export(folder: str | Path) -> bool:
    return export_labels(folder) is not None


def _check_target(out: Path, kind: str, hint: str) -> Path:
    """out resolved, if an export may be written there: not a run or inside one, and for a folder
    absent, empty or an earlier export; for a zip, a .zip name that is not a folder."""
    target = out.resolve()
    problem = None
    if any(is_run(folder) for folder in (target, *target.parents)):
        problem = f"'{out}' is a saved run or inside one."
    elif kind == "zip" and (target.suffix.lower() != ".zip" or target.is_dir()):
        problem = f"'{out}' is not a .zip file name."
    elif kind == "zip" and target.exists() and not zipfile.is_zipfile(target):
        problem = f"'{out}' is a file that is not a zip."
    elif kind == "onnx" and target.exists() and not target.is_dir():
        problem = f"'{out}' is a file, not a folder."
    elif kind == "onnx" and target.is_dir() and any(target.iterdir()) and not is_export(target):
        problem = f"'{out}' already holds files and is not an export, so nothing is written there."
    if problem:
        raise RunPathError(problem, hint)
    return target


def export_zip(run_dir: str | Path, out: str | Path) -> Path:
    """The whole run folder (or run zip) as one zip file at out."""
    target = _check_target(Path(out), "zip", "Type a new .zip file name, e.g. --out my-run.zip.")
    folder = run_location(run_dir)
    checked_config(folder)  # one of our runs (an older one without its validation data too)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.part")
    staging.write_bytes(zip_run(folder))
    os.replace(staging, target)
    return Path(out)


def _exportable(run: Run) -> None:
    """ExportError unless the run's inputs can be prepared by predict.py without torch."""
    if get_backbone_info(run.config.backbone).classic:
        raise ExportError(f"{run.config.backbone} runs cannot be exported to ONNX: their features are computed "
                          "from the words outside the network. Export the run as a zip (--format zip), or train "
                          "with a sentence model such as all-MiniLM-L6-v2 to get an ONNX model.")
    if run.task == "image" and not run.classifier.preprocessing.antialias:
        raise ExportError("This run resizes images without antialiasing, which predict.py cannot do without torch. "
                          "Export the run as a zip (--format zip).")


def _validation_feeds(run: Run) -> dict[str, torch.Tensor]:
    """The graph's inputs for (up to MAX_CHECKED of) the run's validation examples."""
    clf = run.classifier
    inputs = run.pixels[:MAX_CHECKED] if run.task == "image" else clf.adapter.encode(run.val_texts[:MAX_CHECKED])
    return graph_inputs(clf, inputs)


def _labels(run: Run, verified: dict) -> dict:
    clf, limit = run.classifier, limits()
    prep = clf.preprocessing.to_dict()
    if run.task == "text":
        prep["pad_id"] = int(clf.adapter.tokenizer.pad_token_id or 0)
        inputs = {"input_ids": "int64 [n, tokens]", "attention_mask": "int64 [n, tokens], 1 for each real token"}
        kept = {"max_text_chars": limit.max_text_chars}
    else:
        size = prep["input_size"]
        inputs = {"pixels": f"uint8 [n, 3, {size}, {size}]: RGB, shorter side resized to {prep['resize_size']}, "
                            "centre crop; the graph normalises"}
        kept = {"max_file_mb": limit.max_file_mb, "max_megapixels": limit.max_megapixels}
    counts = run.facts.train_counts or []
    return {"format": FORMAT, "task": run.task, "run": run.label, "classes": run.classes,
            "train_counts": dict(zip(run.classes, counts)), "backbone": run.config.backbone,
            "feature_block": run.config.feature_block, "trainable_blocks": run.config.trainable_blocks,
            "head": run.config.head, "inputs": inputs,
            "output": "probabilities [n, classes], in the order of classes", "preprocessing": prep,
            "limits": kept, "verified": verified}


def _write_onnx(run: Run, folder: Path) -> None:
    clf = run.classifier
    feeds = _validation_feeds(run)
    example = {name: t[:2] for name, t in feeds.items()}
    graph = graph_of(clf)
    write_graph(graph, example, folder / "model.onnx", run.config.backbone)
    verified = check_graph(graph, folder / "model.onnx", feeds, run.val_proba[:MAX_CHECKED])
    labels = _labels(run, verified)
    if run.task == "text":
        source = run.folder / "tokenizer" / "tokenizer.json"
        if not source.is_file():
            raise ExportError("This run's tokenizer has no tokenizer.json, so predict.py cannot read texts. "
                              "Export the run as a zip (--format zip).")
        shutil.copyfile(source, folder / "tokenizer.json")
    (folder / "labels.json").write_text(json.dumps(labels, indent=2), encoding="utf-8")
    (folder / "predict.py").write_text(predict_script(run.task, run.label, run.classes), encoding="utf-8")
    (folder / "requirements.txt").write_text("\n".join(REQUIREMENTS[run.task]) + "\n", encoding="utf-8")
    (folder / "MODEL_CARD.md").write_text(model_card(run, labels), encoding="utf-8")
    for relative in run_files(run.folder):
        (folder / "run" / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run.folder / relative, folder / "run" / relative)


def export_onnx(run_dir: str | Path, out: str | Path, *, name: str | None = None) -> Path:
    """The run as an ONNX folder at out (new, empty or an earlier export), checked against the app on
    the validation examples; ExportError (nothing written) when the run cannot be exported. `name` is
    what the model card calls the run (default: its folder's name)."""
    target = _check_target(Path(out), "onnx", "Type a new folder for the export, e.g. --out my-model.")
    run = load_run(run_dir)
    run = replace(run, label=name or run.label)
    _exportable(run)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _write_onnx(run, staging)
        swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Path(out)
