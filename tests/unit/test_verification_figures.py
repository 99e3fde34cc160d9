"""The open-set figures' layouts: what a browser review found cut, crowded or overlapping at a
phone's width and on the projector (tests/e2e/test_verification.py measures the drawn boxes)."""
import numpy as np
import pytest

from lossviz.figures.style import View, label_width
from lossviz.figures.verification import family_figure, roc_figure, score_histogram_figure
from lossviz.losses import LOSSES
from lossviz.verification import ROC_GRID, SCORE_BINS

VIEWS = [View(lang, present) for lang in ("en", "zh") for present in (False, True)]
# A phone's chart is about 358 px wide; label_width() errs on the wide side for Latin text
PHONE_CHART = 358


def roc(losses, view):
    return roc_figure([(loss, loss, np.linspace(0, 1, len(ROC_GRID)), None) for loss in losses],
                      view)


def histogram(view, loss="CurricularFace"):
    counts = np.ones(len(SCORE_BINS) - 1)
    return score_histogram_figure(counts, counts, loss, view)


def family(view):
    spread = dict(mean=0.5, std=0.1, min=0.4, max=0.6, n=3)
    summary = [dict(loss=loss, test_accuracy=spread, unseen_tar_far1=spread, unseen_eer=spread)
               for loss in LOSSES]
    return family_figure(summary, {loss: loss for loss in LOSSES}, view)


def test_the_roc_far_axis_has_one_tick_per_decade():
    """Every 1-2-5 step once ran together: '0.1%0.2%0.5%1.0%2.0%...'."""
    axis = roc(["arcface"], View()).layout.xaxis
    assert list(axis.tickvals) == [0.001, 0.01, 0.1, 1]
    assert list(axis.ticktext) == ["0.1%", "1%", "10%", "100%"]


@pytest.mark.parametrize("view", VIEWS)
def test_the_legends_rows_have_room_between_the_title_and_the_plot(view):
    """The legends stand above the plot, under the title: the top margin holds the title and
    every row of the legend (once they ran over the title)."""
    for fig, entries in ((roc(LOSSES, view), len(LOSSES) + 1), (histogram(view), 2)):
        legend, sizes = fig.layout.legend, view.sizes
        columns = round(1 / legend.entrywidth) if legend.entrywidthmode == "fraction" else 1
        rows = -(-entries // columns)
        assert legend.y >= 1 and legend.yanchor == "bottom"
        assert fig.layout.margin.t >= sizes.title + rows * sizes.legend * 1.2


@pytest.mark.parametrize("view", [v for v in VIEWS if not v.present])
def test_titles_fit_a_phone(view):
    """'EER, held-out digits 8 and 9 (lower is bett' was cut on a phone."""
    figures = [roc(LOSSES, view), histogram(view), family(view)]
    for fig in figures:
        title = fig.layout.title.text
        assert label_width(title, view.sizes.title) <= PHONE_CHART, title
    for note in figures[2].layout.annotations:  # the panels' names
        assert label_width(note.text, view.sizes.axis_title) <= PHONE_CHART - 20, note.text
