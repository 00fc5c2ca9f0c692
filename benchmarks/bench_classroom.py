"""A class at once: N browser sessions (real Chromium) load the sample and press Train together.

Prints, for the app on this machine:
- how long a new session's pages take to render while the jobs queue and run (home page, Data page),
- whether sessions refreshed mid-queue get their own run back,
- each job's wait (click to start) and run time (start to saved run), and the click-to-AUC time on screen,
- the server's memory (the app process and its worker processes) at the start, at its peak, when all
  jobs have finished, and once idle workers have given their memory back.

Not a test. Run from the repository root (Debian's chromium and Playwright installed):
    python -m benchmarks.bench_classroom [--sessions 8]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
REPO = Path(__file__).resolve().parents[1]


def tree_rss_mb(pid: int) -> tuple[float, float]:
    """Resident memory (MB) of the process and of all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except (OSError, IndexError, ValueError):
            continue
    below, todo = 0.0, list(children.get(pid, []))
    while todo:
        child = todo.pop()
        below += rss.get(child, 0.0)
        todo += children.get(child, [])
    return rss.get(pid, 0.0), below


class MemoryWatch(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.running = pid, 0.0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, sum(tree_rss_mb(self.pid)))
            time.sleep(0.5)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(runs: Path, cache: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "TLCORE_RUNS_DIR": str(runs), "TLCORE_CACHE_DIR": str(cache)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
            return proc, url
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("the app did not start")


def new_page(browser):
    return browser.new_context(viewport={"width": 1300, "height": 900}).new_page()


def render_seconds(browser, url: str) -> tuple[float, float]:
    """A newcomer: seconds until the home page shows its button, then until the Data page shows its tabs."""
    page = new_page(browser)
    t = time.perf_counter()
    page.goto(url)
    expect(page.get_by_role("button", name="Load the sample data")).to_be_visible(timeout=600_000)
    home = time.perf_counter() - t
    t = time.perf_counter()
    page.get_by_role("link", name="Data").first.click()
    expect(page.get_by_role("tab", name="Upload a zip")).to_be_visible(timeout=600_000)
    data = time.perf_counter() - t
    page.context.close()
    return home, data


def on_train_page(browser, url: str):
    page = new_page(browser)
    page.goto(url)
    page.get_by_role("button", name="Load the sample data").click()
    expect(page.get_by_text("Check your data")).to_be_visible(timeout=120_000)
    page.get_by_role("link", name="Train").first.click()
    expect(page.get_by_text("Trainable blocks:")).to_be_visible(timeout=120_000)
    return page


def started(page):
    return page.get_by_role("button", name="Cancel").or_(page.get_by_text("validation AUC")).first


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="classroom-"))
    proc, url = start_app(work / "runs", work / "cache")
    watch = MemoryWatch(proc.pid)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        render_seconds(browser, url)  # the first visit imports the pages and starts a worker
        time.sleep(20)  # the worker's imports
        start_mb = sum(tree_rss_mb(proc.pid))
        watch.start()
        students = [on_train_page(browser, url) for _ in range(args.sessions)]
        clicked = time.time()
        for page in students:
            page.get_by_role("button", name="Train").click()
        for page in students:
            expect(started(page)).to_be_visible(timeout=600_000)
        renders = [render_seconds(browser, url) for _ in range(3)]
        refreshed = students[-2:]
        for page in refreshed:
            page.reload()
        recovered = 0
        for page in refreshed:
            try:
                expect(started(page)).to_be_visible(timeout=120_000)
                recovered += 1
            except AssertionError:
                pass
        on_screen = {}
        while len(on_screen) < len(students) and time.time() - clicked < 1800:
            for i, page in enumerate(students):
                if i not in on_screen and page.get_by_text("validation AUC").count():
                    on_screen[i] = time.time() - clicked
            time.sleep(0.5)
        finished_mb = sum(tree_rss_mb(proc.pid))
        for page in students:
            page.context.close()
        browser.close()
    time.sleep(75)  # idle workers exit and give their memory back
    idle_mb, watch.running = sum(tree_rss_mb(proc.pid)), False
    proc.terminate()
    statuses = [json.loads(f.read_text()) for f in (work / "runs" / ".jobs").glob("*/status.json")]
    waits = sorted(s["started_at"] - clicked for s in statuses)
    runs = sorted(s["written_at"] - s["started_at"] for s in statuses)

    def spread(values) -> str:
        return f"{min(values):.1f} / {sorted(values)[len(values) // 2]:.1f} / {max(values):.1f}" if values else "n/a"

    print(f"{args.sessions} sessions train the sample (400 digits, EfficientNet-Lite0, 0 trainable blocks) at once")
    print(f"{'measure':58} value")
    print(f"{'new session: home page renders, s (3 tries, while queued)':58} {spread([r[0] for r in renders])}")
    print(f"{'new session: Data page renders, s':58} {spread([r[1] for r in renders])}")
    print(f"{'refreshed mid-queue sessions that got their run back':58} {recovered} of {len(refreshed)}")
    print(f"{'jobs finished (status done)':58} {sum(s['status'] == 'done' for s in statuses)} of {args.sessions}")
    print(f"{'wait, click to start, s (min / median / max)':58} {spread(waits)}")
    print(f"{'run, start to saved run, s (min / median / max)':58} {spread(runs)}")
    print(f"{'click to AUC on screen, s (min / median / max)':58} {spread(list(on_screen.values()))}")
    print(f"{'server memory at start, MB (app + worker)':58} {start_mb:.0f}")
    print(f"{'server memory at peak, MB':58} {watch.peak:.0f}")
    print(f"{'server memory when all finished, MB':58} {finished_mb:.0f} ({finished_mb / start_mb - 1:+.0%})")
    print(f"{'server memory once idle workers exited, MB':58} {idle_mb:.0f} ({idle_mb / start_mb - 1:+.0%})")


if __name__ == "__main__":
    main()
