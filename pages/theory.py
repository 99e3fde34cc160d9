"""Theory: the family in order, each loss's formula, and links that open it on the other pages."""
import streamlit as st

from lossviz import ui
from lossviz.i18n import load_texts
from lossviz.losses import LOSSES, SCALE_PARAMS
from lossviz.urlstate import loss_link

PAGE = "theory"
FIELDS = []  # the language is shared by every page (lossviz.ui.SHARED_FIELDS)


def links(name: str) -> tuple[dict, dict]:
    """Query strings that open a loss with its paper's values on the target-logit page (whose
    one s, beside the probability chart, serves every loss) and the decision-margin page (which
    has no s: it changes nothing there)."""
    params = LOSSES[name].presets.get("paper", {})
    margins = {k: v for k, v in params.items() if k not in SCALE_PARAMS}
    curves = loss_link(name, margins, "losses") | (
        {"s": format(float(params["s"]), "g")} if "s" in params else {})
    return curves, loss_link(name, margins, "loss")


def loss_section(section: dict, lang: str):
    name = section["loss"]
    st.subheader(ui.loss_title(name))
    ui.formula(section["formula"])
    st.markdown(section["text"][lang])  # markdown: its $...$ maths is typeset
    st.caption(ui.t("theory.ui.paper", paper=ui.loss_paper(name)))
    to_curves, to_margins = links(name)
    curves, margins = st.columns(2)
    with curves:
        st.page_link("pages/curves.py", label=ui.t("theory.ui.open_curves"),
                     icon=":material/show_chart:", query_params=to_curves)
    with margins:
        if not LOSSES[name].draws_decision_margins:  # say why the page cannot draw it
            st.caption(ui.t("quality.no_margins" if LOSSES[name].norm_margin else
                            "state.theory.no_margins"))
        else:
            st.page_link("pages/margins.py", label=ui.t("theory.ui.open_margins"),
                         icon=":material/join_inner:", query_params=to_margins)


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
