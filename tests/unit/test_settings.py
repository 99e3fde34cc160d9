"""The sidebar edits a run's config: only what changed applies, the rest stays as saved."""
from lossviz.settings import edited, settings_of, within
from lossviz.train import TrainConfig

CLI_RUN = TrainConfig(loss="sphereface", params={"m": 4}, dim=2, batch_size=256, lr=0.5,
                      lr_floor=0.1, seed=5_000_000_000, lambda_base=500.0, lambda_gamma=0.3)
FIELDS = ("loss", "dim", "lr", "seed", "epochs")


def test_nothing_changed_keeps_every_field_the_sidebar_cannot_show():
    shown = settings_of(CLI_RUN, FIELDS)
    assert edited(CLI_RUN, shown, dict(shown)) == CLI_RUN


def test_a_changed_setting_applies_on_top_of_the_run():
    before = settings_of(CLI_RUN, FIELDS)
    config = edited(CLI_RUN, before, {**before, "epochs": 60, "params.m": 3})
    assert config.epochs == 60 and config.params == {"m": 3}
    assert (config.batch_size, config.lr_floor, config.lambda_base, config.seed) == (
        256, 0.1, 500.0, 5_000_000_000)


def test_a_clamped_value_stays_in_the_run_until_its_widget_moves():
    values = settings_of(CLI_RUN, FIELDS)
    shown, clamped = within(values, {"lr": (0.0001, 0.1), "seed": (0, 2**32 - 1)})
    assert clamped == {"lr": (0.5, 0.1), "seed": (5_000_000_000, 2**32 - 1)}
    assert shown["lr"] == 0.1 and isinstance(shown["seed"], int)
    assert edited(CLI_RUN, shown, dict(shown)).lr == 0.5  # untouched: the run's own value
    assert edited(CLI_RUN, shown, {**shown, "lr": 0.05}).lr == 0.05


def test_another_loss_takes_the_parameters_shown_for_it():
    before = settings_of(CLI_RUN, FIELDS)
    now = {k: v for k, v in before.items() if not k.startswith("params.")}
    config = edited(CLI_RUN, before, {**now, "loss": "cosface", "params.s": 30.0,
                                      "params.m": 0.35})
    assert config.loss == "cosface" and config.params == {"s": 30.0, "m": 0.35}
