"""The new layer fitted to convergence on frozen features, and fine-tuning in two stages."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler

from tests.conftest import shape_records
from tlcore import TrainConfig, build_dataset, train
from tlcore.data import Record, digits_sample
from tlcore.engine.cache import TensorCache
from tlcore.engine.inference import infer
from tlcore.engine.linear_fit import C_PATH, fit_linear, held_out_auc


def _blobs(n_per_class=40, classes=3, dim=20, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 1.5, (classes, dim))
    y = np.repeat(np.arange(classes), n_per_class)
    x = centres[y] * rng.uniform(0.5, 3, dim) + rng.normal(0, 1, (len(y), dim)) * rng.uniform(0.5, 3, dim) + 5
    return torch.as_tensor(x, dtype=torch.float32), y


def test_the_linear_fit_is_scikit_learns_logistic_regression_at_the_chosen_c():
    x, y = _blobs()
    fit = fit_linear([x], y, 3, seed=0, device=torch.device("cpu"))
    assert fit.folds == 5 and fit.C in C_PATH
    best = max(fit.held_out, key=lambda t: t[1])
    close = [t for t in fit.held_out if t[1] >= best[1] - best[2]]  # held-out AUC within a standard error of it
    assert fit.C == min(close, key=lambda t: t[3])[0] and len(fit.held_out) >= 3
    scaler = StandardScaler().fit(x.numpy())
    reference = LogisticRegression(C=fit.C, max_iter=10_000, tol=1e-10).fit(scaler.transform(x.numpy()), y)
    ours = torch.softmax(x @ fit.weight.T + fit.bias, 1).numpy()  # on the raw features: the scaler is folded in
    np.testing.assert_allclose(ours, reference.predict_proba(scaler.transform(x.numpy())), atol=2e-3)


def test_cross_validation_picks_a_strong_penalty_for_noise_and_a_weak_one_for_clean_data():
    rng = np.random.default_rng(1)
    noise = torch.as_tensor(rng.normal(size=(80, 50)), dtype=torch.float32)
    labels = np.repeat([0, 1], 40)
    clean, clean_y = _blobs(classes=2, dim=5)
    assert fit_linear([noise], labels, 2, seed=0, device=torch.device("cpu")).C < 0.01
    assert fit_linear([clean], clean_y, 2, seed=0, device=torch.device("cpu")).C >= 0.1


@pytest.mark.parametrize("classes", [2, 3, 10])
def test_the_held_out_auc_is_scikit_learns_with_ties(classes):
    rng = np.random.default_rng(classes)
    for _ in range(10):
        y = np.concatenate([np.arange(classes), rng.integers(0, classes, 50)])
        proba = rng.dirichlet(np.ones(classes), len(y)).round(1) + 1e-3  # many ties
        proba /= proba.sum(1, keepdims=True)
        expected = (roc_auc_score(y, proba[:, 1]) if classes == 2 else
                    roc_auc_score(y, proba, multi_class="ovr", labels=np.arange(classes)))
        assert held_out_auc(y, proba, classes) == pytest.approx(expected, abs=1e-12)


def test_one_example_per_class_fits_without_cross_validation():
    x, y = _blobs(n_per_class=1)
    fit = fit_linear([x], y, 3, seed=0, device=torch.device("cpu"))
    assert fit.folds == 0 and fit.C == 1.0 and fit.held_out == []
    assert (torch.softmax(x @ fit.weight.T + fit.bias, 1).argmax(1).numpy() == y).all()


def test_a_default_run_is_the_converged_fit_on_the_pooled_features():
    """The app's default (0 trainable blocks, linear head) gives the validation probabilities of a
    logistic regression fitted by scikit-learn on the same standardised features at the chosen C."""
    dataset = build_dataset(digits_sample(per_class=12, classes=(1, 4, 7)))
    run = train(dataset, TrainConfig(device="cpu"), cache=TensorCache(None))
    stage = run.facts.stages[0]
    assert [h.stage for h in run.history] == [1] and run.facts.best_epoch == 1 and stage["folds"] >= 2
    names = {e.name: i for i, e in enumerate(dataset.examples)}
    val = set(run.val_names)
    train_rows = [i for e, i in names.items() if e not in val]
    classifier = run.classifier
    inputs = classifier.adapter.encode([(e.name, e.data) for e in dataset.examples])
    features = infer(classifier.model, inputs, lambda x: classifier.model.backbone.run(classifier.adapter.prepare(x)),
                     device=torch.device("cpu"), doing="test").float().numpy()
    y = np.array([run.classes.index(e.label) for e in dataset.examples])
    scaler = StandardScaler().fit(features[train_rows])
    reference = LogisticRegression(C=stage["C"], max_iter=10_000, tol=1e-10).fit(
        scaler.transform(features[train_rows]), y[train_rows])
    val_rows = [names[n] for n in run.val_names]
    np.testing.assert_allclose(run.val_proba, reference.predict_proba(scaler.transform(features[val_rows])),
                               atol=5e-3)


@pytest.fixture(scope="module")
def fine_tuned():
    dataset = build_dataset(shape_records(10, seed=3))
    config = TrainConfig(trainable_blocks=1, epochs=3, early_stopping_patience=0, device="cpu")
    return dataset, train(dataset, config, cache=TensorCache(None))


def test_two_stage_fine_tuning_fits_the_head_first_then_the_blocks_slower(fine_tuned):
    _, run = fine_tuned
    assert [(h.epoch, h.stage) for h in run.history] == [(1, 1), (2, 2), (3, 2), (4, 2)]
    first, second = run.facts.stages
    assert first["stage"] == 1 and first["folds"] >= 2
    assert second == {"stage": 2, "trains": "the top 1 blocks and the head", "learning_rate": pytest.approx(3e-4),
                      "epochs": 3, "first_epoch": 2}
    assert run.history[0].val_accuracy > 0.9  # the head alone already separates the shapes


def test_one_stage_fine_tuning_is_still_there(fine_tuned):
    dataset, _ = fine_tuned
    run = train(dataset, TrainConfig(trainable_blocks=1, epochs=3, early_stopping_patience=0, two_stage=False,
                                     device="cpu"), cache=TensorCache(None))
    assert [(h.epoch, h.stage) for h in run.history] == [(1, 1), (2, 1), (3, 1)]
    assert len(run.facts.stages) == 1 and run.facts.stages[0]["learning_rate"] == pytest.approx(3e-3)


def test_fine_tuning_that_does_worse_on_validation_keeps_the_first_stage():
    """Validation labels swapped against training: every fine-tuning epoch moves further from them, so
    the kept model is stage 1's (the head on the pretrained backbone), epoch 1."""
    train_set = build_dataset(shape_records(8, seed=1))
    swapped = [Record("stripes" if r.label == "circle" else "circle", r.name, r.data) for r in shape_records(4, seed=2)]
    config = TrainConfig(trainable_blocks=1, epochs=3, early_stopping_patience=2, learning_rate=3e-2, device="cpu")
    run = train(train_set, config, val_dataset=build_dataset(swapped), cache=TensorCache(None))
    assert run.facts.best_epoch == 1 and len(run.history) >= 3
    kept_loss = -np.log(run.val_proba[np.arange(len(run.y_val)), run.y_val]).mean()
    assert kept_loss == pytest.approx(run.history[0].val_loss, rel=1e-3)


