"""The Chinese-page checker (english_words) is itself tested: it must catch an English label."""
from streamlit.testing.v1 import AppTest

from tests.app.conftest import english_words


def _page(label: str, caption: str):
    import plotly.graph_objects as go
    import streamlit as st
    st.slider(label, 0.0, 1.0, key="x")
    st.caption(caption)
    st.plotly_chart(go.Figure(go.Scatter(x=[0, 1], y=[0, 1], name="间隔")))


def test_an_english_label_is_caught_and_names_loss_formulas_and_titles_are_not():
    at = AppTest.from_function(_page, args=("ArcFace 间隔 m", "$\\cos(\\theta + m)$ 与《Deep Face Recognition》")).run()
    assert english_words(at) == []
    at = AppTest.from_function(_page, args=("margin m", "正常的中文")).run()
    assert english_words(at) == [("margin", "margin m")]


def test_english_in_a_figure_is_caught():
    def page():
        import plotly.graph_objects as go
        import streamlit as st
        st.plotly_chart(go.Figure(go.Scatter(x=[0], y=[0], name="曲线"),
                                  dict(xaxis=dict(title=dict(text="angle (degrees)")))))
    words = [word for word, _ in english_words(AppTest.from_function(page).run())]
    assert words == ["angle", "degrees"]


def test_english_in_a_table_header_is_caught():
    def page():
        import streamlit as st
        st.dataframe([{"a": 1.0, "b": 2.0}], column_config={
            "a": st.column_config.NumberColumn("准确率", help="测试集"),
            "b": st.column_config.NumberColumn("mean angle", help="平均")})
    words = [word for word, _ in english_words(AppTest.from_function(page).run())]
    assert words == ["mean", "angle"]
