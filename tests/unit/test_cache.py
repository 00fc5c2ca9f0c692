"""The engine's caches: on disk for later processes, in memory up to a budget, half precision where it
fits, least recently used removed; and runs that use them give the results of runs that do not."""
import numpy as np
import pytest
import torch

from tlcore import ConfigError, TrainConfig, train
from tlcore.engine.activations import DiskTensor, load, take
from tlcore.engine.cache import TensorCache
from tlcore.core.settings import cache_settings
from tlcore import train


def test_entries_survive_a_new_process_and_come_back_as_stored(tmp_path):
    value = (torch.randn(5, 3, 2), torch.arange(5))
    stored, hit = TensorCache(tmp_path).fetch(("k",), lambda: value)
    assert not hit and stored[0].dtype == torch.float16 and stored[1].dtype == torch.int64
    again, hit = TensorCache(tmp_path).fetch(("k",), lambda: pytest.fail("computed twice"))
    assert hit and all(torch.equal(a, b) for a, b in zip(stored, again))
    assert torch.allclose(again[0].float(), value[0], rtol=1e-3, atol=1e-3)


def test_values_beyond_float16_range_and_pooled_features_stay_float32(tmp_path):
    pooled, _ = TensorCache(tmp_path).fetch(("pooled",), lambda: torch.randn(5, 3))
    assert pooled.dtype == torch.float32
    big = torch.tensor([[[1.0, 1e6]]])
    stored, _ = TensorCache(tmp_path).fetch(("big",), lambda: big)
    assert stored.dtype == torch.float32 and torch.equal(stored, big)
    exact, _ = TensorCache(tmp_path, half_precision=False).fetch(("small",), lambda: torch.tensor([[[0.1]]]))
    assert exact.dtype == torch.float32


def test_entries_beyond_the_memory_budget_are_read_from_disk_a_batch_at_a_time(tmp_path):
    value = torch.randn(40, 8, 2)
    stored, _ = TensorCache(tmp_path, memory_bytes=100).fetch(("k",), lambda: value)
    assert isinstance(stored, DiskTensor) and len(stored) == 40
    rows = torch.tensor([7, 3, 30])
    view = take(stored, rows)
    assert isinstance(view, DiskTensor) and view.shape == (3, 8, 2)
    assert torch.equal(load(take(view, slice(1, 3))), value[rows][1:].half())


def test_rows_written_straight_to_disk_when_too_big_for_memory(tmp_path):
    def fill(out):
        assert not isinstance(out, torch.Tensor)  # a writer to the file, not an array in memory
        for i in range(len(out)):
            out[i] = torch.full((2, 2), i, dtype=torch.uint8)

    stored, hit = TensorCache(tmp_path, memory_bytes=10).fetch_rows(("px",), (6, 2, 2), torch.uint8, fill)
    assert not hit and isinstance(stored, DiskTensor)
    assert torch.equal(load(stored)[:, 0, 0], torch.arange(6, dtype=torch.uint8))


def test_least_recently_used_entries_go_first_beyond_the_disk_budget(tmp_path):
    cache = TensorCache(tmp_path, disk_bytes=3 * 1100)  # three entries of about 1000 bytes
    for name in ("a", "b", "c"):
        cache.fetch((name,), lambda: torch.zeros(200, dtype=torch.int32))
    TensorCache(tmp_path).fetch(("a",), lambda: pytest.fail("a was removed"))  # a is now the most recent
    cache.fetch(("d",), lambda: torch.zeros(200, dtype=torch.int32))
    fresh = TensorCache(tmp_path)
    assert fresh.fetch(("a",), lambda: None)[1] and fresh.fetch(("d",), lambda: None)[1]
    assert not fresh.fetch(("b",), lambda: torch.zeros(1))[1]
    assert cache.disk_usage() <= 3 * 1100


