"""Background jobs: each runs in a worker process of its own, queues for the device, reports its
progress, can be cancelled, and is forgotten (its folder deleted) when nobody looks at it."""
import json
import os
import time

import pytest

from tests.conftest import shape_records
from tests.job_work import Blocking, Facts, Fails
from tlcore import TrainConfig, build_dataset
from tlcore.runs import jobs, workers
from tlcore.runs.files import load_run
from tlcore.runs.work import TrainWork


@pytest.fixture(autouse=True)
def one_slot(monkeypatch, tmp_path):
    """A fresh device queue with one slot (the default), and job folders in a throw-away runs folder."""
    monkeypatch.setenv("TLCORE_MAX_RUNNING_JOBS", "1")
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(tmp_path / "runs"))
    jobs.device_queue.cache_clear()
    yield
    jobs.device_queue.cache_clear()


def wait_for(condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_work_runs_in_another_process_at_a_lower_priority():
    snap = jobs.submit(Facts(), 1).wait(120)
    assert snap.status == jobs.DONE
    assert snap.result["pid"] != os.getpid()
    assert snap.result["nice"] > os.nice(0)


def test_second_job_waits_its_turn_and_sees_its_place(tmp_path):
    first_work, second_work = Blocking(str(tmp_path), "first"), Blocking(str(tmp_path), "second")
    first = jobs.submit(first_work, 1)
    wait_for(first_work.ran)
    second = jobs.submit(second_work, 1)
    time.sleep(0.5)
    snap = second.snapshot()
    assert snap.status == jobs.QUEUED and snap.queue_place == 1 and not second_work.ran()
    assert snap.poll_s > first.snapshot().poll_s  # a queued page looks less often than a running one
    first_work.release()
    wait_for(second_work.ran)
    assert first.wait(30).status == jobs.DONE and second.snapshot().queue_place is None
    second_work.release()
    assert second.wait(30).status == jobs.DONE
    assert first.snapshot().result == second.snapshot().result == "done"


def test_progress_of_a_phase_has_a_count_and_an_eta(tmp_path):
    work = Blocking(str(tmp_path), "counting")
    job = jobs.submit(work, 1)
    wait_for(lambda: job.snapshot().done == 5)
    snap = job.snapshot()
    assert (snap.done, snap.total) == (5, 10) and snap.eta_s is not None and snap.eta_s >= 0
    work.release()
    assert job.wait(30).status == jobs.DONE and job.snapshot().eta_s is None


def test_cancel_while_queued_never_runs_and_cancel_while_running_frees_the_slot(tmp_path):
    first_work, queued_work = Blocking(str(tmp_path), "first"), Blocking(str(tmp_path), "queued")
    first = jobs.submit(first_work, 1)
    wait_for(first_work.ran)
    queued = jobs.submit(queued_work, 1)
    queued.cancel()
    assert queued.wait(10).status == jobs.CANCELLED and not queued_work.ran()
    first.cancel()
    assert first.wait(30).status == jobs.CANCELLED
    third_work = Blocking(str(tmp_path), "third")
    third = jobs.submit(third_work, 1)
    wait_for(third_work.ran)  # the cancelled job gave the device back
    third.cancel()
    assert third.wait(30).status == jobs.CANCELLED


def test_cancel_stops_a_real_training_run_between_batches(shapes_dataset):
    config = TrainConfig(epochs=500, batch_size=2, early_stopping_patience=0, device="cpu", head="mlp")
    job = jobs.submit(TrainWork(shapes_dataset, config), 500)
    wait_for(lambda: job.snapshot().epoch >= 1, timeout=180)
    job.cancel()
    snap = job.wait(60)
    assert snap.status == jobs.CANCELLED and snap.epoch < 500 and snap.result is None
    assert not (job.folder / "run").exists()


def test_a_training_job_saves_its_run_in_its_folder(shapes_dataset):
    job = jobs.submit(TrainWork(shapes_dataset, TrainConfig(epochs=15, val_fraction=0.25, device="cpu")), 15)
    snap = job.wait(180)
    assert snap.status == jobs.DONE and snap.result == ["run"]
    assert [h.epoch for h in snap.history] == list(range(1, len(snap.history) + 1)) and snap.history
    record = load_run(job.folder / "run")
    assert record.report.auc > 0.9 and record.classes == ["circle", "stripes"]


@pytest.mark.parametrize("how, message", [
    ("user", "Found 1 class (cats)"),
    ("unexpected", "Training failed unexpectedly: something odd"),
    ("killed", "was stopped unexpectedly, most likely because the machine ran out of memory"),
])
def test_a_failing_job_says_why_and_frees_the_device(how, message, tmp_path):
    snap = jobs.submit(Fails(how), 1).wait(120)
    assert snap.status == jobs.FAILED and message in snap.error
    after = Blocking(str(tmp_path), "after")
    job = jobs.submit(after, 1)
    wait_for(after.ran)
    job.cancel()
    assert job.wait(30).status == jobs.CANCELLED


def test_jobs_without_a_viewer_are_cancelled_and_forgotten(monkeypatch, tmp_path):
    monkeypatch.setenv("TLCORE_ABANDONED_MINUTES", "10")
    work = Blocking(str(tmp_path), "alone")
    job = jobs.submit(work, 1)
    wait_for(work.ran)
    assert jobs.get_job(job.job_id) is job
    assert job.job_id not in jobs.reap_abandoned(now=time.monotonic() + 9 * 60)  # seen recently enough
    assert job.job_id in jobs.reap_abandoned(now=time.monotonic() + 11 * 60)
    assert job.wait(30).status == jobs.CANCELLED and jobs.get_job(job.job_id) is None
    wait_for(lambda: not job.folder.exists(), timeout=30)  # its files are deleted too


def test_work_that_cannot_reach_a_worker_fails_with_a_sentence_instead_of_hanging():
    snap = jobs.submit(lambda callbacks, folder: None, 1).wait(30)  # a lambda cannot be sent to another process
    assert snap.status == jobs.FAILED and snap.error.startswith("Training could not start")


def test_a_worker_that_ends_before_it_begins_the_job_hands_it_to_another(monkeypatch):
    import subprocess
    import sys

    take = jobs.POOL.take
    gone = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.PIPE)  # exits at once, reads nothing
    gone.wait()
    handed = iter([gone])
    monkeypatch.setattr(jobs.POOL, "take", lambda: next(handed, None) or take())
    snap = jobs.submit(Facts(), 1).wait(120)
    assert snap.status == jobs.DONE and snap.result["pid"] != gone.pid