def _top_block_norm_means(model):
    from torch import nn

    return [m.running_mean.clone() for m in model.backbone.blocks[-1].modules() if isinstance(m, nn.BatchNorm2d)]


def test_fine_tuning_under_a_trained_head_keeps_the_blocks_norm_statistics(fine_tuned):
    """Stage 2 trains the top block's weights but leaves its BatchNorm statistics as pretrained (the Keras
    guide); a one-stage run updates them from its batches."""
    from tlcore import create_backbone
    from tlcore.engine.model import TransferModel

    dataset, run = fine_tuned
    pretrained = _top_block_norm_means(TransferModel(create_backbone("efficientnet_lite0"), 2))
    two_stage = _top_block_norm_means(run.classifier.model)
    assert all(torch.equal(a.cpu(), b) for a, b in zip(two_stage, pretrained))
    weights = [p for p in run.classifier.model.backbone.blocks[-1].parameters()]
    fresh = list(create_backbone("efficientnet_lite0").blocks[-1].parameters())
    assert any(not torch.equal(a.cpu(), b) for a, b in zip(weights, fresh))  # the block did train
    one = train(dataset, TrainConfig(trainable_blocks=1, epochs=2, early_stopping_patience=0, two_stage=False,
                                     device="cpu"), cache=TensorCache(None))
    assert any(not torch.equal(a.cpu(), b) for a, b in zip(_top_block_norm_means(one.classifier.model), pretrained))


def test_fine_tuning_gets_its_full_patience_after_a_first_stage_that_stopped_early():
    """The small network head's first stage stops early (validation labels swapped against training: the
    loss only rises); the second stage still gets `patience` epochs of its own."""
    train_set = build_dataset(shape_records(8, seed=1))
    swapped = [Record("stripes" if r.label == "circle" else "circle", r.name, r.data) for r in shape_records(4, seed=2)]
    config = TrainConfig(trainable_blocks=1, epochs=30, early_stopping_patience=2, head="mlp", device="cpu")
    run = train(train_set, config, val_dataset=build_dataset(swapped), cache=TensorCache(None))
    first, second = run.facts.stages
    assert first["epochs"] < 30  # the first stage stopped early
    assert second["first_epoch"] == first["epochs"] + 1 and second["epochs"] >= 2


def test_a_sweep_never_reports_more_epochs_than_it_planned(fine_tuned):
    from tlcore import Callback, sweep_depths

    class Phases(Callback):
        seen = []

        def on_phase(self, phase, done, total):
            self.seen.append((phase, done, total))

    dataset, _ = fine_tuned
    sweep_depths(dataset, TrainConfig(epochs=2, early_stopping_patience=0, device="cpu"), [1], callbacks=[Phases()])
    training = [(done, total) for phase, done, total in Phases.seen if phase.endswith("training")]
    assert training and all(done <= total for done, total in training) and training[-1] == (3, 3)
