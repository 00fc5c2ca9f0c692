"""Finding the best start: backbones probed and ranked on the user's data, the domain check, the
command line's JSON."""
import json

import pytest

from tests.conftest import photo_crops
from tlcore import TrainConfig, build_dataset, build_text_dataset, default_config
from tlcore.cli import main
from tlcore.data import Table, digits_sample, text_sample
from tlcore.engine.cache import TensorCache
from tlcore.insight.domain import check_domain
from tlcore.runs.probe import probe_data
from tlcore.runs.recommend import FINE_TUNE_FROM, examples_advice, recommend


@pytest.fixture(scope="module")
def texts():
    return build_text_dataset(Table(text_sample(), "sample"), "text", "label")


def test_the_pretrained_sentence_model_is_recommended_over_word_counts(texts):
    """The sample's sentences share few words within a topic, so TF-IDF is clearly worse than MiniLM."""
    advice = recommend(texts, default_config("text"), backbones=["tfidf", "all-MiniLM-L6-v2"], cache=TensorCache(None))
    ranked = [b.name for b in advice.backbones]
    assert ranked == ["all-MiniLM-L6-v2", "tfidf"]
    best, worse = advice.backbones
    assert best.auc > worse.auc + 0.1 and best.auc_low <= best.auc <= best.auc_high and best.seconds > 0
    assert advice.recommended["backbone"] == "all-MiniLM-L6-v2" and advice.recommended["trainable_blocks"] == 0
    assert "do not overlap" in advice.recommended["reason"] and "24 training examples" in advice.recommended["reason"]
    data = advice.to_dict()
    assert set(data["backbones"][0]) >= {"name", "auc", "auc_low", "auc_high", "seconds"}
    assert set(data["recommended"]) == {"backbone", "trainable_blocks", "feature_block", "reason"}
    assert data["recommended"]["feature_block"] is None  # texts have none to choose


def test_the_probe_reuses_what_a_frozen_run_computed(texts):
    cache = TensorCache(None)
    probe_data(texts, default_config("text"), cache=cache)
    again = probe_data(texts, default_config("text"), cache=cache)
    assert again.parts.frozen.cache.reused and not again.parts.frozen.cache.computed


def test_examples_per_class_decide_between_featurising_and_fine_tuning():
    assert "keep the backbone frozen" in examples_advice(40)
    assert "fine-tuning the top blocks" in examples_advice(FINE_TUNE_FROM)


def test_the_domain_check_tells_digits_from_photographs():
    def check(records):
        data = probe_data(build_dataset(records), TrainConfig(), cache=TensorCache(None))
        return check_domain(data.parts.backbone.imagenet_head, data.x_train, data.parts.info.title)

    digits, photos = check(digits_sample(per_class=6)), check(photo_crops())
    assert digits.far and "unlike the photos it learnt from" in digits.advice
    assert not photos.far and photos.advice is None
    assert digits.imagenet_confidence < photos.imagenet_confidence


def test_recommend_on_the_command_line_writes_the_json(tmp_path, capsys):
    path = tmp_path / "texts.csv"
    text_sample().to_csv(path, index=False)
    out = tmp_path / "advice.json"
    assert main(["recommend", str(path), "--task", "text", "--backbones", "tfidf", "all-MiniLM-L6-v2",
                 "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["recommended"]["backbone"] == "all-MiniLM-L6-v2"
    assert [b["name"] for b in data["backbones"]] == ["all-MiniLM-L6-v2", "tfidf"]
    assert "Recommended: all-MiniLM-L6-v2 with 0 trainable blocks." in capsys.readouterr().out


def test_recommend_refuses_an_out_that_is_not_json(tmp_path, capsys):
    assert main(["recommend", str(tmp_path), "--out", str(tmp_path / "advice.txt")]) == 2
    assert "is not a .json file name" in capsys.readouterr().err
