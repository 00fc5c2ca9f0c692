"""Run folders: model.safetensors + config.json + metrics.json + history.json + predictions.csv, and
validation.safetensors + validation/ images for the insight views. Written atomically; nothing is
ever pickled or unpickled."""
from __future__ import annotations

import io
import json
import math
import os
import platform
import re
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file, save_model

from ..backbones import ImagePreprocessing, create_backbone, get_backbone_info, list_backbones
from ..backbones.classic_text import TFIDF_MAX_FEATURES, featurizer_from_state
from ..engine.classifier import ImageClassifier, TextClassifier
from ..core.config import TrainConfig
from ..core.errors import BackboneUnavailable, ConfigError, RunExists, RunLoadError, RunPathError, TLCoreError
from .experiment import TrainResult
from ..core.formats import csv_text
from ..engine.freezing import apply_freeze
from ..core.config import HEADS, check_head
from ..engine.heads import check_forest_shapes, check_forest_tables, head_for_state, head_state_shapes
from ..core.settings import limits
from ..engine.model import TransferModel, features_only
from .run import RunRecord
from ..engine.loop import EpochLog

FORMAT = "tlcore-run/1"
FILES = ("model.safetensors", "config.json")
MAX_NUM_FEATURES = 100_000  # a backbone's or featuriser's output width
MAX_WORD_VECTORS = 2_000_000  # rows of a saved word-vector table
MAX_WORD_VECTOR_VALUES = 400_000_000  # rows x width (800 MB of float16)
MAX_EPOCHS = 1000  # as TrainConfig allows
VALIDATION_TENSORS = {"y_val", "val_proba", "features/pretrained", "features/fine-tuned"}


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


def is_run(folder: str | Path) -> bool:
    """Whether a folder is one of our saved runs: its config.json names our format."""
    try:
        return json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _recover(run_dir: Path) -> None:
    """A save killed between moving the previous run aside and moving the new one in leaves only the
    previous one, under its aside name: put it back."""
    if not run_dir.exists() and is_run(_old(run_dir)):
        os.replace(_old(run_dir), run_dir)


def check_run_target(run_dir: str | Path, *, overwrite: bool = True) -> Path:
    """The resolved folder a run may be written to: a folder of its own (not '.', '..' or a drive) that
    is absent, empty or one of our runs, and not inside a run. RunPathError says why not; an existing
    run with overwrite=False raises RunExists. Nothing the user keeps there is ever written over."""
    named = Path(run_dir)
    if named.name in ("", ".", ".."):
        raise RunPathError(f"'{run_dir}' does not name a folder of its own (it means {named.resolve()}).")
    target = named.resolve()
    _recover(target)
    if not next(folder for folder in target.parents if folder.exists()).is_dir():
        raise RunPathError(f"'{run_dir}' is inside a file.")
    if target.exists() and not target.is_dir():
        raise RunPathError(f"'{run_dir}' is a file, not a folder.")
    if target.is_dir() and any(target.iterdir()) and not is_run(target):
        raise RunPathError(f"'{run_dir}' already holds files and is not a saved run, so nothing is written there.")
    holder = next((folder for folder in target.parents if is_run(folder)), None)
    if holder is not None:
        raise RunPathError(f"'{run_dir}' is inside the saved run '{holder}'.")
    if is_run(target) and not overwrite:
        raise RunExists(f"A saved run named '{target.name}' already exists. Choose another name.")
    return target


