"""Figure builders: pure functions, data in, plotly go.Figure out. They never train or compute
losses beyond evaluating the curves they are asked to draw."""
