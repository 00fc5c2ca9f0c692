"""The training engine against the physical limit (not a test; prints a table of times and ratios).

The unit is one plain forward pass over every training and validation example: decode + resize +
forward for images (torchvision's ImageFolder and DataLoader, the way a tutorial writes it, but
with the engine's channels_last layout and bf16 autocast where the hardware has bf16, so that it is
the limit on this machine), tokenize + forward for texts (SentenceTransformer.encode). It runs in
this process after the model is loaded, so it leaves out imports and model loading; our runs are whole command-line processes
(`python -m tlcore train ...`, raw files to metrics.json), imports included. Each cold run gets an
empty cache folder; each "caches hit" run reuses the folder of the cold run before it.

Measured in one run, on the same data:
  (1) the unit                         (2) our linear probe, cold, then again with another learning rate
  (3) our 1-trainable-block fine-tune, 10 epochs, cold, then again with another learning rate
  (4) a plain loop that re-runs the whole backbone every epoch (decoding included), 10 epochs
  and the peak resident memory of each process. --rss-images N adds a linear probe on N small
  images to show peak memory when the decoded images outgrow the memory budget.

Run from the repository root: python -m benchmarks.bench_train [--images DIR] [--count 800]
[--texts FILE.csv] [--rss-images 10000] [--skip-text]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from tlcore.backbones.text_preprocessing import tokenize
from tlcore import create_backbone, describe_device, get_backbone_info, resolve_device
from tlcore.core.device import autocast_dtype
from tlcore.engine.freezing import apply_freeze, set_train_mode
from tlcore.engine.model import TransferModel

IMAGE_BACKBONE = "efficientnet_lite0"
TEXT_BACKBONE = "all-MiniLM-L6-v2"
SHAPES = ("circle", "square", "triangle", "stripes")
EPOCHS = 10


def make_image_set(folder: Path, count: int, size: tuple[int, int] = (640, 480), seed: int = 0) -> Path:
    """`count` JPEG photos-to-be in one folder per class: a coloured shape on a noisy background."""
    rng = np.random.default_rng(seed)
    w, h = size
    for i in range(count):
        label = SHAPES[i % len(SHAPES)]
        (folder / label).mkdir(parents=True, exist_ok=True)
        background = rng.integers(0, 256, 3) * 0.6 + rng.normal(0, 25, (h, w, 3))
        image = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        colour = tuple(int(c) for c in rng.integers(60, 256, 3))
        r = int(min(w, h) * rng.uniform(0.2, 0.35))
        cx, cy = int(rng.uniform(r, w - r)), int(rng.uniform(r, h - r))
        if label == "circle":
            draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        elif label == "square":
            draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
        elif label == "triangle":
            draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
        else:
            for x in range(cx - r, cx + r, max(4, r // 4)):
                draw.rectangle((x, cy - r, x + max(2, r // 8), cy + r), fill=colour)
        image.save(folder / label / f"{i:05d}.jpg", quality=90)
    return folder


def make_text_set(path: Path, count: int, seed: int = 0) -> Path:
    """`count` sentences in four topics, made from topic words and shared filler, as a CSV."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    topics = {
        "sport": "goal match team coach player season league score referee stadium".split(),
        "weather": "rain storm sunny forecast wind cloud snow temperature humid thunder".split(),
        "music": "guitar song concert album melody drummer chorus band piano lyrics".split(),
        "cooking": "recipe oven flour garlic simmer sauce bake onion pepper kitchen".split(),
    }
    filler = "the a today we our new very after before with and really quite some many this".split()
    rows = []
    for i in range(count):
        label = list(topics)[i % len(topics)]
        words = list(rng.choice(topics[label], 3)) + list(rng.choice(filler, int(rng.integers(6, 30))))
        rng.shuffle(words)
        rows.append({"text": " ".join(words).capitalize() + ".", "label": label})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _loader(folder: Path, prep):
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    transform = transforms.Compose([
        transforms.Resize(prep.resize_size, interpolation=transforms.InterpolationMode(prep.interpolation),
                          antialias=prep.antialias), transforms.CenterCrop(prep.input_size), transforms.ToTensor(),
        transforms.Normalize(prep.mean, prep.std),
    ])
    dataset = datasets.ImageFolder(str(folder), transform=transform)
    return dataset, DataLoader(dataset, batch_size=64, num_workers=os.cpu_count() or 1)