def _swap_in(staging: Path, target: Path) -> None:
    """Move a finished staging folder to target; a previous run there is moved aside first and
    removed last, so a crash at any moment leaves one whole run."""
    if target.is_dir() and not any(target.iterdir()):
        target.rmdir()
    if not target.exists():
        os.replace(staging, target)
        return
    old = _old(target)
    if old.exists():
        if not is_run(old):
            raise RunPathError(f"The folder '{old}' beside the run is in the way. Move or rename it.")
        shutil.rmtree(old)
    os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _write_run(run_dir: str | Path, overwrite: bool, write: Callable[[Path], None]) -> Path:
    """Check the target (check_run_target), let `write` fill a staging folder beside it, then swap it
    in. Returns run_dir as the caller named it."""
    target = check_run_target(run_dir, overwrite=overwrite)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunPathError(f"The folder '{target.parent}' cannot be made ({exc.strerror or exc}).") from None
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        write(staging)
        _swap_in(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Path(run_dir)


def _write_result(folder: Path, result: TrainResult) -> None:
    """Every file of a run, written into an empty folder."""
    clf = result.classifier
    save_model(clf.model.cpu(), str(folder / "model.safetensors"))
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
        save_file(tensors, str(folder / "featurizer.safetensors"))
        (folder / "featurizer.json").write_text(json.dumps(meta))
    else:
        clf.model.backbone.tokenizer.save_pretrained(str(folder / "tokenizer"))
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    (folder / "metrics.json").write_text(json.dumps(result.metrics_dict(), indent=2))
    (folder / "history.json").write_text(json.dumps([h.to_dict() for h in result.history], indent=2))
    (folder / "predictions.csv").write_text(csv_text(predictions_frame(result)), encoding="utf-8")
    _write_validation(folder, result)


def save_run(result: TrainResult, run_dir: str | Path, *, overwrite: bool = True) -> Path:
    """Write the run to a temporary folder beside run_dir, then swap it in, so a crash never
    leaves a half-written model where a good one was. run_dir must be a folder of its own that is
    new, empty or one of our runs (see check_run_target): a folder of other files is never touched.
    With overwrite=False an existing run is kept and RunExists raised."""
    clf = result.classifier
    try:
        return _write_run(run_dir, overwrite, lambda staging: _write_result(staging, result))
    finally:
        clf.model.to(clf.device)


def copy_run(src: Path, run_dir: Path, *, overwrite: bool) -> Path:
    """Copy a saved run (checked to be one of ours first) to run_dir, with save_run's rules and
    atomic swap; e.g. a run a worker process wrote to a temporary folder."""
    src = Path(src)
    _checked_config(src)

    def write(staging: Path) -> None:
        for relative in _run_files(src):
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / relative, staging / relative)

    return _write_run(run_dir, overwrite, write)


@contextmanager
def _reading(run_dir: Path):
    """Anything wrong in a run folder's files becomes one sentence that names it."""
    try:
        yield
    except (RunLoadError, BackboneUnavailable):
        raise
    except TLCoreError as exc:
        raise _damaged(run_dir, exc.user_message) from None
    except Exception as exc:
        raise _damaged(run_dir, str(exc)) from None


def _damaged(run_dir: Path, what: str) -> RunLoadError:
    what = what.rstrip(".")
    return RunLoadError(f"The saved run in '{run_dir}' is damaged or from another version "
                        f"({what[:1].lower() + what[1:]}).")


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(what)


def _whole(value, low: int, high: float) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _number(value, low: float = -math.inf, high: float = math.inf) -> bool:
    """A number from JSON within [low, high] (NaN is not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def _read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _tensor_specs(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Each tensor's dtype ('F32', 'I64', ...) and shape, from a safetensors header (no data read)."""
    with safe_open(str(path), "pt") as tensors:
        return {key: (tensors.get_slice(key).get_dtype(), tuple(tensors.get_slice(key).get_shape()))
                for key in tensors.keys()}


def _check_finite(tensors: dict[str, torch.Tensor], file: str) -> None:
    for key, t in tensors.items():
        _check(not t.is_floating_point() or bool(torch.isfinite(t).all()),
               f"{file} holds {key} values that are not finite")


def _check_config(config: dict) -> None:
    """Every field of config.json that loading reads, against its allowed values."""
    task = config.get("task", "image")
    backbones = {info.name: info for info in list_backbones(modality=task)}
    name = config.get("backbone")
    _check(name in backbones, f"unknown {task} backbone {str(name)[:40]!r}")
    classes, most = config.get("classes"), limits().max_classes
    _check(isinstance(classes, list) and all(isinstance(c, str) for c in classes) and len(set(classes)) == len(classes)
           and 2 <= len(classes) <= most, f"the classes must be 2 to {most} different names")
    blocks, head = config.get("trainable_blocks"), config.get("head", "linear")
    _check(_whole(blocks, 0, backbones[name].num_blocks),
           f"trainable blocks must be 0 to {backbones[name].num_blocks}, not {str(blocks)[:40]}")
    _check(head in HEADS, f"unknown head {str(head)[:40]!r}")
    check_head(head, blocks)
    _check(_whole(config.get("num_features"), 1, MAX_NUM_FEATURES),
           f"the feature count must be 1 to {MAX_NUM_FEATURES}")
    train = TrainConfig.from_dict(config.get("train_config"))
    _check((train.backbone, train.trainable_blocks, train.head, train.seed) ==
           (name, blocks, head, config.get("seed", train.seed)), "the training settings disagree with the run")
    if task == "image":
        ImagePreprocessing.from_dict(config.get("preprocessing"))


