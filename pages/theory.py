"""Theory: the family in order, each loss's formula, and links that open it on the other pages."""
import streamlit as st

from lossviz import ui
from lossviz.i18n import LANGUAGES, load_texts
from lossviz.losses import LOSSES
from lossviz.urlstate import Field, loss_link

PAGE = "theory"
FIELDS = [Field("lang", "en", "choice", choices=tuple(LANGUAGES))]


def loss_section(section: dict, ui_text: dict, lang: str):
    spec = LOSSES[section["loss"]]
    st.subheader(spec.title)
    st.latex(section["formula"])
    st.write(section["text"][lang])
    st.caption(f"{ui_text['paper'][lang]}: {spec.paper}")
    params = spec.presets.get("paper", {})
    curves, margins = st.columns(2)
    with curves:
        st.page_link("pages/curves.py", label=ui_text["open_curves"][lang],
                     icon=":material/show_chart:", query_params=loss_link(spec.name, params, "losses"))
    with margins:
        st.page_link("pages/margins.py", label=ui_text["open_margins"][lang],
                     icon=":material/join_inner:", query_params=loss_link(spec.name, params, "loss"))


def theory_page():
    ui.open_page(PAGE, FIELDS)  # the title comes from the chosen language's texts
    texts = load_texts("theory")
    ui_text = texts["ui"]
    lang = st.segmented_control("Language / 语言", list(LANGUAGES), format_func=LANGUAGES.get,
                                key=ui.key(PAGE, "lang")) or "en"
    st.title(ui_text["title"][lang])
    st.write(ui_text["intro"][lang])
    for section in texts["sections"]:
        st.divider()
        loss_section(section, ui_text, lang)
    st.divider()
    st.subheader(ui_text["closing_title"][lang])
    for observation in texts["observations"]:
        st.markdown(f"- {observation[lang]}")
    ui.write_url(PAGE, FIELDS)


theory_page()
