"""A finished run as an output folder: checkpoint, metrics (JSON), history per epoch (CSV),
and static figures (PNG and SVG)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from lossviz.checkpoint import save_checkpoint
from lossviz.curves import loss_gradient, target_curve, target_probability
from lossviz.figures.curves import curve_styles, with_baseline
from lossviz.figures.style import View, run_styles
from lossviz.figures.static import (accuracy_figure, angle_histogram_figure, curves_figure,
                                    evolution_gif, features_figure, figure_bytes, lines_figure,
                                    margins_figure, save_figure, small_multiples_figure,
                                    two_panel_lines)
from lossviz.metrics import own_and_nearest_other, run_summary, steps_to_accuracy
from lossviz.train import Run, params_in_force
from lossviz.snapshot import FRAME_POINTS

HISTORY_COLUMNS = ("epoch", "step", "train_loss", "train_accuracy", "test_loss", "test_accuracy")


class EpochHistory:
    """train_epochs' on_epoch callback: evaluates the test subset after every epoch, and keeps
    the features of each epoch too when a GIF is wanted."""

    def __init__(self, keep_frames: bool = False):
        self.rows: list[dict] = []
        self.frames: list[tuple] = []  # (epoch, features, weights), as the live trainer keeps
        self._keep_frames = keep_frames

    def __call__(self, run: Run, epoch: int, train_loss: float, train_accuracy: float):
        evaluation = run.evaluate()
        self.rows.append({"epoch": epoch, "step": run.step, "train_loss": train_loss,
                          "train_accuracy": train_accuracy, "test_loss": evaluation.loss,
                          "test_accuracy": evaluation.accuracy})
        if self._keep_frames:
            self.frames.append((epoch, evaluation.features[:FRAME_POINTS], evaluation.weights))

    def steps_to(self, accuracy: float):
        return steps_to_accuracy([r["step"] for r in self.rows],
                                 [r["test_accuracy"] for r in self.rows], accuracy)


def run_table_row(run: Run, metrics: dict, history: EpochHistory, evaluation) -> dict:
    """One run's line in a comparison: its settings and the angles it reached."""
    summary = run_summary(evaluation.features, evaluation.labels, evaluation.weights,
                          metrics["test_accuracy"])
    return {"loss": run.config.loss, **{f"param_{k}": v for k, v in
                                        params_in_force(run.config, run.step).items()},
            **summary, "steps_to_90": history.steps_to(0.9), "nan": metrics["nan"],
            **(evaluation.verification.row() if evaluation.verification else {})}


def write_run(folder: Path, run: Run, metrics: dict, history: EpochHistory,
              class_names) -> None:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_checkpoint(run, folder / "checkpoint.pt")
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    with open(folder / "history.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(history.rows)
    evaluation = run.evaluate()
    title = f"{run.config.loss}, {run.config.dim}D"
    save_figure(features_figure(evaluation.features, evaluation.labels, evaluation.weights,
                                class_names, run.config.loss,
                                params_in_force(run.config, run.step), title),
                folder, "features")
    save_figure(curves_figure(history.rows, title, run.config.loss), folder, "curves")
    if history.frames:
        (folder / "features.gif").write_bytes(evolution_gif(
            history.frames, evaluation.labels, class_names, run.config.loss,
            params_in_force(run.config, run.step)))


def write_comparison(folder: Path, rows: list[dict]) -> None:
    """comparison.json and comparison.csv: one row per run (columns: the union of keys)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "comparison.json").write_text(json.dumps(rows, indent=2))
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with open(folder / "comparison.csv", "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def history_rows(history) -> list[dict]:
    """A live run's History as the rows the CSV and the static curves use."""
    return [dict(zip(("epoch", "step", "train_loss", "train_accuracy", "test_loss",
                      "test_accuracy"), values, strict=True))
            for values in zip(history.epochs, history.steps, history.train_loss,
                              history.train_accuracy, history.test_loss, history.test_accuracy,
                              strict=True)]


def history_csv(history) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS)
    writer.writeheader()
    writer.writerows(history_rows(history))
    return buffer.getvalue()


