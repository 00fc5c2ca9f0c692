"""Widgets that show a setting kept in the workspace keep every change the user makes (a widget whose
default follows the setting used to drop every second change), and follow changes made elsewhere."""
from tests.app.test_pages import page
from tlcore import TrainConfig
from tlcore.app import KEY, Workspace
from tlcore.runs import jobs


def test_every_change_of_the_model_settings_is_kept(shapes_dataset):
    app = page("views/2_Model.py", Workspace(dataset=shapes_dataset))
    for blocks in (3, 5, 2):
        app.slider[0].set_value(blocks).run()
        assert app.session_state[KEY].config.trainable_blocks == blocks
    for block in (3, 9, 4):
        app.select_slider[0].set_value(block).run()
        assert app.session_state[KEY].config.feature_block == (None if block == 9 else block)
    assert app.session_state[KEY].config.trainable_blocks == 2 and app.slider[0].max == 4  # kept within range
    for head in ("mlp", "linear", "mlp"):
        app.selectbox[1].set_value(head).run()
        assert app.session_state[KEY].config.head == head
    assert not app.exception


def test_every_change_of_the_split_is_kept(shapes_dataset):
    app = page("views/1_Data.py", Workspace(dataset=shapes_dataset))
    for fraction in (0.3, 0.1, 0.25):
        app.slider[0].set_value(fraction).run()
        assert app.session_state[KEY].config.val_fraction == fraction


def test_a_setting_changed_elsewhere_shows_on_the_page(shapes_dataset):
    ws = Workspace(dataset=shapes_dataset)
    app = page("views/2_Model.py", ws)
    app.slider[0].set_value(3).run()
    ws.update_config(trainable_blocks=1)  # as a button ("Use it") or an opened project does
    app.run()
    assert app.slider[0].value == 1 and ws.config.trainable_blocks == 1
    ws.config = TrainConfig(feature_block=5)
    app.run()
    assert app.select_slider[0].value == 5


def test_every_submitted_training_setting_is_kept(shapes_dataset):
    app = page("views/3_Train.py", Workspace(dataset=shapes_dataset, config=TrainConfig(trainable_blocks=1)))
    for epochs, patience in ((20, 3), (30, 0), (40, 7)):
        app.number_input[0].set_value(epochs)
        app.number_input(key="train_patience").set_value(patience)
        app.button[0].click().run()  # the form's Train button: the settings apply when it is pressed
        ws = app.session_state[KEY]
        assert (ws.config.epochs, ws.config.early_stopping_patience) == (epochs, patience)
        jobs.forget(ws.job_id)


def test_another_backbone_starts_at_its_own_last_block(shapes_dataset):
    app = page("views/2_Model.py", Workspace(dataset=shapes_dataset))
    app.select_slider[0].set_value(3).run()
    app.selectbox[0].set_value("resnet18").run()
    assert not app.exception and app.select_slider[0].value == 5
    assert app.session_state[KEY].config.feature_block is None  # not block 3 of another network


def test_a_new_split_forgets_the_guidance_measured_on_the_old_one(shapes_dataset):
    ws = Workspace(dataset=shapes_dataset, advice_job_id="advice", curve_job_id="curve", layer_job_id="layers")
    ws.update_config(head="mlp")
    assert (ws.advice_job_id, ws.layer_job_id) == ("advice", "layers")
    ws.update_config(val_fraction=0.3)
    assert (ws.advice_job_id, ws.curve_job_id, ws.layer_job_id) == (None, None, None)
