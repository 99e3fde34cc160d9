"""lossviz: router only. Each page lives in pages/ and reads like a description of its screen."""
import streamlit as st

from lossviz import ui

ui.bind_shared_settings()  # the language first: the navigation's titles are written in it
st.set_page_config(page_title=ui.t("app.title"), page_icon="📐", layout="wide")
pages = [
    st.Page("pages/playground.py", title=ui.t("app.nav.playground"),
            icon=":material/scatter_plot:", default=True),
    st.Page("pages/lecture.py", title=ui.t("lecture.nav"), icon=":material/school:"),
    st.Page("pages/compare.py", title=ui.t("app.nav.compare"), icon=":material/compare:"),
    st.Page("pages/map.py", title=ui.t("map.nav"), icon=":material/grid_on:"),
    st.Page("pages/verification.py", title=ui.t("verification.nav"),
            icon=":material/how_to_reg:"),
    st.Page("pages/curves.py", title=ui.t("app.nav.curves"), icon=":material/show_chart:"),
    st.Page("pages/margins.py", title=ui.t("app.nav.margins"), icon=":material/join_inner:"),
    st.Page("pages/theory.py", title=ui.t("app.nav.theory"), icon=":material/menu_book:"),
]
navigation = st.navigation(pages)
ui.shared_controls()
navigation.run()
