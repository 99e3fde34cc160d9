from tests.conftest import wait_for


def test_two_short_runs_fill_the_table(open_page):
    at = open_page("compare", {"losses": "softmax,cosface", "epochs": "1"})
    assert not at.exception
    at.button(key="compare:run").click().run()
    assert at.button(key="compare:cancel")  # while it trains
    job = at.session_state["compare:job"]
    wait_for(lambda: job.progress().done, 300)
    at.run()
    assert not at.exception
    (table,) = at.dataframe
    assert list(table.value["run"]) == ["Softmax", "CosFace (AM-Softmax)"]
    assert "angular_margin_deg" in table.value.columns


def test_bad_values_are_explained(open_page):
    at = open_page("compare", {"mode": "values", "loss": "lsoftmax", "param": "m"})
    at.text_input(key="compare:values").set_value("1, 2.5, x").run()
    assert "separated by commas" in at.error[0].value
    assert at.button(key="compare:run").disabled


def test_difficulty_mode_trains_sphereface_cosface_and_arcface(open_page):
    at = open_page("compare", {"mode": "difficulty", "epochs": "1"})
    assert not at.exception
    at.button(key="compare:run").click().run()
    job = at.session_state["compare:job"]
    wait_for(lambda: job.progress().done, 300)
    at.run()
    assert not at.exception
    (table,) = at.dataframe
    assert list(table.value["run"]) == ["A-Softmax (SphereFace)", "CosFace (AM-Softmax)",
                                        "ArcFace"]
    assert list(table.value["loss"]) == ["sphereface", "cosface", "arcface"]
    # what this run says about the claimed ranking, whatever it found
    assert any("The claimed ranking (hardest first)" in i.value for i in at.info)
