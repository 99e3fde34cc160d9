"""A page with nothing but the replay player on a ready run, for AppTest and the browser suite:
?loss=arcface&dim=2 (the defaults) chooses the run, ?lang=zh the language."""
import streamlit as st

from lossviz import ui
from lossviz.i18n import LossvizError
from lossviz.ready import load_ready_run
from lossviz.replay import replay_of_ready
from lossviz.ui.replay import show_replay

ui.bind_shared_settings()
loss = st.query_params.get("loss", "arcface")
try:
    ready = load_ready_run(loss, int(st.query_params.get("dim", "2")))
except (LossvizError, ValueError) as err:
    st.error(ui.say(err.message) if isinstance(err, LossvizError) else str(err))
else:
    show_replay(replay_of_ready(ready), key="demo")
