"""A Run in a folder and back: model.safetensors + config.json + metrics.json + history.json +
predictions.csv, validation.safetensors + validation.json + validation/ images for the insight views,
and what the adapter needs (tokenizer/, featurizer.*). Written atomically; only safetensors and JSON
are read, each checked first (see tlcore.runs.checks); nothing is ever pickled or unpickled."""
from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file, save_model

from ..backbones import create_backbone, get_backbone_info
from ..core.config import TrainConfig
from ..core.errors import RunLoadError
from ..core.formats import csv_text
from ..engine.adapters import load_adapter
from ..engine.classifier import Classifier
from ..engine.freezing import apply_freeze
from ..engine.heads import check_forest_tables, head_for_state
from ..engine.model import TransferModel
from .checks import (
    check, check_examples, check_facts, check_finite, check_validation_specs, check_validation_values,
    checked_config, checked_history, read_json, reading, tensor_specs,
)
from .archive import run_location
from .folders import FORMAT, recover, run_files, write_run
from .run import Run, RunFacts


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


def _write_validation(folder: Path, run: Run) -> None:
    """What the insight views need: labels, probabilities and embeddings (safetensors), names and texts
    (JSON), and each validation image as the model saw it (JPEG)."""
    tensors = {"y_val": torch.as_tensor(run.y_val, dtype=torch.int64),
               "val_proba": torch.as_tensor(run.val_proba, dtype=torch.float32)}
    for name in ("pretrained", "fine-tuned"):
        if name in run.features and not (name == "fine-tuned" and run.features[name] is run.features.get("pretrained")):
            tensors[f"features/{name}"] = torch.as_tensor(run.features[name], dtype=torch.float32)
    save_file(tensors, str(folder / "validation.safetensors"))
    examples = {"names": run.val_names, **({"texts": run.val_texts} if run.val_texts is not None else {})}
    (folder / "validation.json").write_text(json.dumps(examples), encoding="utf-8")
    if run.task == "image":
        (folder / "validation").mkdir()
        for row in range(len(run.y_val)):
            run.image(row).save(folder / "validation" / f"{row:05d}.jpg", quality=90)


def _write_files(folder: Path, run: Run) -> None:
    """Every file of a run, written into an empty folder."""
    clf = run.classifier
    save_model(clf.model.cpu(), str(folder / "model.safetensors"))
    config = {
        "format": FORMAT, "task": run.task, "classes": run.classes, "backbone": run.config.backbone,
        "trainable_blocks": run.config.trainable_blocks, "head": run.config.head,
        "num_features": clf.model.backbone.num_features, "train_config": run.config.to_dict(),
        "seed": run.config.seed, "versions": _versions(), **clf.adapter.config(),
    }
    clf.adapter.save(folder)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "metrics.json").write_text(json.dumps(run.metrics_dict(), indent=2))
    (folder / "history.json").write_text(json.dumps([h.to_dict() for h in run.history], indent=2))
    (folder / "predictions.csv").write_text(csv_text(run.predictions()), encoding="utf-8")
    _write_validation(folder, run)


def save_run(run: Run, run_dir: str | Path, *, overwrite: bool = True) -> Path:
    """Write the run to a temporary folder beside run_dir, then swap it in, so a crash never leaves a
    half-written model where a good one was. run_dir must be a folder of its own that is new, empty or
    one of our runs (see check_run_target): a folder of other files is never touched. With
    overwrite=False an existing run is kept and RunExists raised."""
    clf = run.classifier
    try:
        return write_run(run_dir, overwrite, lambda staging: _write_files(staging, run))
    finally:
        clf.model.to(clf.device)


def copy_run(src: Path, run_dir: Path, *, overwrite: bool) -> Path:
    """Copy a saved run (checked to be one of ours first) to run_dir, with save_run's rules and atomic
    swap; e.g. a run a worker process wrote into its job folder."""
    src = Path(src)
    checked_config(src)

    def write(staging: Path) -> None:
        for relative in run_files(src):
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / relative, staging / relative)

    return write_run(run_dir, overwrite, write)


