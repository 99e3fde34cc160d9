"""A page with nothing but the replay player on a ready run, for AppTest and the browser suite:
?loss=arcface&dim=2 (the defaults) chooses the run, ?lang=zh the language."""
import streamlit as st

from lossviz import ui
from lossviz.ui.replay import show_ready_replay

ui.bind_shared_settings()
dim = st.query_params.get("dim", "2")
show_ready_replay(st.query_params.get("loss", "arcface"), int(dim) if dim.isdigit() else 0,
                  key="demo")
