"""Jobs on a Ray cluster: a head with 2 processors started here, on a free port of 127.0.0.1, with token
authentication; the app's job interface and the command line run on it as they do without it."""
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.ray_head import ROOT, free_port, ray_head  # noqa: E402  (before Ray: its token)

pytest.importorskip("ray")

from tests.conftest import shape_records  # noqa: E402
from tests.job_work import Blocking, Together  # noqa: E402
from tlcore import TrainConfig, build_dataset  # noqa: E402
from tlcore.cli import main  # noqa: E402
from tlcore.runs import cluster, coordinator, jobs  # noqa: E402
from tlcore.runs.files import load_run  # noqa: E402
from tlcore.runs.work import RecommendWork, SweepWork, TrainWork  # noqa: E402


@pytest.fixture(scope="module")
def head():
    """A head with 2 processors, each job's part asking for one; jobs go to it while the module runs."""
    saved = {k: os.environ.get(k) for k in ["TLCORE_RAY_ADDRESS", "TLCORE_CPUS_PER_JOB"]}
    try:
        with ray_head(cpus=2) as address:
            os.environ.update(TLCORE_RAY_ADDRESS=address, TLCORE_CPUS_PER_JOB="1")
            yield address
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(autouse=True)
def no_job_outlives_its_test():
    """A test that fails mid-job leaves no part holding the cluster's processors for the next ones."""
    yield
    jobs.reap_abandoned(now=math.inf)


@pytest.fixture(scope="module")
def small_shapes():
    return build_dataset(shape_records(per_class=8, seed=5))