def load_classifier(run_dir: str | Path, device: torch.device | None = None) -> Classifier:
    """A saved run's classifier (a run folder or run zip), for prediction; needs no download (the
    weights are all in the folder) and no validation data. Every file is checked before anything is built."""
    run_dir = run_location(run_dir)
    recover(run_dir)
    config = checked_config(run_dir)
    with reading(run_dir):
        classifier = _build_classifier(run_dir, config)
    classifier.device = device or torch.device("cpu")
    classifier.model.to(classifier.device).eval()
    return classifier


def _build_classifier(run_dir: Path, config: dict) -> Classifier:
    """Rebuild the network with random weights, then load the saved tensors into it (config checked)."""
    name, k, num_features = config["backbone"], config["trainable_blocks"], config["num_features"]
    head = config.get("head", "linear")
    info = get_backbone_info(name)
    state = load_file(str(run_dir / "model.safetensors"))
    check_finite(state, "model.safetensors")
    head_state = {key.removeprefix("head."): t for key, t in state.items() if key.startswith("head.")}
    if head == "random_forest":
        check_forest_tables(head_state, num_features)
    adapter = load_adapter(info, run_dir, config, state)
    feature_block = config["train_config"].get("feature_block")
    backbone = create_backbone(name, pretrained=False, feature_block=feature_block)
    adapter.attach(backbone)
    check(backbone.num_features == num_features, f"{name} gives {backbone.num_features} features, not {num_features}")
    model = TransferModel(backbone, len(config["classes"]))
    model.head = head_for_state(head, head_state, num_features, len(config["classes"]))
    apply_freeze(model, k)
    model.load_state_dict(state)
    return Classifier(model, config["classes"], adapter, backbone=name, trainable_blocks=k, head=head,
                      feature_block=feature_block)


def _validation_images(run_dir: Path, n: int, size: int) -> Callable[[], torch.Tensor]:
    """The saved validation images (one JPEG per example, size x size), decoded when first needed."""
    images = [run_dir / "validation" / f"{row:05d}.jpg" for row in range(n)]
    check(all(p.is_file() for p in images), f"validation/ does not hold the {n} validation images")

    def pixels() -> torch.Tensor:
        with reading(run_dir):
            decoded = []
            for path in images:
                with Image.open(path) as image:
                    check(image.size == (size, size), f"{path.name} is not {size} x {size} pixels")
                    decoded.append(torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1))
            return torch.stack(decoded)

    return pixels


def load_run(run_dir: str | Path) -> Run:
    """A saved run, from its folder or a run zip (no network; the model loads when first used). Runs
    saved before the validation data was kept raise RunLoadError, which says to save again; a damaged
    file raises RunLoadError naming what is wrong."""
    run_dir = run_location(run_dir)
    recover(run_dir)
    config = checked_config(run_dir)
    if not (run_dir / "validation.safetensors").is_file():
        raise RunLoadError(f"'{run_dir.name}' was saved by an earlier version without its validation data, so "
                           "its charts cannot be redrawn. It still predicts; train and save it again for the charts.")
    task, classes = config.get("task", "image"), list(config["classes"])
    with reading(run_dir):
        n = check_validation_specs(tensor_specs(run_dir / "validation.safetensors"), len(classes))
        tensors = load_file(str(run_dir / "validation.safetensors"))
        check_validation_values(tensors, len(classes))
        examples = read_json(run_dir / "validation.json")
        check_examples(examples, n, task)
        facts = read_json(run_dir / "metrics.json")
        check_facts(facts, classes, n)
        history = checked_history(read_json(run_dir / "history.json"))
        pixels = _validation_images(run_dir, n, config["preprocessing"]["input_size"]) if task == "image" else None
    features = {k.removeprefix("features/"): v.numpy() for k, v in tensors.items() if k.startswith("features/")}
    if "pretrained" in features:
        features.setdefault("fine-tuned", features["pretrained"])  # a frozen backbone: saved once
    return Run(task=task, classes=classes, config=TrainConfig.from_dict(config["train_config"]), history=history,
               facts=RunFacts.from_dict(facts), y_val=tensors["y_val"].numpy(), val_proba=tensors["val_proba"].numpy(),
               val_names=examples["names"], val_texts=examples.get("texts"), features=features, folder=run_dir,
               label=run_dir.name, load_pixels=pixels, load_classifier=lambda: load_classifier(run_dir))
