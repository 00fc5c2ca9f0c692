"""A project as one file, to continue on another day or machine: the data (images as their original
bytes, or texts), the separate validation data, the settings and the session's runs. The file is a zip
named <name>.tlproject:

    project.json              format, task, data label, settings, the examples' labels (and texts)
    data/train/00000.png      images, by number (their labels and names are in project.json)
    data/validation/00000.png
    runs/<name>.zip           each run as zip_run writes it

It is read the way uploads are: within the size and entry limits, no path outside it, no links, only
those kinds of file, nothing ever unpickled; the data goes through the normal dataset builders and
each run through the run zip reader. Anything wrong is one ProjectError sentence."""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

import pandas as pd

from ..backbones import list_backbones
from ..core.config import TrainConfig
from ..core.errors import TLCoreError
from ..core.settings import limits, readable
from ..core.verify import check, whole
from ..data import LabelledDataset, Record, Table, build_dataset, build_text_dataset
from ..data.images import IMAGE_SUFFIXES
from ..data.sources import entry_parts, entry_problem, unsafe_path
from .archive import unpack_run, zip_run
from .files import load_run
from .folders import run_folder_name

FORMAT = "tlcore-project/1"
SUFFIX = ".tlproject"
MANIFEST = "project.json"
PARTS = ("train", "validation")
MB = 1024**2
EXTRA_ENTRIES = 100  # beyond the training and validation images: project.json and the runs
IMAGE_ENTRY = re.compile(r"data/(train|validation)/\d+(" + "|".join(re.escape(s) for s in IMAGE_SUFFIXES) + ")")
RUN_ENTRY = re.compile(r"runs/[A-Za-z0-9._-]+\.zip")
MAX_NAME = 300  # characters in a label or a file name kept in project.json
SAVE_AGAIN = "Save the project again in the app (Save project, on Home or Evaluate) and open that file."


class ProjectError(TLCoreError):
    """A project file that cannot be opened; the message says what is wrong and what to do."""


@dataclass
class Project:
    """Everything a student needs to continue: the task, the data (and separate validation data, or
    None), the settings, and the runs (run folder -> the name the pickers show)."""

    task: str
    data_label: str
    dataset: LabelledDataset
    val_dataset: LabelledDataset | None
    config: TrainConfig
    runs: dict[str, str]


