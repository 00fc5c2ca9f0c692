"""Run folders: model.safetensors + config.json + metrics.json + history.json + predictions.csv, and
validation.safetensors + validation/ images for the insight views. Written atomically; nothing is
ever pickled or unpickled."""
from __future__ import annotations

import io
import json
import os
import platform
import re
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from safetensors.torch import load_file, save_file, save_model

from .backbones import Preprocessing, create_backbone, get_backbone_info
from .backbones.classic_text import featurizer_from_state
from .classifier import ImageClassifier, TextClassifier
from .config import TrainConfig
from .errors import ConfigError, RunExists, RunLoadError, TLCoreError
from .experiment import TrainResult
from .exports import csv_text
from .freezing import apply_freeze
from .heads import head_for_state
from .model import TransferModel, features_only
from .record import RunRecord
from .training import EpochLog

FORMAT = "tlcore-run/1"
FILES = ("model.safetensors", "config.json")


def _versions() -> dict:
    """Library versions saved with each run, so a result can be reproduced."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("torch", "torchvision", "scikit-learn", "transformers", "sentence-transformers"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def predictions_frame(result: TrainResult) -> pd.DataFrame:
    """Validation predictions: file (or row and text), true class, predicted class, loss, one
    probability column per class."""
    return RunRecord.from_result(result).predictions()


def _write_validation(folder: Path, result: TrainResult) -> None:
    """What the insight views need from a saved run: labels, probabilities and embeddings
    (safetensors), names and texts (JSON), and each validation image as the model saw it (JPEG)."""
    tensors = {"y_val": torch.as_tensor(result.y_val, dtype=torch.int64),
               "val_proba": torch.as_tensor(result.val_proba, dtype=torch.float32)}
    features = result.val_features
    for name in ("pretrained", "fine-tuned"):
        if name in features and not (name == "fine-tuned" and features[name] is features.get("pretrained")):
            tensors[f"features/{name}"] = torch.as_tensor(features[name], dtype=torch.float32)
    save_file(tensors, str(folder / "validation.safetensors"))
    examples = {"names": [e.name for e in result.val_examples]}
    if result.task == "text":
        examples["texts"] = [e.text for e in result.val_examples]
    (folder / "validation.json").write_text(json.dumps(examples), encoding="utf-8")
    if result.task == "image":
        images = folder / "validation"
        images.mkdir()
        record = RunRecord.from_result(result)
        for row in range(len(result.y_val)):
            record.image(row).save(images / f"{row:05d}.jpg", quality=90)


def run_folder_name(name: str) -> str:
    """A typed run name as a safe folder name: letters, digits, '.', '_' and '-' only, never hidden or
    a path (so '../x' or 'C:/x' stay inside the runs folder)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip(".-")[:80]
    if not safe:
        raise ConfigError("Give the run a name with some letters or digits, e.g. cats-vs-dogs.")
    return safe


def _old(run_dir: Path) -> Path:
    return run_dir.with_name(f".{run_dir.name}.old")


def _recover(run_dir: Path) -> None:
    """A save killed between moving the previous run aside and moving the new one in leaves only the
    previous one, under its aside name: put it back."""
    if not run_dir.exists() and _old(run_dir).is_dir():
        os.replace(_old(run_dir), run_dir)


