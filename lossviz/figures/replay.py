"""One frame of a replay (lossviz.replay), drawn by the playground's own feature figures."""
from __future__ import annotations

import plotly.graph_objects as go

from lossviz.figures.style import View
from lossviz.figures.training import features_2d_figure, features_3d_figure, stable_limit
from lossviz.replay import Replay


def replay_figure(replay: Replay, frame: int, view: View = View()) -> go.Figure:
    """The features and class weights at this frame; in 2D on one raw axis for the whole
    replay (the points move, the axis stays), ringed by the regions of the parameters then in
    force."""
    args = (replay.features[frame], replay.labels, replay.predictions[frame],
            replay.weights[frame], replay.class_names, replay.loss, replay.params[frame])
    if replay.dim == 2:
        return features_2d_figure(*args, raw_limit=stable_limit(None, replay.raw_extent),
                                 view=view)
    return features_3d_figure(*args, view=view)
