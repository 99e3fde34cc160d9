"""Theory: the family in order, each loss's formula, and links that open it on the other pages."""
import streamlit as st

from lossviz import ui
from lossviz.i18n import load_texts
from lossviz.losses import LOSSES
from lossviz.urlstate import loss_link

PAGE = "theory"
FIELDS = []  # the language is shared by every page (lossviz.ui.SHARED_FIELDS)


def loss_section(section: dict, lang: str):
    spec = LOSSES[section["loss"]]
    st.subheader(spec.title)
    st.latex(section["formula"])
    st.write(section["text"][lang])
    st.caption(f"{ui.t('theory.ui.paper')}: {spec.paper}")
    params = spec.presets.get("paper", {})
    curves, margins = st.columns(2)
    with curves:
        st.page_link("pages/curves.py", label=ui.t("theory.ui.open_curves"),
                     icon=":material/show_chart:", query_params=loss_link(spec.name, params, "losses"))
    with margins:
        st.page_link("pages/margins.py", label=ui.t("theory.ui.open_margins"),
                     icon=":material/join_inner:", query_params=loss_link(spec.name, params, "loss"))


def theory_page():
    ui.open_page(PAGE, FIELDS, ui.t("theory.ui.title"), ui.t("theory.ui.intro"))
    texts, lang = load_texts("theory"), ui.language()
    for section in texts["sections"]:
        st.divider()
        loss_section(section, lang)
    st.divider()
    st.subheader(ui.t("theory.ui.closing_title"))
    for observation in texts["observations"]:
        st.markdown(f"- {observation[lang]}")
    ui.write_url(PAGE, FIELDS)


theory_page()