def plain_image_forward(folder: Path, device, *, fast: bool = True) -> float:
    """(1) decode + resize + forward of the whole backbone over every image, once. fast: with the
    layout and precision the engine uses (channels_last, bf16 where the hardware has it), so that
    the ratios measure the engine's overhead and not these choices."""
    prep = get_backbone_info(IMAGE_BACKBONE).preprocessing
    model = create_backbone(IMAGE_BACKBONE).to(device).eval()
    layout = torch.channels_last if fast else torch.contiguous_format
    dtype = autocast_dtype(device) if fast else None
    model = model.to(memory_format=layout)
    _, loader = _loader(folder, prep)
    start = time.perf_counter()
    with torch.inference_mode(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        for x, _ in loader:
            model(x.to(device).contiguous(memory_format=layout))
    return time.perf_counter() - start


def plain_image_finetune(folder: Path, device) -> float:
    """(4) 1 trainable block for 10 epochs, decoding and running the whole backbone every batch."""
    from torch.utils.data import Subset, DataLoader

    prep = get_backbone_info(IMAGE_BACKBONE).preprocessing
    dataset, _ = _loader(folder, prep)
    model = TransferModel(create_backbone(IMAGE_BACKBONE), len(dataset.classes)).to(device)
    boundary = apply_freeze(model, 1)
    order = np.random.default_rng(0).permutation(len(dataset))
    n_val = len(dataset) // 5
    workers = os.cpu_count() or 1
    train = DataLoader(Subset(dataset, order[n_val:]), batch_size=32, shuffle=True, num_workers=workers)
    val = DataLoader(Subset(dataset, order[:n_val]), batch_size=64, num_workers=workers)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    dtype = autocast_dtype(device)

    def forward(x):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            return model(x.to(device).contiguous(memory_format=torch.channels_last)).float()

    start = time.perf_counter()
    for _ in range(EPOCHS):
        set_train_mode(model, boundary)
        for x, y in train:
            loss = F.cross_entropy(forward(x), y.to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.inference_mode():
            for x, _ in val:
                forward(x)
    return time.perf_counter() - start


def plain_text_forward(texts: list[str], device) -> float:
    from sentence_transformers import SentenceTransformer

    from tlcore.backbones.sentence_transformers import local_folder

    model = SentenceTransformer(str(local_folder(TEXT_BACKBONE)), device=str(device))
    model.encode(texts[:8])
    dtype = autocast_dtype(device)
    start = time.perf_counter()
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        model.encode(texts, batch_size=64)
    return time.perf_counter() - start


def plain_text_finetune(texts: list[str], labels: list[str], device) -> float:
    """1 trainable layer for 10 epochs, tokenizing and running every layer every batch."""
    classes = sorted(set(labels))
    y_all = torch.tensor([classes.index(label) for label in labels])
    model = TransferModel(create_backbone(TEXT_BACKBONE), len(classes)).to(device)
    prep = get_backbone_info(TEXT_BACKBONE).preprocessing
    boundary = apply_freeze(model, 1)
    order = np.random.default_rng(0).permutation(len(texts))
    n_val = len(texts) // 5
    train_idx, val_idx = order[n_val:], order[:n_val]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    dtype = autocast_dtype(device)
    start = time.perf_counter()
    for _ in range(EPOCHS):
        set_train_mode(model, boundary)
        for i in range(0, len(train_idx), 32):
            index = np.random.default_rng(i).permutation(train_idx)[:32]
            ids, mask, _ = tokenize(model.backbone.tokenizer, [texts[j] for j in index], prep)
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                logits = model((ids.to(device), mask.to(device))).float()
            loss = F.cross_entropy(logits, y_all[index].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.inference_mode():
            for i in range(0, len(val_idx), 64):
                ids, mask, _ = tokenize(model.backbone.tokenizer, [texts[j] for j in val_idx[i:i + 64]], prep)
                with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                    model((ids.to(device), mask.to(device)))
    return time.perf_counter() - start


# Runs `python -m tlcore ...` and reports the process's own peak resident memory at exit (VmHWM,
# Linux): the rusage of a child would also count the pages it shared with this process before exec.
_CLI = """
import atexit, runpy, sys
def report():
    peak = [line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")]
    sys.stderr.write(f"peak_kb {peak[0] if peak else 0}\\n")
atexit.register(report)
sys.argv = ["tlcore", *sys.argv[1:]]
runpy.run_module("tlcore", run_name="__main__")
"""


def run_cli(args: list[str], cache_dir: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GB) of one `python -m tlcore train` process."""
    env = {**os.environ, "TLCORE_CACHE_DIR": str(cache_dir)}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CLI, "train", *args, "--out", str(out)], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"tlcore train {' '.join(args)} failed:\n{done.stderr}")
    peak_kb = int(done.stderr.rsplit("peak_kb ", 1)[1].split()[0])
    return seconds, peak_kb / 1024**2


def our_runs(data: Path, extra: list[str], work: Path) -> list[tuple[str, float, float]]:
    """(2) and (3): cold, then caches hit with another learning rate, each a whole CLI process."""
    rows = []
    for label, options in (("linear probe (0 trainable blocks)", ["--trainable-blocks", "0"]),
                           (f"1 trainable block, {EPOCHS} epochs",
                            ["--trainable-blocks", "1", "--epochs", str(EPOCHS), "--patience", "0"])):
        cache = Path(tempfile.mkdtemp(dir=work, prefix="cache-"))
        rows.append((f"{label}, cold", *run_cli([str(data), *extra, *options], cache, work / "run")))
        rows.append(("  again, another learning rate (caches hit)",
                     *run_cli([str(data), *extra, *options, "--lr", "0.001"], cache, work / "run")))
    return rows


def print_table(title: str, unit: float, rows: list[tuple[str, float, float | None]]) -> None:
    print(f"\n{title}")
    print(f"{'measure':52} {'seconds':>8} {'x unit':>7} {'peak GB':>8}")
    for label, seconds, rss in rows:
        print(f"{label:52} {seconds:8.1f} {seconds / unit:7.2f} {'' if rss is None else f'{rss:8.2f}'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=Path, help="a folder of class folders (default: generated)")
    parser.add_argument("--count", type=int, default=800, help="how many images (or texts x5) to generate")
    parser.add_argument("--texts", type=Path, help="a CSV with text,label columns (default: generated)")
    parser.add_argument("--rss-images", type=int, default=0, help="also a linear probe on this many 224 px images")
    parser.add_argument("--skip-text", action="store_true")
    args = parser.parse_args()
    device = resolve_device("auto")
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    print(f"{describe_device(device)}; working folder {work}")

    images = args.images or make_image_set(work / "images", args.count)
    n_images = sum(1 for p in images.rglob("*") if p.is_file())
    unit = plain_image_forward(images, device)
    rows = [("(1) plain forward pass: decode + resize + forward", unit, None),
            ("    the same as tutorials write it (float32, default layout)",
             plain_image_forward(images, device, fast=False), None)]
    rows += our_runs(images, [], work)
    rows.append((f"(4) plain loop, whole backbone every epoch, {EPOCHS} epochs", plain_image_finetune(images, device),
                 None))
    print_table(f"Images: {n_images}, {IMAGE_BACKBONE}", unit, rows)

    if args.rss_images:
        small = make_image_set(work / "many", args.rss_images, size=(224, 224))
        seconds, rss = run_cli([str(small), "--epochs", "3"], Path(tempfile.mkdtemp(dir=work)), work / "run")
        print(f"\nlinear probe on {args.rss_images} images at 224 px: {seconds:.0f} s, peak memory {rss:.2f} GB")

    if not args.skip_text:
        import pandas as pd

        table = args.texts or make_text_set(work / "texts.csv", args.count * 5)
        frame = pd.read_csv(table)
        texts, labels = frame["text"].astype(str).tolist(), frame["label"].astype(str).tolist()
        unit = plain_text_forward(texts, device)
        rows = [("(1) plain forward pass: tokenize + forward (encode)", unit, None)]
        rows += our_runs(table, ["--task", "text"], work)
        rows.append((f"(4) plain loop, every layer every epoch, {EPOCHS} epochs",
                     plain_text_finetune(texts, labels, device), None))
        print_table(f"Texts: {len(texts)}, {TEXT_BACKBONE}", unit, rows)


if __name__ == "__main__":
    main()