@pytest.fixture(scope="module")
def shapes_folder(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("shapes")
    for record in shape_records(per_class=8, seed=6):
        (data / record.name).parent.mkdir(exist_ok=True)
        (data / record.name).write_bytes(record.data)
    return data


def config(**changes) -> TrainConfig:
    return TrainConfig(**{**dict(epochs=4, batch_size=8, val_fraction=0.25, device="cpu", head="mlp",
                                 early_stopping_patience=0), **changes})


def wait_for(condition, timeout=180.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.1)


def follow(job, timeout=300.0) -> list:
    """Every snapshot's (status, phase) until the job ends; the last snapshot is job.snapshot()."""
    seen, deadline = [], time.monotonic() + timeout
    while not (snap := job.snapshot()).finished:
        assert time.monotonic() < deadline, "the job did not end"
        if not seen or seen[-1] != (snap.status, snap.phase):
            seen.append((snap.status, snap.phase))
        time.sleep(0.1)
    return seen


def val_proba(folder: Path) -> np.ndarray:
    return load_run(folder).val_proba


def test_a_training_job_runs_on_the_cluster_and_its_run_comes_back(head, small_shapes, tmp_path):
    job = jobs.submit(TrainWork(small_shapes, config()), 4)
    assert isinstance(job, cluster.ClusterJob)
    seen = follow(job)
    snap = job.snapshot()
    assert snap.status == jobs.DONE, snap.error
    assert seen[0] == (jobs.QUEUED, "Waiting for the cluster") and seen[-1][0] == jobs.RUNNING
    assert len(snap.history) == 4 and snap.result == ["run"]
    metrics = json.loads((job.folder / "run" / "metrics.json").read_text())
    assert metrics["cluster"]["backend"] == "ray" and metrics["cluster"]["workers"] == 1
    assert metrics["cluster"]["node"].startswith(socket.gethostname())
    TrainWork(small_shapes, config())([], tmp_path)  # the same run, here
    np.testing.assert_allclose(val_proba(job.folder / "run"), val_proba(tmp_path / "run"), atol=1e-4)
    assert load_run(tmp_path / "run").facts.cluster is None


def test_the_parts_of_a_job_run_side_by_side_on_the_workers(head, tmp_path):
    snap = jobs.submit(Together(str(tmp_path), 2), 1).wait(180)
    assert snap.status == jobs.DONE, snap.error  # each part waited for the other: they ran at the same time
    assert len(set(snap.result)) == 2  # in two processes


def test_a_sweep_on_the_cluster_equals_the_sweep_here(head, small_shapes, tmp_path):
    work = SweepWork(small_shapes, config(), (0, 1))
    job = jobs.submit(work, 4)
    follow(job)
    assert job.snapshot().status == jobs.DONE, job.snapshot().error
    work([], tmp_path)  # the same sweep, here
    for name in ["run-0", "run-1"]:
        np.testing.assert_allclose(val_proba(job.folder / name), val_proba(tmp_path / name), atol=1e-4)


def test_a_recommendation_probes_its_backbones_on_the_cluster_as_it_does_here(head, text_dataset):
    from tlcore import default_config
    from tlcore.runs.recommend import recommend

    work = RecommendWork(text_dataset, default_config("text"), backbones=("tfidf", "all-MiniLM-L6-v2"))
    snap = jobs.submit(work, 1).wait(300)
    assert snap.status == jobs.DONE, snap.error
    here = recommend(text_dataset, default_config("text"), backbones=["tfidf", "all-MiniLM-L6-v2"]).to_dict()
    scores = lambda advice: [(b["name"], round(b["auc"], 4)) for b in advice["backbones"]]  # noqa: E731
    chosen = lambda advice: {k: v for k, v in advice["recommended"].items() if k != "reason"}  # noqa: E731
    assert scores(snap.result) == scores(here) and chosen(snap.result) == chosen(here)  # the reason quotes seconds


def test_cancel_ends_the_part_on_its_worker_and_frees_its_processor(head, tmp_path):
    import ray

    work = Blocking(str(tmp_path), "cancelled")
    job = jobs.submit(work, 1)
    wait_for(lambda: work.ran() and work.pid() > 0)
    wait_for(lambda: job.snapshot().status == jobs.RUNNING)
    wait_for(lambda: ray.available_resources().get("CPU", 0) <= 1, timeout=30)  # Ray's view lags a little
    job.cancel()
    assert job.wait(30).status == jobs.CANCELLED
    wait_for(lambda: not _alive(work.pid()), timeout=30)
    wait_for(lambda: ray.available_resources().get("CPU", 0) == 2, timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def test_a_killed_worker_is_run_again_once_and_twice_ends_the_job_with_a_sentence(head, tmp_path):
    work = Blocking(str(tmp_path), "killed")
    job = jobs.submit(work, 1)
    wait_for(lambda: work.ran() and work.pid() > 0 and job.snapshot().phase == "Counting")  # its reports arrived
    first = work.pid()
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: work.pid() not in (0, first))  # Ray ran the part again, in another process
    wait_for(lambda: coordinator.RESTARTED in job.snapshot().notes)
    work.release()
    assert job.wait(60).status == jobs.DONE

    again = Blocking(str(tmp_path), "killed-twice")
    job = jobs.submit(again, 1)
    for _ in range(2):
        wait_for(lambda: again.ran() and again.pid() > 0)
        pid = again.pid()
        Path(tmp_path, "killed-twice.ran").unlink()
        os.kill(pid, signal.SIGKILL)
    snap = job.wait(120)
    assert snap.status == jobs.FAILED and snap.error == coordinator.WORKER_LOST


def test_an_unreachable_cluster_fails_at_once_naming_the_address_and_how_to_start_a_head(
        monkeypatch, capsys, shapes_folder, tmp_path):
    address = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("TLCORE_RAY_ADDRESS", address)
    snap = jobs.submit(Blocking("/nonexistent", "never"), 1).wait(60)
    assert snap.status == jobs.FAILED
    assert f"No Ray cluster answers at {address}" in snap.error and "ray start --head" in snap.error
    assert main(["train", str(shapes_folder), "--out", str(tmp_path / "run"), "--cluster", address]) == 2
    assert f"No Ray cluster answers at {address}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_command_line_trains_and_sweeps_on_the_cluster(head, shapes_folder, tmp_path, capsys):
    data, folders = shapes_folder, Path(os.environ["TLCORE_RUNS_DIR"]) / ".jobs"
    before = set(folders.glob("*"))
    args = ["--epochs", "2", "--head", "mlp", "--device", "cpu", "--cluster", head]
    assert main(["train", str(data), "--out", str(tmp_path / "run"), *args]) == 0
    printed = capsys.readouterr().out
    assert "epoch 2:" in printed and "on the cluster's" in printed
    assert load_run(tmp_path / "run").facts.cluster["backend"] == "ray"
    assert main(["sweep", str(data), "--depths", "0", "1", "--out", str(tmp_path / "sweep"), *args]) == 0
    assert [load_run(tmp_path / "sweep" / f"run-{d}").config.trainable_blocks for d in (0, 1)] == [0, 1]
    assert set(folders.glob("*")) == before  # the jobs' folders are gone


def test_the_local_backend_never_imports_ray(tmp_path):
    code = ("import sys; from tlcore.runs import jobs; from tests.job_work import Facts; "
            "snap = jobs.submit(Facts(), 1).wait(120); assert snap.status == 'done', snap.error; "
            "assert 'ray' not in sys.modules; print('ok')")
    env = {k: v for k, v in os.environ.items() if k != "TLCORE_RAY_ADDRESS"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.stdout.strip() == "ok", result.stderr


def test_backend_settings_are_checked(monkeypatch):
    from tlcore.core.errors import ConfigError
    from tlcore.core.settings import job_settings

    monkeypatch.delenv("TLCORE_RAY_ADDRESS", raising=False)
    assert job_settings().backend == "local"
    monkeypatch.setenv("TLCORE_RAY_ADDRESS", "10.0.0.5:6379")
    assert (job_settings().backend, job_settings().ray_address) == ("ray", "10.0.0.5:6379")
    monkeypatch.setenv("TLCORE_JOBS_BACKEND", "slurm")
    with pytest.raises(ConfigError, match='must be "local" or "ray"'):
        job_settings()


def test_without_ray_installed_the_ray_backend_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    snap = cluster.ClusterJob(Blocking("/nonexistent", "never"), 1, "127.0.0.1:1").start().wait(30)
    assert snap.status == jobs.FAILED and "pip install -r requirements-cluster.txt" in snap.error


def test_a_fine_tune_shared_by_two_workers_trains_like_one(head, shapes_folder, tmp_path, capsys):
    """--workers 2: Ray Train with PyTorch DDP (gloo); each worker runs the frozen blocks once over its share
    of the training examples, never per epoch; uneven shares are padded so both take the same steps and
    end with the same weights (checked by the run); the AUC is within noise of one worker's."""
    data = tmp_path / "data"
    shutil.copytree(shapes_folder, data)
    for image in sorted((data / "stripes").iterdir())[:2]:
        image.unlink()  # 14 images, 3 to validate: 11 to train on, dealt 6 and 5
    args = [str(data), "--trainable-blocks", "1", "--epochs", "3", "--head", "mlp", "--device", "cpu",
            "--patience", "2", "--cluster", head]
    assert main(["train", *args, "--workers", "2", "--out", str(tmp_path / "two")]) == 0
    assert "shared by 2 workers" in capsys.readouterr().out
    assert main(["train", *args, "--out", str(tmp_path / "one")]) == 0
    two, one = load_run(tmp_path / "two"), load_run(tmp_path / "one")
    assert two.facts.cluster["workers"] == 2 and two.facts.cluster["train_per_worker"] == [6, 5]
    assert two.facts.n_train == one.facts.n_train == 11
    assert two.facts.reuse.frozen_blocks_ran == "once" and len(two.history) > 1
    assert abs(two.report.auc - one.report.auc) < 0.1 and two.report.auc > 0.9


def test_a_job_larger_than_the_cluster_is_refused_with_a_sentence(head, monkeypatch):
    monkeypatch.setenv("TLCORE_CPUS_PER_JOB", "4")
    snap = jobs.submit(Blocking("/nonexistent", "never"), 1).wait(60)
    assert snap.status == jobs.FAILED and "room for 0 workers of 4 processors" in snap.error


def test_the_local_address_starts_a_ray_on_this_machine(shapes_folder, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("TLCORE_RAY_ADDRESS", "RAY_ADDRESS")}
    result = subprocess.run([sys.executable, "-m", "tlcore", "train", str(shapes_folder), "--out", str(tmp_path / "run"),
                             "--epochs", "1", "--head", "mlp", "--device", "cpu", "--cluster", "local"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert load_run(tmp_path / "run").facts.cluster["backend"] == "ray"


def test_workers_need_a_cluster_and_trainable_blocks(shapes_folder, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TLCORE_RAY_ADDRESS", raising=False)
    assert main(["train", str(shapes_folder), "--trainable-blocks", "1", "--workers", "2",
                 "--out", str(tmp_path / "run")]) == 2
    assert "--cluster HOST:PORT" in capsys.readouterr().err
    assert main(["train", str(shapes_folder), "--workers", "2", "--cluster", "127.0.0.1:1",
                 "--out", str(tmp_path / "run")]) == 2
    assert "0 trainable blocks" in capsys.readouterr().err and not (tmp_path / "run").exists()