def test_an_unwritable_cache_folder_costs_reuse_not_the_run(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    cache = TensorCache(blocker / "cache")
    stored, hit = cache.fetch(("k",), lambda: torch.ones(3))
    assert not hit and torch.equal(stored.float(), torch.ones(3))
    assert cache.fetch(("k",), lambda: pytest.fail("computed twice"))[1]  # still in memory


def test_settings_come_from_the_environment_then_the_file(tmp_path, monkeypatch):
    (tmp_path / "tlcore.toml").write_text('[cache]\ndir = "from-file"\nmemory_gb = 0.5\nhalf_precision = false\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TLCORE_CACHE_DIR")
    settings = cache_settings()
    assert settings.folder.name == "from-file" and settings.memory_bytes == 512 * 1024**2
    assert not settings.half_precision
    monkeypatch.setenv("TLCORE_CACHE_DIR", str(tmp_path / "from-env"))
    assert cache_settings().folder.name == "from-env"
    monkeypatch.setenv("TLCORE_CACHE_MEMORY_GB", "lots")
    with pytest.raises(ConfigError, match="must be a number"):
        cache_settings()


@pytest.fixture
def full_precision(monkeypatch):
    """Exact comparisons need float32 maths (bfloat16 rounding depends on how rows are batched)."""
    monkeypatch.setenv("TLCORE_MIXED_PRECISION", "0")


@pytest.mark.parametrize("trainable_blocks", [0, 1])
def test_cached_image_runs_equal_the_plain_loop(shapes_dataset, tmp_path, trainable_blocks, full_precision):
    config = TrainConfig(trainable_blocks=trainable_blocks, epochs=3, early_stopping_patience=0, device="cpu")
    exact = TensorCache(tmp_path, half_precision=False)
    cold = train(shapes_dataset, config, cache=exact)
    hit = train(shapes_dataset, config, cache=TensorCache(tmp_path, half_precision=False))
    on_disk = train(shapes_dataset, config, cache=TensorCache(tmp_path / "spill", memory_bytes=0,
                                                                                 half_precision=False))
    plain = train(shapes_dataset, config, cache=TensorCache(None), reuse_frozen=False)
    assert hit.facts.reuse.reused == ["frozen activations"]
    np.testing.assert_array_equal(hit.val_proba, cold.val_proba)
    np.testing.assert_array_equal(on_disk.val_proba, cold.val_proba)
    np.testing.assert_allclose(cold.val_proba, plain.val_proba, atol=1e-5)
    half = train(shapes_dataset, config, cache=TensorCache(None))
    np.testing.assert_allclose(half.val_proba, plain.val_proba, atol=2e-3)


def test_cached_text_fine_tuning_equals_the_plain_loop(text_dataset, tmp_path, full_precision):
    config = TrainConfig(backbone="all-MiniLM-L6-v2", trainable_blocks=1, epochs=2, early_stopping_patience=0,
                         learning_rate=1e-2, device="cpu")
    cached = train(text_dataset, config, cache=TensorCache(tmp_path, memory_bytes=0,
                                                                           half_precision=False))
    plain = train(text_dataset, config, cache=TensorCache(None), reuse_frozen=False)
    np.testing.assert_allclose(cached.val_proba, plain.val_proba, atol=1e-4)


@pytest.fixture
def bf16_on_this_cpu(monkeypatch):
    """bfloat16 autocast on this CPU even without hardware support (emulated: slower, same maths), so
    the mixed-precision path runs on every machine."""
    import tlcore.core.device

    monkeypatch.setattr(tlcore.core.device, "_cpu_has_native_bf16", lambda: True)
    monkeypatch.setenv("TLCORE_MIXED_PRECISION", "1")
    assert tlcore.core.device.autocast_dtype(torch.device("cpu")) == torch.bfloat16


def test_mixed_precision_keeps_the_results_and_never_shares_cache_entries(shapes_dataset, bf16_on_this_cpu,
                                                                          monkeypatch):
    config = TrainConfig(trainable_blocks=1, epochs=3, early_stopping_patience=0, device="cpu")
    cache = TensorCache(None)
    mixed = train(shapes_dataset, config, cache=cache)
    assert "bf16" in mixed.facts.device
    monkeypatch.setenv("TLCORE_MIXED_PRECISION", "0")
    full = train(shapes_dataset, config, cache=cache)
    assert full.facts.reuse.reused == ["decoded images"]  # bf16 activations are not reused in float32
    assert "frozen activations" in full.facts.reuse.computed
    assert not np.array_equal(mixed.val_proba, full.val_proba)  # bf16 rounding really happened
    np.testing.assert_allclose(mixed.val_proba, full.val_proba, atol=0.05)
    assert mixed.report.auc == pytest.approx(full.report.auc, abs=0.02)


def test_shipped_settings_file_lists_the_defaults(tmp_path, monkeypatch):
    """tlcore.toml documents every limit and job setting with the value the code uses without it."""
    import tomllib
    from pathlib import Path

    from tlcore.core.settings import Limits, job_settings

    shipped = tomllib.loads((Path(__file__).parents[2] / "tlcore.toml").read_text())
    monkeypatch.chdir(tmp_path)  # no settings file here: the code's own defaults
    assert shipped["limits"] == {name: spec.default for name, spec in Limits.__dataclass_fields__.items()}
    jobs = job_settings()
    assert shipped["jobs"] == {"max_running": jobs.max_running, "abandoned_minutes": jobs.abandoned_s / 60,
                               "backend": jobs.backend, "ray_address": jobs.ray_address,
                               "cpus_per_job": jobs.cpus_per_job}


def test_clearing_and_trimming_delete_only_the_caches_own_entries(tmp_path):
    """A cache folder set to a folder of documents: clearing the cache leaves the documents alone."""
    documents = {"notes.txt": b"mine", "tmp-holiday/photo.jpg": b"jpeg", "old/entry.json": b"{}"}
    for name, data in documents.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    cache = TensorCache(tmp_path, disk_bytes=1)  # every new entry pushes the others over the budget
    cache.fetch(("a",), lambda: torch.ones(10))
    cache.fetch(("b",), lambda: torch.ones(10))
    cache.clear()
    assert {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()} == set(documents)
    assert TensorCache(tmp_path).fetch(("a",), lambda: torch.zeros(1))[1] is False  # the entry itself is gone
