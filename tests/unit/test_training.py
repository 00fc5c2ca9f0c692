import numpy as np
import pytest
import torch

from tests.conftest import shape_records
from tlcore import TrainConfig, TrainingCancelled, build_dataset, train
from tlcore.engine.cache import TensorCache
from tlcore.data import Record
from tlcore.engine.loop import Callback


def test_feature_extractor_separates_shapes(trained):
    assert trained.report.auc > 0.95
    assert trained.report.accuracy >= 0.8
    assert trained.facts.n_train + trained.report.n == 24
    assert set(trained.facts.timings_s) >= {"total", "inputs", "features", "train"}
    # a frozen backbone cannot move the examples: the embedding map's two sides are the same
    assert np.array_equal(trained.features["pretrained"], trained.features["fine-tuned"])


def test_fine_tuning_one_block_leaves_frozen_weights_bit_for_bit(shapes_dataset):
    from tlcore import create_backbone

    pretrained = create_backbone("efficientnet_lite0").state_dict()
    config = TrainConfig(trainable_blocks=1, epochs=2, early_stopping_patience=0, learning_rate=1e-2, device="cpu")
    result = train(shapes_dataset, config, cache=TensorCache(None))
    after = result.classifier.model.backbone.state_dict()
    top = "blocks.8."  # head_conv, the one trainable block
    changed = [k for k in pretrained if not torch.equal(pretrained[k], after[k])]
    assert changed and all(k.startswith(top) for k in changed)
    frozen_bn = [k for k in pretrained if "running_mean" in k and not k.startswith(top)]
    assert frozen_bn and all(torch.equal(pretrained[k], after[k]) for k in frozen_bn)


def test_augmented_fine_tuning_runs_and_keeps_frozen_blocks(shapes_dataset):
    from tlcore import create_backbone

    pretrained = create_backbone("efficientnet_lite0").state_dict()
    config = TrainConfig(trainable_blocks=1, epochs=1, augment=True, device="cpu")
    result = train(shapes_dataset, config, cache=TensorCache(None))
    after = result.classifier.model.backbone.state_dict()
    changed = {k for k in pretrained if not torch.equal(pretrained[k], after[k])}
    assert changed and all(k.startswith("blocks.8.") for k in changed)  # the top block trained, nothing else
    assert not np.allclose(result.features["pretrained"], result.features["fine-tuned"])


def test_a_later_process_reuses_cached_activations_from_disk(shapes_dataset, tmp_path):
    first = train(shapes_dataset, TrainConfig(epochs=3, device="cpu"), cache=TensorCache(tmp_path))
    assert first.facts.reuse.reused == [] and "frozen activations" in first.facts.reuse.computed

    class CountPhases(Callback):
        phases = []

        def on_phase(self, phase, done, total):
            self.phases.append(phase)

    fresh = TensorCache(tmp_path)  # nothing in memory: what a new process sees
    second = train(shapes_dataset, TrainConfig(epochs=5, learning_rate=1e-3, device="cpu"),
                                    cache=fresh, callbacks=[CountPhases()])
    assert second.facts.reuse.reused == ["frozen activations"]
    assert set(CountPhases.phases) == {"Fitting the new layer on the frozen features"}  # nothing decoded or run
    assert second.facts.reuse.computed == [] and second.facts.reuse.frozen_blocks_ran == "not at all"


def test_same_seed_same_metrics(shapes_dataset):
    cache = TensorCache(None)
    runs = [train(shapes_dataset, TrainConfig(epochs=3, seed=7, device="cpu"), cache=cache)
            for _ in range(2)]
    assert runs[0].report.to_dict() == runs[1].report.to_dict()


def test_early_stopping_keeps_the_weights_of_the_best_epoch():
    """Validation labels swapped against training: the validation loss is lowest after epoch 1 and
    rises from then on, so early stopping must stop and hand back epoch 1's model, not the last one
    (the small network head: a linear head on a frozen backbone is fitted in one full-batch step)."""
    train_set = build_dataset(shape_records(8, seed=1))
    swapped = [Record("stripes" if r.label == "circle" else "circle", r.name, r.data) for r in shape_records(4, seed=2)]
    config = TrainConfig(epochs=20, early_stopping_patience=2, learning_rate=1e-2, device="cpu", head="mlp")
    result = train(train_set, config, val_dataset=build_dataset(swapped), cache=TensorCache(None))
    losses = [h.val_loss for h in result.history]
    assert result.facts.best_epoch == losses.index(min(losses)) + 1 < len(losses)
    kept_loss = -np.log(result.val_proba[np.arange(len(result.y_val)), result.y_val]).mean()
    assert kept_loss == pytest.approx(losses[result.facts.best_epoch - 1], rel=1e-4)
    assert kept_loss < losses[-1] - 1e-3  # the last epoch's weights were not kept


def test_cancel_stops_the_run(shapes_dataset):
    class CancelAtOnce(Callback):
        def on_phase(self, phase, done, total):
            raise TrainingCancelled("stop")

    with pytest.raises(TrainingCancelled):
        train(shapes_dataset, TrainConfig(device="cpu"), cache=TensorCache(None),
                               callbacks=[CancelAtOnce()])


def test_explicit_validation_set():
    train_set = build_dataset(shape_records(6, seed=1))
    val = build_dataset(shape_records(3, seed=2))
    result = train(train_set, TrainConfig(epochs=10, device="cpu"), val_dataset=val)
    assert result.facts.n_train == 12 and result.report.n == 6
