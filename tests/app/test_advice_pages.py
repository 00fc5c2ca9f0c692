"""The Model page's guidance: the examples-per-class advice, the search for the best start, applying it."""
from tests.app.test_pages import page
from tlcore import TrainConfig
from tlcore.app import KEY, Workspace
from tlcore.runs import jobs


def test_the_model_page_finds_the_best_start_and_applies_it(shapes_dataset):
    ws = Workspace(dataset=shapes_dataset, config=TrainConfig(trainable_blocks=2))
    app = page("views/2_Model.py", ws)
    assert not app.exception
    assert any("training examples in the smallest class" in i.value and "keep the backbone frozen" in i.value
               for i in app.info)
    next(b for b in app.button if b.label == "Find the best start for my data").click().run()
    job = app.session_state[KEY].advice_job
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
    job = app.session_state[KEY].curve_job
    assert job is not None and job.wait(300).status == jobs.DONE
    app.run()
    assert not app.exception
    assert any("With 1 example per class, transfer scores" in s.value for s in app.success)
    assert app.get("plotly_chart")