def project_bytes(project: Project) -> bytes:
    """The project as the bytes of a .tlproject file."""
    buffer = io.BytesIO()
    runs, names = [], set()
    # An uploaded word-vectors file stays on the machine it was uploaded to; the Model page asks for it again.
    config = replace(project.config, word_vectors_file=None)
    manifest = {"format": FORMAT, "task": project.task, "data_label": project.data_label, "config": config.to_dict()}
    with zipfile.ZipFile(buffer, "w") as archive:
        for part, dataset in zip(PARTS, (project.dataset, project.val_dataset)):
            manifest[part] = None if dataset is None else _write_examples(archive, part, dataset, project.task)
        for folder, name in project.runs.items():
            file = f"runs/{_unique(run_folder_name(name), names)}.zip"
            archive.writestr(file, zip_run(folder))  # stored: a zip inside gains nothing from compressing again
            runs.append({"file": file, "name": name})
        manifest["runs"] = runs
        archive.writestr(MANIFEST, json.dumps(manifest, ensure_ascii=False, indent=1), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _write_examples(archive: zipfile.ZipFile, part: str, dataset: LabelledDataset, task: str) -> list[dict]:
    """Texts go into project.json; images into data/<part>/ by number, their labels and names into project.json."""
    if task == "text":
        return [{"label": e.label, "text": e.text} for e in dataset.examples]
    entries = []
    for i, example in enumerate(dataset.examples):
        suffix = PurePosixPath(example.name).suffix.lower()
        # The suffix only helps a person looking inside: images are read by their content.
        file = f"data/{part}/{i:05d}{suffix if suffix in IMAGE_SUFFIXES else '.png'}"
        archive.writestr(file, example.data)
        entries.append({"file": file, "label": example.label, "name": example.name})
    return entries


def _unique(name: str, taken: set[str]) -> str:
    found, n = name, 1
    while found in taken:
        n += 1
        found = f"{name}-{n}"
    taken.add(found)
    return found


def _refuse(name: str, problem: str, fix: str = SAVE_AGAIN) -> ProjectError:
    return ProjectError(f"'{name}' cannot be opened as a project: {problem}. {fix}")


def read_project(raw: bytes, name: str) -> Project:
    """The project in a .tlproject file's bytes (`name` is how messages call it), checked entirely:
    its data rebuilt and its runs unpacked and read. ProjectError says what is wrong."""
    files = _read_entries(raw, name)
    manifest = _manifest(files, name)
    task = manifest["task"]
    data = [None if manifest[part] is None else _dataset(manifest[part], files, task, manifest["data_label"], name)
            for part in PARTS]
    return Project(task, manifest["data_label"], data[0], data[1], _config(manifest["config"], task, name),
                   _runs(manifest["runs"], files, name))


def _read_entries(raw: bytes, name: str) -> dict[str, bytes]:
    """Every entry's bytes, each checked (path, link, kind) and all counted as they unpack."""
    limit = limits()
    budget, too_big = int(limit.max_total_mb * MB), "Raise the limit, or save a project with fewer images or runs."
    if len(raw) > budget:
        raise _refuse(name, f"it is larger than {readable(limit.max_total_mb)} MB ({limit.says('max_total_mb')})",
                      too_big)
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
        infos = [i for i in archive.infolist() if not i.is_dir()]
    except Exception:  # any malformed header: arbitrary bytes end here
        raise _refuse(name, "it is not a project file (not a zip), or it is damaged") from None
    most = 2 * limit.max_images + EXTRA_ENTRIES
    if len(infos) > most:
        raise _refuse(name, f"it holds {len(infos):,} files, more than a project of {limit.max_images:,} images "
                            f"and its validation images has ({limit.says('max_images')})", too_big)
    if MANIFEST not in {info.filename for info in infos}:
        raise _refuse(name, "it holds no project.json, so it is not a project (a zip of class folders goes on the "
                            "Data page)", "Open the .tlproject file the app saved.")
    files = {}
    for info in infos:
        entry = info.filename.replace("\\", "/")
        parts = entry_parts(info.filename)
        if not parts or unsafe_path(info.filename, parts):
            raise _refuse(name, f"the entry '{info.filename}' points outside the project")
        if entry_problem(info):
            raise _refuse(name, f"'{info.filename}' is a link or protected by a password")
        if not (entry == MANIFEST or IMAGE_ENTRY.fullmatch(entry) or RUN_ENTRY.fullmatch(entry)):
            raise _refuse(name, f"'{info.filename}' is not a kind of file a project holds (only project.json, the "
                                "images and the runs' zips)")
        try:
            with archive.open(info) as source:
                files[entry] = source.read(budget + 1)  # declared sizes can lie: read at most what is left
        except Exception:
            raise _refuse(name, f"'{info.filename}' is damaged") from None
        budget -= len(files[entry])
        if budget < 0:
            raise _refuse(name, f"it unpacks to more than {readable(limit.max_total_mb)} MB "
                                f"({limit.says('max_total_mb')})", too_big)
    return files


def _manifest(files: dict[str, bytes], name: str) -> dict:
    """project.json, of our format, with the shape of each field checked."""
    try:
        manifest = json.loads(files[MANIFEST].decode("utf-8"))
    except Exception:
        raise _refuse(name, "its project.json is not valid JSON") from None
    found = manifest.get("format") if isinstance(manifest, dict) else None
    if not (isinstance(found, str) and found.startswith("tlcore-project/")):
        raise _refuse(name, "its project.json was not written by this app", "Open the .tlproject file the app saved.")
    if found != FORMAT:
        raise _refuse(name, f"it was saved by a newer version of the app (format {found[:40]})",
                      "Update the app on this machine to open it.")
    try:
        check(manifest.get("task") in ("image", "text"), "the task is neither image nor text")
        check(_name(manifest.get("data_label")), "the data label is not a name")
        check(_examples(manifest.get("train"), manifest["task"]), "the training examples are not a list of examples")
        check(manifest.get("validation") is None or _examples(manifest["validation"], manifest["task"]),
              "the validation examples are not a list of examples")
        check(isinstance(manifest.get("runs"), list) and all(
            isinstance(r, dict) and _name(r.get("name")) and isinstance(r.get("file"), str) for r in manifest["runs"]),
            "the runs are not a list of named files")
    except ValueError as exc:
        raise _refuse(name, f"its project.json is damaged ({exc})") from None
    return manifest


def _name(value) -> bool:
    return isinstance(value, str) and len(value) <= MAX_NAME


def _examples(value, task: str) -> bool:
    fields = ("label", "text") if task == "text" else ("file", "label", "name")
    return isinstance(value, list) and all(
        isinstance(e, dict) and all(isinstance(e.get(f), str) for f in fields) for e in value)


def _dataset(examples: list[dict], files: dict[str, bytes], task: str, data_label: str, name: str) -> LabelledDataset:
    """The examples rebuilt as on the Data page (so the report, duplicates and limits apply); every image
    must still be one."""
    try:
        if task == "text":
            check(len(examples) <= limits().max_text_rows, f"more than {limits().max_text_rows:,} texts")
            frame = pd.DataFrame(examples, columns=["text", "label"])
            return build_text_dataset(Table(frame, data_label), "text", "label")
        missing = next((e["file"] for e in examples if e["file"] not in files), None)
        check(missing is None, f"{missing} is missing")
        dataset = build_dataset([Record(e["label"], e["name"], files[e["file"]]) for e in examples])
    except ValueError as exc:
        raise _refuse(name, f"its data is damaged ({exc})") from None
    except TLCoreError as exc:
        raise _refuse(name, f"its data cannot be used ({exc.user_message.rstrip('.')})") from None
    if dataset.report.skipped:
        first = dataset.report.skipped[0]
        raise _refuse(name, f"the image '{first.name}' in it is not one the app can read ({first.reason.rstrip('.')})")
    return dataset


def _config(raw, task: str, name: str) -> TrainConfig:
    """The settings, for a backbone of the task that this app has."""
    try:
        config = TrainConfig.from_dict(raw)
    except TLCoreError as exc:
        raise _refuse(name, f"its settings are damaged ({exc.user_message.rstrip('.')})") from None
    backbones = {info.name: info for info in list_backbones(modality=task)}
    if config.backbone not in backbones:
        raise _refuse(name, f"its settings name the backbone '{config.backbone[:40]}', which this version of the "
                            "app does not have", "Update the app on this machine to open it.")
    if not whole(config.trainable_blocks, 0, backbones[config.backbone].num_blocks):
        raise _refuse(name, f"its settings train {config.trainable_blocks} blocks of {config.backbone}, which has "
                            f"{backbones[config.backbone].num_blocks}")
    info = backbones[config.backbone]
    if config.feature_block is not None and (info.modality != "image" or config.feature_block > info.num_blocks):
        raise _refuse(name, f"its settings take features from block {config.feature_block} of {config.backbone}, "
                            f"which has {info.num_blocks} blocks")
    return config


def _runs(entries: list[dict], files: dict[str, bytes], name: str) -> dict[str, str]:
    """Each run unpacked by the run zip reader (into the cache, once per content) and read: run folder -> name."""
    runs = {}
    for entry in entries:
        if entry["file"] not in files or not RUN_ENTRY.fullmatch(entry["file"]):
            raise _refuse(name, f"the run '{entry['name']}' is missing from it")
        try:
            folder = unpack_run(files[entry["file"]], PurePosixPath(entry["file"]).name)
            load_run(folder)  # every file the Evaluate page reads, checked now
        except TLCoreError:
            raise _refuse(name, f"the run '{entry['name']}' in it is damaged or from another version") from None
        runs[str(folder)] = entry["name"]
    return runs