def _loss_name(snapshot, view: View) -> str:
    return view.t(f"losses.{snapshot.config.loss}.short")


def snapshot_features_image(snapshot, class_names, fmt: str, view: View = View()) -> bytes:
    """The playground's features as a file, titled in the reader's language."""
    ev = snapshot.evaluation
    title = view.t("exports.features_title", loss=_loss_name(snapshot, view),
                   dim=snapshot.config.dim, epoch=snapshot.epoch)
    return figure_bytes(features_figure(ev.features, ev.labels, ev.weights, class_names,
                                        snapshot.config.loss, snapshot.params, title), fmt)


def snapshot_curves_image(snapshot, fmt: str, view: View = View()) -> bytes:
    return figure_bytes(curves_figure(history_rows(snapshot.history), _loss_name(snapshot, view),
                                      snapshot.config.loss, view), fmt)


def snapshot_gif(snapshot, class_names, view: View = View()) -> bytes:
    return evolution_gif(snapshot.frames, snapshot.evaluation.labels, class_names,
                         snapshot.config.loss, snapshot.params, view=view)


def target_logit_image(user, reference, theta, fmt: str, view: View = View()) -> bytes:
    """The target-logit page's main chart, drawn by matplotlib in the same styles and language."""
    series = [(c.label, target_curve(c, theta), style)
              for c, style, _ in curve_styles(with_baseline(user, view), reference)]
    return figure_bytes(lines_figure(np.degrees(theta), series, view.t("figures.curves.x_axis"),
                                     view.t("figures.curves.y_axis"),
                                     view.t("figures.curves.title")), fmt)


def margins_image(loss: str, params: dict, phi: float, fmt: str, view: View = View(),
                  title: str = "") -> bytes:
    """The decision-margin page's two figures; title: the loss's name in the reader's language."""
    return figure_bytes(margins_figure(loss, params, phi, view, title), fmt)


def comparison_panels(results, names):
    return [(name, r.evaluation.features, r.evaluation.labels, r.evaluation.weights,
             r.config.loss, r.params) for r, name in zip(results, names, strict=True)]


def comparison_images(results, class_names, fmt: str, names=None,
                      view: View = View()) -> dict[str, bytes]:
    """The compare page's two figures; names: the runs' names as the page shows them (their
    labels by default); each loss in the color and dash it has on the pages."""
    names = names or [r.label for r in results]
    styles = run_styles([r.config.loss for r in results])
    series = [(name, r.history, style) for r, name, style in zip(results, names, styles,
                                                                 strict=True)]
    return {"features": figure_bytes(small_multiples_figure(comparison_panels(results, names),
                                                            class_names), fmt),
            "accuracy": figure_bytes(accuracy_figure(series, view), fmt)}


def snapshot_angles_image(snapshot, fmt: str, view: View = View()) -> bytes:
    ev = snapshot.evaluation
    own, nearest = own_and_nearest_other(ev.features, ev.labels, ev.weights)
    return figure_bytes(angle_histogram_figure(own, nearest, view), fmt)


def setting_image(user, theta, other_angle, num_classes, feature_norm, fmt: str,
                  view: View = View()) -> bytes:
    """The target probability and the gradient side by side, as on the target-logit page."""
    styles = curve_styles(user, [])
    probability = [(c.label, target_probability(c, theta, other_angle, num_classes, feature_norm),
                    style) for c, style, _ in styles]
    gradient = [(c.label, loss_gradient(c, theta, other_angle, num_classes, feature_norm), style)
                for c, style, _ in styles]
    t = view.t
    return figure_bytes(two_panel_lines(
        np.degrees(theta), probability, gradient, t("figures.curves.setting_x_axis"),
        (t("figures.curves.probability_axis"), t("figures.curves.gradient_axis")),
        (t("figures.curves.probability"), t("figures.curves.gradient"))), fmt)
