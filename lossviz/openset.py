"""The family in open set over several seeds: which loss verifies classes it never saw? Runs are
each loss's preset, trained on the known classes only; the record is what
`python -m lossviz compare --open-set --seeds ...` writes and the Verification page shows."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from lossviz.compare import losses_comparison, spread
from lossviz.losses import LOSSES
from lossviz.train import OPEN_SET_HELD_OUT, TrainConfig
from lossviz.verification import PAIRS_PER_KIND, REPORTED_FARS, ROC_GRID, SCORE_BINS

FORMAT = "lossviz-openset/1"
# the ready record the Verification page opens with (python -m lossviz openset --out ...)
EVIDENCE = Path(__file__).resolve().parent.parent / "assets" / "evidence" / "openset.json"
# the columns a seed summary gives mean and spread of (closed-set accuracy, then verification)
SUMMARY_METRICS = ("test_accuracy", "unseen_tar_far1", "unseen_tar_far0.1", "unseen_eer",
                   "seen_tar_far1", "seen_tar_far0.1", "seen_eer")


def open_set(configs: dict[str, TrainConfig], held_out: int = OPEN_SET_HELD_OUT) -> dict:
    """The same runs, trained without the last held_out classes."""
    return {label: dataclasses.replace(config, held_out_classes=held_out)
            for label, config in configs.items()}


def over_seeds(configs: dict[str, TrainConfig], seeds) -> dict[tuple[str, int], TrainConfig]:
    """(label, seed) -> the config with that seed: every label meets every seed."""
    return {(label, seed): dataclasses.replace(config, seed=seed)
            for label, config in configs.items() for seed in seeds}


def family_configs(losses, dim: int, epochs: int, seeds, held_out: int = OPEN_SET_HELD_OUT):
    """(label, seed) -> config: each loss's preset in open set, every seed."""
    return over_seeds(open_set(losses_comparison(losses, dim, epochs, seed=0), held_out), seeds)


def summarize(results: dict[tuple[str, int], object]) -> list[dict]:
    """Per label (in first-seen order): the loss, each SUMMARY_METRICS column's spread over
    seeds, and the mean ROC on the unseen classes (TAR at ROC_GRID). results maps
    (label, seed) to a RunResult whose row and evaluation carry the numbers."""
    labels = list(dict.fromkeys(label for label, _ in results))
    summary = []
    for label in labels:
        runs = [result for (name, _), result in results.items() if name == label]
        columns = [c for c in SUMMARY_METRICS if all(c in r.row for r in runs)]
        entry = {"label": label, "loss": runs[0].config.loss, "dim": runs[0].config.dim,
                 "seeds": [seed for (name, seed) in results if name == label],
                 **{column: spread(r.row[column] for r in runs) for column in columns}}
        verifications = [r.evaluation.verification for r in runs if r.evaluation.verification]
        if verifications:
            entry["unseen_roc_tar"] = np.mean([v.unseen.roc_tar for v in verifications],
                                              axis=0).round(4).tolist()
            # the score histograms of every seed's pairs, added up
            for kind in ("same", "different"):
                entry[f"unseen_{kind}_counts"] = np.sum(
                    [getattr(v.unseen, f"{kind}_counts") for v in verifications],
                    axis=0).tolist()
        summary.append(entry)
    return summary


def record(summary: list[dict], settings: dict) -> dict:
    """The evidence file: settings, the ROC grid, the score bins and the per-loss summary."""
    return {"format": FORMAT, "settings": {**settings, "pairs_per_kind": PAIRS_PER_KIND,
                                           "reported_fars": list(REPORTED_FARS)},
            "roc_far": ROC_GRID.round(6).tolist(), "score_bins": SCORE_BINS.round(4).tolist(),
            "losses": summary}


def summary_line(entry: dict) -> str:
    """One loss's numbers as the CLI prints them: mean ± standard deviation over seeds."""
    def pm(column):
        value = entry.get(column)
        return "n/a" if value is None else \
            f"{value['mean'] * 100:.1f} ± {value['std'] * 100:.1f}%"
    line = f"{entry['label']}: closed-set accuracy {pm('test_accuracy')}"
    if "unseen_eer" not in entry and "seen_eer" not in entry:
        return f"{line} ({len(entry['seeds'])} seeds)"  # no class held out: nothing to verify
    return (f"{line}, unseen classes TAR@FAR=1% {pm('unseen_tar_far1')}, TAR@FAR=0.1% "
            f"{pm('unseen_tar_far0.1')}, EER {pm('unseen_eer')}; known classes TAR@FAR=1% "
            f"{pm('seen_tar_far1')}, EER {pm('seen_eer')} ({len(entry['seeds'])} seeds)")


def read_record(path: Path = EVIDENCE) -> dict | None:
    """The record written by record(), or None when it is missing or of another format."""
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return loaded if isinstance(loaded, dict) and loaded.get("format") == FORMAT else None


def results_by_seed(results) -> dict:
    """RunResults (in any order) keyed as summarize() wants them: (loss title, seed)."""
    return {(LOSSES[r.config.loss].title, r.config.seed): r for r in results}
