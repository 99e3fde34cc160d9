"""The open-set verification view: a family's numbers over seeds (closed-set accuracy, TAR at
FAR 1% and 0.1%, EER), drawn from a summary as lossviz.openset.summarize writes it, whether it
comes from the ready evidence or from runs just trained."""
from __future__ import annotations

import streamlit as st

from lossviz import ui
from lossviz.figures.verification import family_figure, roc_figure, score_histogram_figure

# table columns: (summary column, text key)
COLUMNS = (("test_accuracy", "verification.ui.metric_accuracy"),
           ("unseen_tar_far1", "verification.ui.metric_tar1"),
           ("unseen_tar_far0.1", "verification.ui.metric_tar01"),
           ("unseen_eer", "verification.ui.metric_eer"),
           ("seen_tar_far1", "verification.ui.metric_seen_tar1"),
           ("seen_eer", "verification.ui.metric_seen_eer"))


def _percent(spread: dict) -> str:
    return f"{spread['mean']:.1%} ± {spread['std']:.1%}"


def finding(summary: list[dict]) -> str:
    """What these numbers say about unseen classes, whichever way they fall."""
    best = max(summary, key=lambda entry: entry["unseen_tar_far1"]["mean"])
    softmax = next((e for e in summary if e["loss"] == "softmax"), None)
    seen = max(entry["seen_tar_far1"]["mean"] for entry in summary)
    if best is softmax:  # the reference is the best: named once, not compared with itself
        return ui.t("verification.ui.finding_reference",
                    best_tar=_percent(best["unseen_tar_far1"]), seen_tar=f"{seen:.1%}")
    return ui.t("verification.ui.finding", best=ui.loss_title(best["loss"]),
                best_tar=_percent(best["unseen_tar_far1"]),
                softmax_tar=_percent(softmax["unseen_tar_far1"]) if softmax else "–",
                seen_tar=f"{seen:.1%}")


def show_verification(summary: list[dict], shown: str, key_prefix: str, caption: str):
    """The view: the family with error bars first, what it says, the ROC curves beside the
    shown loss's score histogram, and a table of every number."""
    view, options = ui.view(), ui.chart_options()
    names = {entry["loss"]: ui.loss_short(entry["loss"]) for entry in summary}
    st.plotly_chart(family_figure(summary, names, view), key=f"{key_prefix}-family", **options)
    st.caption(caption)
    st.info(finding(summary))
    # side by side on a projector's width; at a desk (a sidebar beside them) each half was too
    # narrow for its legend and axis titles
    roc_area, scores_area = st.columns(2) if ui.presenting() else (st.container(),) * 2
    roc_lines = [(names[e["loss"]], e["loss"], e["unseen_roc_tar"], None) for e in summary]
    roc_area.plotly_chart(roc_figure(roc_lines, view), key=f"{key_prefix}-roc", **options)
    entry = next((e for e in summary if e["loss"] == shown), summary[0])
    if "unseen_same_counts" in entry:  # a record from before the histograms has none
        scores_area.plotly_chart(score_histogram_figure(
            entry["unseen_same_counts"], entry["unseen_different_counts"], names[entry["loss"]],
            view), key=f"{key_prefix}-scores", **options)
    table = [{ui.t("verification.ui.column_loss"): names[e["loss"]],
              **{ui.t(key): _percent(e[column]) for column, key in COLUMNS}} for e in summary]
    st.dataframe(table, hide_index=True, key=f"{key_prefix}-table")
    st.caption(ui.t("verification.ui.table_note"))