def _check_model_specs(specs: dict, config: dict) -> None:
    """model.safetensors' tensor names, dtypes and shapes: the backbone's are floats (checked against the
    architecture when loaded), the head's exactly what a head of that kind and size holds."""
    head, classes, features = config.get("head", "linear"), len(config["classes"]), config["num_features"]
    _check(all(k.startswith(("backbone.", "head.")) for k in specs), "model.safetensors holds foreign tensors")
    _check(all(dtype in ("F32", "F16", "BF16") or (key.endswith("num_batches_tracked") and dtype == "I64")
               for key, (dtype, _) in specs.items() if key.startswith("backbone.")),
           "the backbone's tensors are not floating point")
    head_specs = {k.removeprefix("head."): spec for k, spec in specs.items() if k.startswith("head.")}
    if head == "random_forest":
        check_forest_shapes(head_specs, classes)
    else:
        expected = {k: ("F32", shape) for k, shape in head_state_shapes(head, features, classes).items()}
        _check(head_specs == expected,
               f"the {head} head's tensors do not fit {features} features and {classes} classes")


def _checked_config(run_dir: Path) -> dict:
    """config.json of a folder that is one of our runs, with every field and the model's tensor shapes checked."""
    missing = [f for f in FILES if not (run_dir / f).is_file()]
    if missing:
        raise RunLoadError(f"'{run_dir}' is not a saved run: {', '.join(missing)} missing. "
                           "Choose the folder that training wrote.")
    with _reading(run_dir):
        config = _read_json(run_dir / "config.json")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise RunLoadError(f"'{run_dir}' was not saved by this app (unknown format). Train and save it here.")
    with _reading(run_dir):
        _check_config(config)
        _check_model_specs(_tensor_specs(run_dir / "model.safetensors"), config)
    return config


def _checked_featurizer(run_dir: Path, name: str, num_features: int) -> tuple[dict[str, torch.Tensor], str]:
    """featurizer.safetensors and featurizer.json (as text) of a classic text run, checked."""
    specs = _tensor_specs(run_dir / "featurizer.safetensors")
    meta_text = (run_dir / "featurizer.json").read_text(encoding="utf-8")
    meta = json.loads(meta_text)
    if name == "tfidf":
        _check(specs == {"idf": ("F64", (num_features,))} and num_features <= TFIDF_MAX_FEATURES,
               "the TF-IDF weights do not fit the model")
        _check(isinstance(meta, dict) and set(meta) == {"vocabulary"}, "featurizer.json is not a TF-IDF vocabulary")
        rows = num_features
    else:
        dtype, shape = specs.get("vectors", ("", ()))
        _check(set(specs) == {"vectors"} and dtype == "F16" and len(shape) == 2 and shape[1] == num_features
               and 1 <= shape[0] <= MAX_WORD_VECTORS and shape[0] * shape[1] <= MAX_WORD_VECTOR_VALUES,
               "the word vectors do not fit the model")
        _check(isinstance(meta, dict) and set(meta) == {"vocabulary", "wordpiece", "source"}
               and isinstance(meta["wordpiece"], bool) and isinstance(meta["source"], str),
               "featurizer.json is not a word-vector vocabulary")
        rows = shape[0]
    vocabulary = meta["vocabulary"]
    _check(isinstance(vocabulary, dict)
           and all(isinstance(w, str) and _whole(i, 0, rows - 1) for w, i in vocabulary.items()),
           "the vocabulary points outside its table")
    if name == "tfidf":
        _check(len(set(vocabulary.values())) == rows == len(vocabulary),
               "the TF-IDF vocabulary does not fit its weights")
    tensors = load_file(str(run_dir / "featurizer.safetensors"))
    _check_finite(tensors, "featurizer.safetensors")
    _check(name != "tfidf" or bool((tensors["idf"] > 0).all()), "the TF-IDF weights are not positive")
    return tensors, meta_text


def load_run(run_dir: str | Path, device: torch.device | None = None) -> ImageClassifier | TextClassifier:
    """Load a saved run for prediction; needs no download (the weights are all in the folder). Only
    safetensors and JSON are read: nothing in the folder can run code. Every file is checked before
    anything is built; a damaged one raises RunLoadError naming what is wrong."""
    run_dir = Path(run_dir)
    _recover(run_dir)
    config = _checked_config(run_dir)
    with _reading(run_dir):
        classifier = _build_classifier(run_dir, config)
    classifier.device = device or torch.device("cpu")
    classifier.model.to(classifier.device).eval()
    return classifier