def save_run(result: TrainResult, run_dir: str | Path, *, overwrite: bool = True) -> Path:
    """Write the run to a temporary folder beside run_dir, then swap it in, so a crash never
    leaves a half-written model where a good one was. With overwrite=False an existing run is kept
    and RunExists raised."""
    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    _recover(run_dir)
    if run_dir.exists() and not overwrite:
        raise RunExists(f"A saved run named '{run_dir.name}' already exists. Choose another name.")
    clf = result.classifier
    staging = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", dir=run_dir.parent))
    try:
        save_model(clf.model.cpu(), str(staging / "model.safetensors"))
        config = {
            "format": FORMAT, "task": clf.task, "classes": clf.classes, "backbone": clf.backbone,
            "trainable_blocks": clf.trainable_blocks, "head": clf.head,
            "num_features": clf.model.backbone.num_features,
            "train_config": result.config.to_dict(), "seed": result.config.seed, "versions": _versions(),
        }
        if clf.task == "image":
            config["preprocessing"] = clf.preprocessing.to_dict()
        elif clf.featurizer is not None:
            tensors, meta = clf.featurizer.state()
            save_file(tensors, str(staging / "featurizer.safetensors"))
            (staging / "featurizer.json").write_text(json.dumps(meta))
        else:
            clf.model.backbone.tokenizer.save_pretrained(str(staging / "tokenizer"))
        (staging / "config.json").write_text(json.dumps(config, indent=2))
        (staging / "metrics.json").write_text(json.dumps(result.metrics_dict(), indent=2))
        (staging / "history.json").write_text(json.dumps([h.to_dict() for h in result.history], indent=2))
        (staging / "predictions.csv").write_text(csv_text(predictions_frame(result)), encoding="utf-8")
        _write_validation(staging, result)
        if run_dir.exists():
            old = _old(run_dir)
            shutil.rmtree(old, ignore_errors=True)
            os.replace(run_dir, old)
            os.replace(staging, run_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, run_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        clf.model.to(clf.device)
    return run_dir


def load_run(run_dir: str | Path, device: torch.device | None = None) -> ImageClassifier | TextClassifier:
    """Load a saved run for prediction; needs no download (the weights are all in the folder). Only
    safetensors and JSON are read: nothing in the folder can run code."""
    run_dir = Path(run_dir)
    _recover(run_dir)
    missing = [f for f in FILES if not (run_dir / f).is_file()]
    if missing:
        raise RunLoadError(f"'{run_dir}' is not a saved run: {', '.join(missing)} missing. "
                           "Choose the folder that training wrote.")
    try:
        config = json.loads((run_dir / "config.json").read_text())
        if config.get("format") != FORMAT:
            raise RunLoadError(f"'{run_dir}' was not saved by this app (unknown format). Train and save it here.")
        classifier = _build_classifier(run_dir, config)
    except TLCoreError:
        raise
    except Exception as exc:
        raise RunLoadError(f"The saved run in '{run_dir}' is damaged or from another version ({exc}).") from None
    classifier.device = device or torch.device("cpu")
    classifier.model.to(classifier.device).eval()
    return classifier


def _build_classifier(run_dir: Path, config: dict) -> ImageClassifier | TextClassifier:
    """Rebuild the network with random weights, then load the saved tensors into it."""
    classes = [str(c) for c in config["classes"]]
    name, k, head = config["backbone"], int(config["trainable_blocks"]), config.get("head", "linear")
    task = config.get("task", "image")
    featurizer = None
    if task == "text" and get_backbone_info(name).classic:
        featurizer = featurizer_from_state(name, load_file(str(run_dir / "featurizer.safetensors")),
                                           (run_dir / "featurizer.json").read_text())
        backbone = features_only(int(config["num_features"]))
    else:
        backbone = create_backbone(name, pretrained=False)
    model = TransferModel(backbone, len(classes))
    state = load_file(str(run_dir / "model.safetensors"))
    head_state = {key.removeprefix("head."): t for key, t in state.items() if key.startswith("head.")}
    model.head = head_for_state(head, head_state, backbone.num_features, len(classes))
    apply_freeze(model, k)
    model.load_state_dict(state)
    if task == "image":
        return ImageClassifier(model, classes, Preprocessing.from_dict(config["preprocessing"]), name, k, head=head)
    if featurizer is None:
        from transformers import AutoTokenizer

        backbone.tokenizer = AutoTokenizer.from_pretrained(str(run_dir / "tokenizer"), local_files_only=True)
    return TextClassifier(model, classes, name, k, head=head, featurizer=featurizer)


def load_record(run_dir: str | Path) -> RunRecord:
    """A saved run for the insight views (no network, no model loaded until a view needs it). Runs
    saved before the validation data was kept raise RunLoadError, which says to save again."""
    run_dir = Path(run_dir)
    _recover(run_dir)
    if not (run_dir / "validation.safetensors").is_file():
        raise RunLoadError(f"'{run_dir.name}' was saved by an earlier version without its validation data, so "
                           "its charts cannot be redrawn. It still predicts; train and save it again for the charts.")
    try:
        config = json.loads((run_dir / "config.json").read_text())
        facts = json.loads((run_dir / "metrics.json").read_text())
        history = [EpochLog(**h) for h in json.loads((run_dir / "history.json").read_text())]
        tensors = load_file(str(run_dir / "validation.safetensors"))
        examples = json.loads((run_dir / "validation.json").read_text(encoding="utf-8"))
    except Exception as exc:
        raise RunLoadError(f"The saved run in '{run_dir}' is damaged or from another version ({exc}).") from None
    task = config.get("task", "image")
    features = {k.removeprefix("features/"): v.numpy() for k, v in tensors.items() if k.startswith("features/")}
    if "pretrained" in features:
        features.setdefault("fine-tuned", features["pretrained"])  # a frozen backbone: saved once
    images = sorted((run_dir / "validation").glob("*.jpg")) if task == "image" else []

    def pixels() -> torch.Tensor:
        return torch.stack([torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1)
                            for p in images])

    return RunRecord(
        label=run_dir.name, task=task, classes=[str(c) for c in config["classes"]],
        config=TrainConfig.from_dict(config["train_config"]), y_val=tensors["y_val"].numpy(),
        val_proba=tensors["val_proba"].numpy(), val_names=examples["names"], facts=facts, history=history,
        val_texts=examples.get("texts"),
        features=features,
        load_pixels=pixels if task == "image" else None, load_classifier=lambda: load_run(run_dir), folder=run_dir,
    )


def runs_dir() -> Path:
    """Where the app saves runs: $TLCORE_RUNS_DIR, else ./runs."""
    return Path(os.environ.get("TLCORE_RUNS_DIR", "runs"))


def user_file_path(name: str, data: bytes) -> Path:
    """Keep an uploaded helper file (e.g. word vectors) beside the runs, so a run can name it by path."""
    path = runs_dir() / ".uploads" / Path(name).name
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return path


def list_runs(folder: str | Path | None = None) -> list[Path]:
    """Saved run folders, newest first."""
    folder = Path(folder) if folder else runs_dir()
    if not folder.is_dir():
        return []
    for aside in folder.glob(".*.old"):
        _recover(aside.with_name(aside.name[1:-len(".old")]))
    runs = [p for p in folder.iterdir() if (p / "config.json").is_file() and not p.name.startswith(".")]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)


def zip_run(run_dir: str | Path) -> bytes:
    """The run folder as zip bytes, for a download button."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(Path(run_dir).iterdir()):
            archive.write(path, f"{Path(run_dir).name}/{path.name}")
    return buffer.getvalue()
