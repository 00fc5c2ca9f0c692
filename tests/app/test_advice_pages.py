"""The guidance on the pages: the examples-per-class advice, the search for the best start, applying it;
the feature-block control; the layer sweep on Compare and using the block it found."""
from tests.app.test_pages import page
from tests.conftest import colour_records
from tlcore import TrainConfig, build_dataset
from tlcore.app import KEY, Workspace
from tlcore.runs import jobs


def test_the_model_page_finds_the_best_start_and_applies_it(shapes_dataset):
    ws = Workspace(dataset=shapes_dataset, config=TrainConfig(trainable_blocks=2))
    app = page("views/2_Model.py", ws)
    assert not app.exception
    assert any("training examples in the smallest class" in i.value and "keep the backbone frozen" in i.value
               for i in app.info)
    next(b for b in app.button if b.label == "Find the best start for my data").click().run()
    job = jobs.get_job(app.session_state[KEY].advice_job_id)
    assert job is not None and job.wait(300).status == jobs.DONE
    app.run()
    assert any("EfficientNet-Lite0" in s.value and "validation AUC" in s.value for s in app.success)
    use = next(b for b in app.button if b.label.startswith("Use it: EfficientNet-Lite0, 0 trainable blocks"))
    use.click().run()
    assert not app.exception and app.session_state[KEY].config.trainable_blocks == 0
    assert app.slider[0].value == 0


def test_the_model_page_draws_the_learning_curve(shapes_dataset):
    app = page("views/2_Model.py", Workspace(dataset=shapes_dataset))
    next(b for b in app.button if b.label == "How much data do I need?").click().run()
    job = jobs.get_job(app.session_state[KEY].curve_job_id)
    assert job is not None and job.wait(300).status == jobs.DONE
    app.run()
    assert not app.exception
    assert any("With 1 example per class, transfer scores" in s.value for s in app.success)
    assert app.get("plotly_chart")


def test_the_model_page_chooses_the_feature_block_and_caps_the_trainable_blocks(shapes_dataset):
    app = page("views/2_Model.py", Workspace(dataset=shapes_dataset, config=TrainConfig(trainable_blocks=5)))
    control = app.select_slider[0]
    assert control.label == "Features from block" and control.value == 9
    control.set_value(3).run()
    ws = app.session_state[KEY]
    assert not app.exception and ws.config.feature_block == 3
    assert app.slider[0].max == 3 and ws.config.trainable_blocks == 3  # only the kept blocks can train
    app.select_slider[0].set_value(9).run()
    assert app.session_state[KEY].config.feature_block is None  # the last block is the default


def test_the_compare_page_sweeps_the_layers_and_uses_the_block_found():
    ws = Workspace(dataset=build_dataset(colour_records()))
    app = page("views/6_Compare.py", ws)
    next(b for b in app.button if b.label == "Find the best feature block of EfficientNet-Lite0").click().run()
    job = jobs.get_job(app.session_state[KEY].layer_job_id)
    assert job is not None and job.wait(300).status == jobs.DONE
    app.run()
    assert not app.exception and app.get("plotly_chart")
    found = job.snapshot().result["recommended"]["feature_block"]
    assert found < 9 and any(f"Use feature block {found}" in s.value for s in app.success)
    next(b for b in app.button if b.label.startswith(f"Use feature block {found} (")).click().run()
    assert app.session_state[KEY].config.feature_block == found
    model = page("views/2_Model.py", app.session_state[KEY])
    assert model.select_slider[0].value == found
    assert any("Your layer sweep" in i.value for i in model.info)  # the evidence where the decision is taken
    model.session_state[KEY].update_config(backbone="resnet18", feature_block=None)
    model.run()
    assert not any("Your layer sweep" in i.value for i in model.info)  # it measured another backbone
