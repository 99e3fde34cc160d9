"""A replay player: a slider over a run's recorded frames and a Play button.

While playing, a fragment reruns every FRAME_SECONDS and shows the next frame; only the
fragment reruns, not the page. Each frame is a figure drawn by the playground's own builders
from the recorded numbers (nothing is interpolated), sent as the chart's new figure; the
chart's uirevision keeps the reader's zoom and 3D rotation from frame to frame.
benchmarks/bench_replay.py measures what a frame costs to draw against FRAME_SECONDS."""
from __future__ import annotations

import streamlit as st

from lossviz import ui
from lossviz.figures.replay import replay_figure
from lossviz.i18n import LossvizError
from lossviz.ready import load_ready_run, ready_comparison
from lossviz.replay import Replay, replay_of_ready

# 0.3 s a frame: a 90-frame ready run plays in about 27 s, slow enough to follow the first
# epochs (where most frames are) and well above a frame's drawing cost (bench_replay.py)
FRAME_SECONDS = 0.3


def show_ready_replay(loss: str, dim: int, key: str) -> None:
    """The ready run of this loss and dimension in the player, or a warning that says why
    there is none (a missing or damaged file)."""
    try:
        replay = _ready_replay(loss, dim)
    except LossvizError as err:
        st.warning(ui.say(err.message), icon="⚠️")
        return
    show_replay(replay, key)


# One read-only copy per server; a refused file raises, and is not kept, so a rebuilt one is
# found at the next try.
@st.cache_resource(show_spinner=False, max_entries=16)
def _ready_replay(loss: str, dim: int) -> Replay:
    return replay_of_ready(load_ready_run(loss, dim))


@st.cache_resource(show_spinner=False, max_entries=2)
def ready_comparison_of(dim: int) -> tuple:
    """Compare's ready comparison of every loss in this dimension (RunResults), read once per
    server; like _ready_replay, a refused file raises and is not kept."""
    return ready_comparison(dim)


def show_replay(replay: Replay | None, key: str) -> None:
    """The player for this replay (a ReadyRun's via lossviz.replay.replay_of_ready, or the
    playground's run via replay_of_snapshot); key must be unique on the page."""
    if replay is None or replay.frame_count == 0:
        st.info(ui.t("ready.replay.empty"))
        return
    frame_key, playing_key = f"{key}:frame", f"{key}:playing"
    st.session_state.setdefault(frame_key, 0)
    st.session_state.setdefault(playing_key, False)
    if st.session_state[frame_key] >= replay.frame_count:  # another replay under the same key
        _move_to(key, 0)
    if replay.ready:
        st.info(f"**{ui.say(replay.title)}** · {ui.t('ready.label_help')}",
                icon=":material/inventory_2:")
    else:
        st.caption(ui.say(replay.title))
    timed = bool(st.session_state[playing_key])
    st.fragment(_player, run_every=FRAME_SECONDS if timed else None)(replay, key, timed)
    if replay.frame_count > 1:  # one frame (a run paused after its first step) has no play
        _play_button(key, replay.frame_count - 1)


def _player(replay: Replay, key: str, timed: bool) -> None:
    """One frame; timed says whether this fragment was registered with the timer (playing)."""
    frame_key, playing_key = f"{key}:frame", f"{key}:playing"
    last = replay.frame_count - 1
    if timed and st.session_state[playing_key]:  # a timer run, not one left over after Pause
        st.session_state[frame_key] = min(st.session_state[frame_key] + 1, last)
    figure_area = st.container()
    frame = _slider(key, last) if last > 0 else 0
    figure_area.plotly_chart(replay_figure(replay, frame, ui.view()), key=f"{key}:figure",
                             **ui.chart_options())
    figure_area.markdown(f"**{ui.say(replay.at(frame))}** · "
                         f"{ui.t('ready.replay.frame', index=frame + 1, count=last + 1)}")
    if st.session_state[playing_key] and frame >= last:
        st.session_state[playing_key] = False  # the end: a page run stops the timer
        st.rerun()


def _slider(key: str, last: int) -> int:
    """The slider over the frames, still while playing; the frame chosen.

    The browser keeps a slider's value as its own and takes the server's only when the widget
    is new, so the player makes a new widget (a new key) whenever the frame moves without the
    reader: each frame while playing, and once after Play, Pause, the end or a new replay
    (_move_to). Writing the value through session state instead left the thumb one frame off
    the frame shown when a press cut a timer run short (seen in Chromium)."""
    frame_key, playing_key = f"{key}:frame", f"{key}:playing"
    frame = st.session_state[frame_key]
    # The slider counts frames from 1, as the caption under the figure does
    if st.session_state[playing_key]:
        return st.slider(ui.t("ready.replay.slider"), 1, last + 1, value=frame + 1,
                         disabled=True, key=f"{key}:frame:playing:{frame}", format="%d",
                         help=ui.t("ready.replay.slider_help")) - 1
    generation = st.session_state.get(f"{key}:generation", 0)
    frame = st.slider(ui.t("ready.replay.slider"), 1, last + 1, value=frame + 1, format="%d",
                      key=f"{key}:frame:{generation}", help=ui.t("ready.replay.slider_help")) - 1
    st.session_state[frame_key] = frame
    return frame


def _move_to(key: str, frame: int) -> None:
    """The frame moved by the player itself, not the reader: the next slider is a new one."""
    st.session_state[f"{key}:frame"] = frame
    st.session_state[f"{key}:generation"] = st.session_state.get(f"{key}:generation", 0) + 1


def _play_button(key: str, last: int) -> None:
    """Play or Pause, outside the timed fragment: a button that the timer redraws every frame
    can lose a press (seen in Chromium: Pause pressed, the replay played on), and a press out
    here reruns the page, which starts or stops the fragment's timer."""
    playing = st.session_state[f"{key}:playing"]
    st.button(ui.t("ready.replay.pause" if playing else "ready.replay.play"),
              key=f"{key}:play", width="content", on_click=_set_playing,
              args=(key, not playing, last),
              icon=":material/pause:" if playing else ":material/play_arrow:")


def _set_playing(key: str, playing: bool, last: int) -> None:
    """Play from here (from the start at the end), or pause. It sets rather than toggles: a
    timer run that starts while a press is on its way carries the press too, so one press can
    call this twice (seen in Chromium, where a toggle undid Pause at once)."""
    frame_key, playing_key = f"{key}:frame", f"{key}:playing"
    if st.session_state[playing_key] == playing:
        return
    st.session_state[playing_key] = playing
    at_end = playing and st.session_state[frame_key] >= last
    _move_to(key, 0 if at_end else st.session_state[frame_key])