def test_a_worker_idle_for_a_minute_after_its_jobs_is_told_to_exit_and_a_fresh_one_waits():
    worker = jobs.POOL.take()
    jobs.POOL.give_back(worker)
    with jobs.POOL._lock:
        jobs.POOL._idle[-1] = (worker, time.monotonic() - jobs.WORKER_IDLE_S - 1)  # as if idle a minute
    assert worker.wait(30) == 0  # its memory goes back to the system
    assert jobs.POOL.take() is not worker


def test_new_data_stops_the_sessions_old_job_so_it_holds_no_place(tmp_path):
    from tlcore.app import Workspace

    work = Blocking(str(tmp_path), "old")
    job = jobs.submit(work, 1)
    wait_for(work.ran)
    ws = Workspace(job_id=job.job_id)
    ws.set_data(None, "other data", None)
    assert job.wait(30).status == jobs.CANCELLED and jobs.get_job(job.job_id) is None
    wait_for(lambda: not job.folder.exists(), timeout=60)


def test_a_worker_started_from_another_folder_imports_this_tlcore(monkeypatch, tmp_path):
    """The app may be started from any folder: its workers still find the tlcore it runs."""
    monkeypatch.chdir(tmp_path)
    pool = workers.WorkerPool()  # its workers start here, not where the tests started
    monkeypatch.setattr(jobs.POOL, "take", pool.take)
    snap = jobs.submit(Facts(), 1).wait(120)
    assert snap.status == jobs.DONE, snap.error


