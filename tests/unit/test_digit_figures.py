import math

import numpy as np
import pytest

from lossviz.anatomy import take_apart
from lossviz.figures.digit import (YOUR_DIGIT, family_figure, probability_figure, push_figure,
                                   with_your_digit)
from lossviz.figures.style import View
from lossviz.figures.training import features_2d_figure, features_3d_figure
from lossviz.i18n import text
from lossviz.losses import LOSSES

NAMES = tuple(str(d) for d in range(4))
WEIGHTS = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
FEATURE = 2 * np.array([math.cos(math.radians(30)), math.sin(math.radians(30))])


def angle_to(point, weight):
    return math.degrees(math.acos(np.dot(point, weight) / np.linalg.norm(point)
                                  / np.linalg.norm(weight)))


def test_the_arrow_starts_on_the_circle_and_turns_toward_the_own_weight():
    a = take_apart("cosface", {"s": 16.0, "m": 0.2}, FEATURE, WEIGHTS, label=0)
    (arrow,) = push_figure(a, WEIGHTS, NAMES).layout.annotations
    start, tip = np.array([arrow.ax, arrow.ay]), np.array([arrow.x, arrow.y])
    assert start == pytest.approx(FEATURE / 2)  # the feature's direction, on the unit circle
    assert angle_to(tip, WEIGHTS[0]) < angle_to(start, WEIGHTS[0])
    assert angle_to(tip, WEIGHTS[1]) > angle_to(start, WEIGHTS[1])


def test_the_sphere_arrow_ends_where_the_push_points():
    weights = np.vstack([np.eye(3), -np.eye(3)])
    feature = np.array([0.6, 0.64, 0.48])
    a = take_apart("arcface", {"s": 16.0, "m": 0.3}, feature, weights, label=0)
    cone = next(t for t in push_figure(a, weights, NAMES + ("4", "5")).data if t.type == "cone")
    direction = np.array([cone.u[0], cone.v[0], cone.w[0]])
    assert np.dot(direction, a.tangent_push) > 0.99 * np.linalg.norm(direction) * np.linalg.norm(
        a.tangent_push)


def test_probabilities_mark_the_target_in_the_readers_language():
    a = take_apart("normface", {"s": 8.0}, FEATURE, WEIGHTS, label=1)
    figure = probability_figure(a, NAMES, View("zh"))
    bars = figure.data[0]
    assert list(bars.y) == pytest.approx(a.probabilities)
    assert [shape == "/" for shape in bars.marker.pattern.shape] == [False, True, False, False]
    assert text("digit.figures.target", "zh") in figure.layout.xaxis.ticktext[1]
    assert figure.layout.title.text == text("digit.figures.probabilities", "zh",
                                            loss=a.loss_value)


def test_the_family_figure_has_one_bar_per_loss_and_marks_the_current_one():
    rows = tuple(take_apart(name, {}, FEATURE, WEIGHTS, 0) for name in LOSSES)
    loss, probability = family_figure(rows, "arcface").data
    assert list(loss.x) == pytest.approx([a.loss_value for a in rows])
    assert list(probability.x) == pytest.approx([a.target_probability for a in rows])
    assert [name.endswith("◀") for name in loss.y] == [n == "arcface" for n in LOSSES]


@pytest.mark.parametrize("dim", [2, 3])
def test_your_digit_is_added_to_a_copy_of_the_feature_figure(dim):
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(50, dim)), rng.integers(0, 4, 50)
    weights = np.vstack([np.eye(dim), -np.eye(dim)])[:4]
    if dim == 2:  # as the playground has them: raw and circle, two figures
        figures = features_2d_figure(features, labels, labels, weights, NAMES, "cosface",
                                     {"s": 16.0, "m": 0.1}, raw_limit=3.0, apart=True)
    else:
        figures = (features_3d_figure(features, labels, labels, weights, NAMES, "cosface",
                                      {"s": 16.0, "m": 0.1}),)
    before = [len(figure.data) for figure in figures]
    mine = np.array([0.3, -0.4, 1.2][:dim])
    marked = with_your_digit(figures, mine, View("zh"))
    assert [len(figure.data) for figure in figures] == before  # the cached figures as they were
    assert [len(figure.data) for figure in marked] == [n + 1 for n in before]  # one point each
    added = [figure.data[-1] for figure in marked]
    assert all(point.meta == YOUR_DIGIT for point in added)
    assert added[0].text == (text("digit.figures.your_digit", "zh"),)
    unit = mine / np.linalg.norm(mine)
    if dim == 2:
        assert (added[0].x[0], added[0].y[0]) == pytest.approx(tuple(mine))  # raw, left
        assert (added[1].x[0], added[1].y[0]) == pytest.approx(tuple(unit))  # on the circle
    else:
        point = np.array([added[0].x[0], added[0].y[0], added[0].z[0]])
        assert point == pytest.approx(1.04 * unit)  # just outside the sphere
