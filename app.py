"""lossviz: router only. Each page lives in pages/ and reads like a description of its screen."""
import streamlit as st

st.set_page_config(page_title="lossviz: softmax-family losses, live", page_icon="📐",
                   layout="wide")
pages = [
    st.Page("pages/playground.py", title="Playground", icon=":material/scatter_plot:", default=True),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
    st.Page("pages/curves.py", title="Target logit", icon=":material/show_chart:"),
    st.Page("pages/margins.py", title="Decision margins", icon=":material/join_inner:"),
    st.Page("pages/theory.py", title="Theory", icon=":material/menu_book:"),
]
st.navigation(pages).run()
