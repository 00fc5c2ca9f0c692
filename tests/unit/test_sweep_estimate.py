"""The depth sweep's estimate of each depth's time: from each block's measured cost, scaled to a run."""
from dataclasses import replace

import pytest

from tlcore import RunFacts, get_backbone_info
from tlcore.engine.reuse import Reuse
from tlcore.runs.sweep import block_seconds, calibrate, estimate_seconds


def test_every_block_of_the_bundled_backbone_is_timed():
    costs = block_seconds("efficientnet_lite0", batch=2)
    assert len(costs) == get_backbone_info("efficientnet_lite0").num_blocks and all(c > 0 for c in costs)


def test_deeper_costs_more_and_augmenting_trainable_blocks_reruns_the_frozen_ones():
    costs = [0.01, 0.02, 0.03, 0.004]
    plain = [estimate_seconds(costs, k, n_examples=100, n_train=80, epochs=10, augment=False) for k in range(5)]
    assert plain == sorted(plain) and plain[4] > 5 * plain[0]
    # frozen part once over 100 examples, nothing trainable in the backbone
    assert plain[0] == pytest.approx(2.0 + sum(costs) * 100)
    # one trainable block: frozen part once, the top block 3x over 80 training and once over 20 others, 10 epochs
    assert plain[1] == pytest.approx(2.0 + sum(costs[:3]) * 100 + costs[3] * 10 * (3 * 80 + 20))
    augmented = estimate_seconds(costs, 1, n_examples=100, n_train=80, epochs=10, augment=True)
    assert augmented == pytest.approx(2.0 + sum(costs[:3]) * 800 + costs[3] * 10 * (3 * 80 + 20))


def test_costs_are_scaled_to_the_frozen_pass_an_earlier_run_measured():
    costs = [0.01, 0.01, 0.02]
    facts = RunFacts(timings_s={"features": 5.0, "inputs": 1.0}, reuse=Reuse(frozen_blocks_ran="once"))
    scaled = calibrate(costs, facts, trainable_blocks=1, n_examples=100)  # predicted 2 s, measured 4 s
    assert scaled == pytest.approx([0.02, 0.02, 0.04])
    reused = replace(facts, reuse=Reuse(frozen_blocks_ran="not at all"))  # its frozen pass was in the cache
    assert calibrate(costs, reused, trainable_blocks=1, n_examples=100) == costs
