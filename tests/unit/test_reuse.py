"""What a run reused from the cache, what it computed and how often the frozen blocks ran: the facts
in metrics.json follow what really happened, and the sentence for people says exactly that."""
from tests.conftest import shape_records
from tlcore import TrainConfig, build_dataset, train
from tlcore.engine.cache import TensorCache
from tlcore.engine.reuse import Reuse, describe_reuse
from tlcore.engine.loop import Callback

FROZEN_PHASE = "Running the frozen blocks"


class Phases(Callback):
    def __init__(self):
        self.seen = set()

    def on_phase(self, phase, done, total):
        self.seen.add(phase)


def _run(dataset, cache, **settings):
    phases = Phases()
    result = train(dataset, TrainConfig(epochs=2, device="cpu", **settings), cache=cache, callbacks=[phases])
    return result.facts.reuse, phases.seen


def test_facts_follow_what_ran_across_runs_that_share_a_cache(shapes_dataset):
    cache = TensorCache(None)
    first, phases = _run(shapes_dataset, cache)
    assert (first.reused, first.computed) == ([], ["decoded images", "frozen activations"])
    assert first.frozen_blocks_ran == "once" and FROZEN_PHASE in phases

    again, phases = _run(shapes_dataset, cache, learning_rate=1e-3)
    assert (again.reused, again.computed, again.frozen_blocks_ran) == (["frozen activations"], [], "not at all")
    assert FROZEN_PHASE not in phases and "did not run at all" in describe_reuse(again)

    flipped, phases = _run(shapes_dataset, cache, augment=True)  # frozen backbone: a flipped copy is computed
    assert flipped.reused == ["decoded images", "frozen activations"]
    assert flipped.computed == ["frozen activations of the flipped images"]
    assert flipped.frozen_blocks_ran == "once" and FROZEN_PHASE in phases

    fine_tuned, _ = _run(shapes_dataset, cache, augment=True, trainable_blocks=1)  # new boundary, every batch
    assert fine_tuned.reused == ["decoded images"] and fine_tuned.computed == ["frozen activations"]
    assert fine_tuned.frozen_blocks_ran == "every batch"
    sentence = describe_reuse(fine_tuned)
    assert "every training batch" in sentence and "did not run" not in sentence


def test_a_separate_validation_set_is_named_in_the_facts():
    train_set, val = build_dataset(shape_records(6, seed=1)), build_dataset(shape_records(3, seed=2))
    cache = TensorCache(None)
    train(train_set, TrainConfig(epochs=1, device="cpu"), val_dataset=val, cache=cache)
    new_val = build_dataset(shape_records(3, seed=3))
    facts = train(train_set, TrainConfig(epochs=1, device="cpu"), val_dataset=new_val, cache=cache).facts.reuse
    assert facts.reused == ["frozen activations of the training set"]
    assert facts.computed == ["decoded images of the validation set", "frozen activations of the validation set"]


def test_classic_text_features_are_computed_and_nothing_pretrained_runs(text_dataset):
    result = train(text_dataset, TrainConfig(backbone="tfidf", epochs=2, device="cpu"), cache=TensorCache(None))
    assert (result.facts.reuse.reused, result.facts.reuse.computed) == ([], ["word features"])
    assert describe_reuse(result.facts.reuse) == ("Computed in this run: word features; a classic method has "
                                                      "no pretrained blocks to run.")


def test_the_sentence_lists_reused_and_computed_items_in_one_sentence():
    facts = Reuse(["decoded images", "frozen activations"], ["frozen activations of the flipped images"], "once")
    assert describe_reuse(facts) == (
        "Reused from earlier work on the same data (a run, a sweep or the guidance): decoded images and frozen activations; computed in this run: "
        "frozen activations of the flipped images; the frozen blocks ran once over the examples, not in every epoch.")
    old_run = Reuse(["frozen activations"])  # saved before runs recorded what they computed
    assert describe_reuse(old_run) == "Reused from earlier work on the same data (a run, a sweep or the guidance): frozen activations."