def _build_classifier(run_dir: Path, config: dict) -> ImageClassifier | TextClassifier:
    """Rebuild the network with random weights, then load the saved tensors into it (config checked)."""
    classes = list(config["classes"])
    name, k, head = config["backbone"], config["trainable_blocks"], config.get("head", "linear")
    task, num_features = config.get("task", "image"), config["num_features"]
    featurizer = None
    state = load_file(str(run_dir / "model.safetensors"))
    _check_finite(state, "model.safetensors")
    head_state = {key.removeprefix("head."): t for key, t in state.items() if key.startswith("head.")}
    if head == "random_forest":
        check_forest_tables(head_state, num_features)
    if task == "text" and get_backbone_info(name).classic:
        featurizer = featurizer_from_state(name, *_checked_featurizer(run_dir, name, num_features))
        backbone = features_only(num_features)
    else:
        backbone = create_backbone(name, pretrained=False)
        _check(backbone.num_features == num_features,
               f"{name} gives {backbone.num_features} features, not {num_features}")
    model = TransferModel(backbone, len(classes))
    model.head = head_for_state(head, head_state, num_features, len(classes))
    apply_freeze(model, k)
    model.load_state_dict(state)
    if task == "image":
        return ImageClassifier(model, classes, ImagePreprocessing.from_dict(config["preprocessing"]), name, k, head=head)
    if featurizer is None:
        backbone.tokenizer = _checked_tokenizer(run_dir, state)
    return TextClassifier(model, classes, name, k, head=head, featurizer=featurizer)


def _checked_tokenizer(run_dir: Path, state: dict[str, torch.Tensor]):
    """The saved tokenizer, if every token id it gives has a row in the model's word embeddings."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(run_dir / "tokenizer"), local_files_only=True)
    rows = next((t.shape[0] for key, t in state.items() if key.endswith("word_embeddings.weight")), 0)
    _check(len(tokenizer) <= rows, f"the tokenizer knows {len(tokenizer)} tokens, the model {rows}")
    return tokenizer


def _check_validation_specs(specs: dict, classes: int) -> int:
    """validation.safetensors' names, dtypes and shapes; returns the number of validation examples."""
    _check({"y_val", "val_proba"} <= set(specs) <= VALIDATION_TENSORS, "validation.safetensors holds other tensors")
    n = specs["y_val"][1][0] if len(specs["y_val"][1]) == 1 else 0
    _check(specs["y_val"] == ("I64", (n,)) and n >= 1, "the validation labels are not a list of class numbers")
    _check(specs["val_proba"] == ("F32", (n, classes)), f"the validation probabilities are not {n} x {classes}")
    for key in VALIDATION_TENSORS & set(specs) - {"y_val", "val_proba"}:
        dtype, shape = specs[key]
        _check(dtype == "F32" and len(shape) == 2 and shape[0] == n and 1 <= shape[1] <= MAX_NUM_FEATURES,
               f"the validation {key} are not {n} rows of features")
    return n


def _check_validation_values(tensors: dict[str, torch.Tensor], classes: int) -> None:
    _check_finite(tensors, "validation.safetensors")
    y, proba = tensors["y_val"], tensors["val_proba"]
    _check(bool(((y >= 0) & (y < classes)).all()), "a validation label is not one of the classes")
    _check(bool(((proba >= 0) & (proba <= 1)).all())
           and torch.allclose(proba.sum(1), torch.ones(len(proba)), atol=1e-3),
           "the validation probabilities do not add up to 1")


def _check_examples(examples, n: int, task: str) -> None:
    def texts(key: str) -> bool:
        return isinstance(examples.get(key), list) and len(examples[key]) == n and all(
            isinstance(t, str) for t in examples[key])

    _check(isinstance(examples, dict) and texts("names") and (task != "text" or texts("texts")),
           f"validation.json does not name the {n} validation examples")


def _check_facts(facts, classes: list[str], n: int) -> None:
    """The metrics.json fields the insight views read."""
    _check(isinstance(facts, dict), "metrics.json is not a table")
    timings = facts.get("timings_s")
    _check(isinstance(timings, dict) and "total" in timings and all(_number(t, 0) for t in timings.values()),
           "metrics.json has no training times")
    _check(facts.get("classes") == classes and facts.get("n_val") == n, "metrics.json is about another validation set")
    counts = facts.get("train_counts")
    _check(counts is None or (isinstance(counts, list) and len(counts) == len(classes)
                              and all(_whole(c, 0, math.inf) for c in counts)),
           "the training counts do not fit the classes")
    duplicates = facts.get("duplicates", [])
    _check(isinstance(duplicates, list) and all(isinstance(d, dict) and isinstance(d.get("val"), str)
                                                and isinstance(d.get("train"), str) for d in duplicates),
           "the duplicates list is not pairs of names")
    for key in ("n_train", "epochs_run", "trainable_params"):
        _check(facts.get(key) is None or _whole(facts[key], 0, math.inf), f"{key} is not a count")
    _check(isinstance(facts.get("device", ""), str), "the device is not a name")