@pytest.fixture(scope="module")
def small_shapes():
    """Images of their own (nothing cached for them yet), so concurrent jobs also fill the cache at once."""
    return build_dataset(shape_records(per_class=8, seed=11))


def small_training(dataset, seed: int) -> TrainWork:
    """Frozen backbone, a head with dropout (drawn from the seed), a few epochs."""
    return TrainWork(dataset, TrainConfig(trainable_blocks=0, head="mlp", epochs=4, batch_size=4,
                                          early_stopping_patience=0, val_fraction=0.25, seed=seed, device="cpu"))


def run_outcome(job) -> dict:
    """What a finished training job's run says: scores, validation probabilities, history (without times)."""
    from safetensors.torch import load_file

    run = job.folder / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    history = [{k: v for k, v in h.items() if k != "seconds"} for h in json.loads((run / "history.json").read_text())]
    return {"auc": metrics["auc"], "accuracy": metrics["accuracy"], "history": history,
            "val_proba": load_file(str(run / "validation.safetensors"))["val_proba"].tolist()}


def run_together(*works) -> list:
    """Submit the works at once (two slots) and wait; asserts they were on the device at the same time:
    seen running together, and the workers' own start and end times overlap."""
    # Warm two workers first, so neither job waits for a fresh worker's imports while the other trains.
    for snap in [job.wait(120) for job in [jobs.submit(Facts(), 1) for _ in works]]:
        assert snap.status == jobs.DONE
    submitted = [jobs.submit(work, 4) for work in works]
    seen_together = False
    while not all(job.snapshot().finished for job in submitted):
        seen_together |= all(job.snapshot().status == jobs.RUNNING for job in submitted)
        time.sleep(0.02)
    for job in submitted:
        snap = job.wait(240)
        assert snap.status == jobs.DONE, snap.error
    spans = [json.loads((job.folder / jobs.STATUS_FILE).read_text()) for job in submitted]
    assert seen_together and max(s["started_at"] for s in spans) < min(s["written_at"] for s in spans)
    return [run_outcome(job) for job in submitted]


def test_reproducible_under_concurrency(monkeypatch, small_shapes):
    """Two jobs with the same data and seed, training at the same time in two workers, give exactly the
    run that job gives alone."""
    monkeypatch.setenv("TLCORE_MAX_RUNNING_JOBS", "2")
    jobs.device_queue.cache_clear()
    first, second = run_together(small_training(small_shapes, 3), small_training(small_shapes, 3))
    alone = jobs.submit(small_training(small_shapes, 3), 4)
    assert alone.wait(240).status == jobs.DONE
    assert first == second == run_outcome(alone)


def test_different_seeds_at_the_same_time_give_different_runs(monkeypatch, small_shapes):
    monkeypatch.setenv("TLCORE_MAX_RUNNING_JOBS", "2")
    jobs.device_queue.cache_clear()
    first, second = run_together(small_training(small_shapes, 3), small_training(small_shapes, 4))
    assert first["val_proba"] != second["val_proba"] and first["history"] != second["history"]


def test_a_phase_first_reported_part_done_estimates_from_its_second_report(tmp_path, monkeypatch):
    from tlcore.runs import worker

    now = [0.0]
    monkeypatch.setattr(worker.time, "monotonic", lambda: now[0])
    writer = worker.StatusWriter(tmp_path, epochs=1)
    now[0] = 10.0
    writer.on_phase("Running the frozen blocks", 64, 400)  # the first batch already done: its time is unknown
    assert writer.state["eta_s"] is None  # "estimating", not "about 0 s left"
    now[0] = 12.0
    writer.on_phase("Running the frozen blocks", 128, 400)  # 64 in 2 s, so 272 more take 8.5 s
    assert writer.state["eta_s"] == pytest.approx(8.5)