def _history(raw) -> list[EpochLog]:
    """history.json as epoch logs: epochs from 1, losses 0 or more (or NaN: a run that diverged), accuracies 0..1."""
    def loss(value) -> bool:
        return _number(value, 0) or (isinstance(value, float) and math.isnan(value))

    _check(isinstance(raw, list) and len(raw) <= MAX_EPOCHS, "history.json is not a list of epochs")
    keys = set(EpochLog.__dataclass_fields__)
    for h in raw:
        _check(isinstance(h, dict) and set(h) == keys and _whole(h["epoch"], 1, MAX_EPOCHS) and loss(h["train_loss"])
               and loss(h["val_loss"]) and _number(h["train_accuracy"], 0, 1) and _number(h["val_accuracy"], 0, 1)
               and _number(h["seconds"], 0), "history.json holds an epoch that is not one")
    return [EpochLog(**h) for h in raw]


def _validation_images(run_dir: Path, n: int, size: int) -> Callable[[], torch.Tensor]:
    """The saved validation images (one JPEG per example, size x size), decoded when first needed."""
    images = [run_dir / "validation" / f"{row:05d}.jpg" for row in range(n)]
    _check(all(p.is_file() for p in images), f"validation/ does not hold the {n} validation images")

    def pixels() -> torch.Tensor:
        with _reading(run_dir):
            decoded = []
            for path in images:
                with Image.open(path) as image:
                    _check(image.size == (size, size), f"{path.name} is not {size} x {size} pixels")
                    decoded.append(torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1))
            return torch.stack(decoded)

    return pixels


def load_record(run_dir: str | Path) -> RunRecord:
    """A saved run for the insight views (no network, no model loaded until a view needs it). Runs
    saved before the validation data was kept raise RunLoadError, which says to save again; a damaged
    file raises RunLoadError naming what is wrong."""
    run_dir = Path(run_dir)
    _recover(run_dir)
    if not (run_dir / "validation.safetensors").is_file():
        raise RunLoadError(f"'{run_dir.name}' was saved by an earlier version without its validation data, so "
                           "its charts cannot be redrawn. It still predicts; train and save it again for the charts.")
    config = _checked_config(run_dir)
    task, classes = config.get("task", "image"), list(config["classes"])
    with _reading(run_dir):
        n = _check_validation_specs(_tensor_specs(run_dir / "validation.safetensors"), len(classes))
        tensors = load_file(str(run_dir / "validation.safetensors"))
        _check_validation_values(tensors, len(classes))
        examples = _read_json(run_dir / "validation.json")
        _check_examples(examples, n, task)
        facts = _read_json(run_dir / "metrics.json")
        _check_facts(facts, classes, n)
        history = _history(_read_json(run_dir / "history.json"))
        pixels = (_validation_images(run_dir, n, config["preprocessing"]["input_size"]) if task == "image" else None)
    features = {k.removeprefix("features/"): v.numpy() for k, v in tensors.items() if k.startswith("features/")}
    if "pretrained" in features:
        features.setdefault("fine-tuned", features["pretrained"])  # a frozen backbone: saved once
    return RunRecord(
        label=run_dir.name, task=task, classes=classes,
        config=TrainConfig.from_dict(config["train_config"]), y_val=tensors["y_val"].numpy(),
        val_proba=tensors["val_proba"].numpy(), val_names=examples["names"], facts=facts, history=history,
        val_texts=examples.get("texts"),
        features=features,
        load_pixels=pixels, load_classifier=lambda: load_run(run_dir), folder=run_dir,
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


def _run_files(folder: Path) -> list[Path]:
    """Every file in a run folder and its sub-folders (validation/, tokenizer/), relative to it; links are
    left out."""
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def zip_run(run_dir: str | Path) -> bytes:
    """The whole run folder as zip bytes (one top folder named like the run), for a download button."""
    folder = Path(run_dir)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in _run_files(folder):
            archive.write(folder / relative, f"{folder.resolve().name}/{relative.as_posix()}")
    return buffer.getvalue()
