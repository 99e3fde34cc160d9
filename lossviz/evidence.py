"""Evidence for the seed's claims, recorded from real training runs so that the app can show it
at once and anyone can reproduce it from the seeds (python -m lossviz difficulty ...).

A run's trace is its test accuracy and angles at fine step intervals; the takeaway-2 study
trains SphereFace, CosFace and ArcFace with margins of matched angular size and asks which one
reaches a given test accuracy in fewest steps."""
from __future__ import annotations

import dataclasses
import math
import statistics

import torch

from lossviz.data import Dataset
from lossviz.losses import LOSSES
from lossviz.margins import feasibility
from lossviz.metrics import steps_to_accuracy
from lossviz.train import Run, TrainConfig, params_in_force, preset_config, settled_params

FORMAT = "lossviz-difficulty/1"
# One trace point per evaluation; a takeaway-1 recorder reads the angles from the same points.
POINT_FIELDS = ("step", "epoch", "test_accuracy", "mean_own_angle_deg", "min_weight_angle_deg")
MAX_NAN_STEPS = 10  # as train_epochs: a run whose loss stays non-finite is stopped, not looped
CLAIM = ("Training difficulty ranks m·θ (SphereFace) > cos θ − m (CosFace) > cos(θ + m) "
         "(ArcFace), hardest first.")
MATCHING_RULE = (
    "Margins are matched by the angular gap they leave between two neighbouring classes whose "
    "weights are as far apart as {classes} classes can be in {dim}D (lossviz.margins."
    "feasibility): CosFace's m is solved so that its gap equals ArcFace's preset m; SphereFace "
    "takes the smallest integer m whose pure margin reaches that gap, and the lambda that brings "
    "the gap down to it exactly. 'λ fixed' trains at that lambda from the first step; "
    "'λ annealed' starts at 1000 and anneals towards it (SphereFace's recipe). Everything else "
    "(s, learning rate, data order, initial weights) is each loss's preset with the same seed.")
CAVEAT = (
    "SphereFace keeps the feature's length as its logit scale, CosFace and ArcFace scale by a "
    "fixed s: part of any difference comes from that, not from the margin's form. The two "
    "references without a margin (SphereFace with m=1, and NormFace with ArcFace's s) show "
    "each family without a margin; they are not part of the ranking.")
# variants that train without a margin: the baseline of each family, outside the ranking
REFERENCES = {"sphereface-m1-reference": "SphereFace m=1, no margin (reference)",
              "normface-reference": "NormFace, no margin (reference)"}


# ----- one run, traced -------------------------------------------------------------------

def trace_point(run: Run) -> list:
    """step, epoch, test accuracy and the two angles (degrees) on the run's test subset."""
    evaluation = run.evaluate()
    return [run.step, round(run.step / run.steps_per_epoch, 3), round(evaluation.accuracy, 4),
            round(evaluation.mean_own_angle, 2), round(evaluation.min_weight_angle, 2)]


def trace_run(config: TrainConfig, dataset: Dataset, eval_every: int, eval_points: int) -> dict:
    """Train config.epochs epochs, evaluating the first eval_points test digits at step 0 and
    every eval_every steps; the final accuracy is on the whole test set."""
    if eval_every < 1:
        raise ValueError(f"eval_every must be at least 1, got {eval_every}")
    run = Run(config, dataset, eval_points)
    total = config.epochs * run.steps_per_epoch
    points, nan_steps = [trace_point(run)], 0
    while run.step < total and nan_steps <= MAX_NAN_STEPS:
        if math.isnan(run.train_step()[0]):
            nan_steps += 1
        elif run.step % eval_every == 0 or run.step == total:
            points.append(trace_point(run))
    return {"seed": config.seed, "steps": run.step, "nan_steps": nan_steps,
            "final_accuracy": round(run.evaluate_full_test(dataset).accuracy, 4),
            "params_at_end": params_in_force(config, run.step),
            "margin_deg_at_end": _margin_deg(config.loss, params_in_force(config, run.step),
                                             len(dataset.class_names), config.dim),
            "points": points}


def steps_to(points: list, threshold: float):
    """The first traced step whose test accuracy reached threshold, or None."""
    return steps_to_accuracy([p[0] for p in points], [p[2] for p in points], threshold)


# ----- margins of matched size -----------------------------------------------------------

def _margin_deg(loss: str, params: dict, num_classes: int, dim: int) -> float:
    return math.degrees(feasibility(loss, params, num_classes, dim).margin)


def _solve(gap_of, target: float, low: float, high: float) -> float:
    """x in [low, high] where the monotonic gap_of(x) equals target (bisection)."""
    rising = gap_of(high) > gap_of(low)
    for _ in range(60):
        mid = (low + high) / 2
        if (gap_of(mid) < target) == rising:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def matched_variants(dim: int, num_classes: int, **overrides) -> dict[str, TrainConfig]:
    """The runs of the study, name -> config: four with margins matched to ArcFace's preset
    (see MATCHING_RULE), then the REFERENCES. overrides (epochs, seed, device) apply to all."""
    arcface = preset_config("arcface", dim, **overrides)
    scale = arcface.params["s"]
    target = _margin_deg("arcface", settled_params(arcface), num_classes, dim)
    cos_m = _solve(lambda m: _margin_deg("cosface", {"s": scale, "m": m}, num_classes, dim),
                   target, 0.0, LOSSES["cosface"].param("m").high)
    sphere = LOSSES["sphereface"].param("m")
    sphere_m = next((m for m in range(2, int(sphere.high) + 1)
                     if _margin_deg("sphereface", {"m": m, "lam": 0.0}, num_classes, dim)
                     >= target), None)
    if sphere_m is None:
        raise ValueError(f"no SphereFace margin reaches ArcFace's {target:.1f}° in {dim}D")
    lam = _solve(lambda x: _margin_deg("sphereface", {"m": sphere_m, "lam": x}, num_classes, dim),
                 target, 0.0, LOSSES["sphereface"].param("lam").high)
    lam = round(lam, 4)
    return {
        "sphereface-fixed": preset_config("sphereface", dim, params={"m": sphere_m},
                                          lambda_base=lam, lambda_min=lam, **overrides),
        "sphereface-annealed": preset_config("sphereface", dim, params={"m": sphere_m},
                                             lambda_min=lam, **overrides),
        "cosface": preset_config("cosface", dim, params={"s": scale, "m": round(cos_m, 4)},
                                 **overrides),
        "arcface": arcface,
        # m=1: psi(theta) = cos(theta), so the target is cos(theta) whatever lambda is
        "sphereface-m1-reference": preset_config("sphereface", dim, params={"m": 1},
                                                 **overrides),
        "normface-reference": preset_config("normface", dim, params={"s": scale}, **overrides),
    }


def variant_label(name: str, config: TrainConfig) -> str:
    """What the app and the finding call a variant (English; the app translates)."""
    if name == "sphereface-fixed":
        return f"SphereFace (m={config.params['m']}, λ fixed at {config.lambda_min:.2g})"
    if name == "sphereface-annealed":
        return f"SphereFace (m={config.params['m']}, λ annealed to {config.lambda_min:.2g})"
    if name in REFERENCES:
        return REFERENCES[name]
    return f"{LOSSES[config.loss].title} (m={config.params['m']:g})"


# ----- the study -------------------------------------------------------------------------

def spread(values: list) -> dict:
    """Median, min and max over seeds. None (never reached) counts as infinitely many steps:
    a median that is None means most seeds never got there, a max that is None means one
    did not."""
    finite = [v for v in values if v is not None]
    median = statistics.median(sorted(math.inf if v is None else v for v in values))
    return {"median": None if math.isinf(median) else median, "min": min(finite, default=None),
            "max": max(finite) if len(finite) == len(values) else None,
            "reached": len(finite), "of": len(values)}


def _key(threshold: float) -> str:
    return f"steps_to_{round(threshold * 100)}"


def study_dim(dataset: Dataset, dim: int, seeds, epochs: int, eval_every: int,
              eval_points: int, thresholds, device: str = "auto", progress=None) -> dict:
    """Every variant, every seed, in one feature dimension; per run its trace and per variant
    the spread across seeds."""
    num_classes = len(dataset.class_names)
    variants = []
    for name, config in matched_variants(dim, num_classes, epochs=epochs, device=device).items():
        runs = []
        for seed in seeds:
            if progress:
                progress(f"{dim}D {name} seed {seed}")
            run = trace_run(dataclasses.replace(config, seed=seed), dataset, eval_every,
                            eval_points)
            runs.append({**{_key(t): steps_to(run["points"], t) for t in thresholds}, **run})
        summary = {_key(t): spread([r[_key(t)] for r in runs]) for t in thresholds}
        summary["final_accuracy"] = spread([r["final_accuracy"] for r in runs])
        variants.append({"name": name, "loss": config.loss, "label": variant_label(name, config),
                         "params": dict(config.params), "lambda_base": config.lambda_base,
                         "lambda_min": config.lambda_min,
                         "margin_deg": round(_margin_deg(config.loss, settled_params(config),
                                                         num_classes, dim), 2),
                         "summary": summary, "runs": runs})
    arcface = next(v for v in variants if v["name"] == "arcface")
    study = {"dim": dim, "margin_deg": arcface["margin_deg"], "variants": variants}
    return {**study, "finding": dim_finding(study, max(thresholds))}


def _median_text(summary: dict) -> str:
    median = summary["median"]
    return "never" if median is None else f"{median:g}"


def _harder(first: dict, second: dict) -> tuple[bool, bool]:
    """(first's median is above second's, and every seed of first is above every seed of
    second): more steps to the threshold means harder to train."""
    inf = math.inf

    def high(s):
        return inf if s["reached"] < s["of"] else s["max"]

    def low(s):
        return inf if s["min"] is None else s["min"]

    median = [inf if s["median"] is None else s["median"] for s in (first, second)]
    return median[0] > median[1], low(first) > high(second)


def order_verdicts(study: dict, threshold: float) -> dict[str, str]:
    """Whether the claimed order SphereFace > CosFace > ArcFace holds, for SphereFace with its
    lambda fixed and annealed: variant name -> "not", "every_seed" (every seed of the harder
    one slower than every seed of the easier) or "medians" (the medians only)."""
    key = _key(threshold)
    by_name = {v["name"]: v for v in study["variants"]}
    verdicts = {}
    for sphere in ("sphereface-fixed", "sphereface-annealed"):
        pairs = [_harder(by_name[a]["summary"][key], by_name[b]["summary"][key])
                 for a, b in ((sphere, "cosface"), ("cosface", "arcface"))]
        if not all(above for above, _ in pairs):
            verdicts[sphere] = "not"
        elif all(clear for _, clear in pairs):
            verdicts[sphere] = "every_seed"
        else:
            verdicts[sphere] = "medians"
    return verdicts


def annealing_shortfall(variant: dict) -> tuple[float, float] | None:
    """(lambda, gap reached in degrees) at the end when annealing left SphereFace short of its
    matched margin, else None."""
    reached = statistics.median(run["margin_deg_at_end"] for run in variant["runs"])
    if reached >= variant["margin_deg"] - 0.05:
        return None
    return statistics.median(run["params_at_end"]["lam"] for run in variant["runs"]), reached


def dim_finding(study: dict, threshold: float) -> str:
    """One sentence from the numbers: the medians, and whether the claimed order holds with
    SphereFace's lambda fixed and with it annealed."""
    key = _key(threshold)
    by_name = {v["name"]: v for v in study["variants"]}
    medians = ", ".join(f"{v['label']} {_median_text(v['summary'][key])}"
                        for v in study["variants"])
    words = {"not": "it does not hold", "every_seed": "it holds for every seed",
             "medians": "it holds for the medians, within the seed spread"}
    verdicts = [f"with {how} {words[verdict]}" for how, verdict in zip(
        ("λ fixed", "λ annealed"), order_verdicts(study, threshold).values(), strict=True)]
    seeds = study["variants"][0]["summary"][key]["of"]
    accuracy = ", ".join(f"{v['label']} {v['summary']['final_accuracy']['median']:.1%}"
                         for v in study["variants"])
    return (f"{study['dim']}D, margins matched at {study['margin_deg']:.1f}° between neighbouring "
            f"classes, median steps to {threshold:.0%} test accuracy over {seeds} seeds: "
            f"{medians}. The claimed order SphereFace > CosFace > ArcFace: "
            f"{'; '.join(verdicts)}.{_annealing_shortfall(by_name['sphereface-annealed'])} "
            f"Median final accuracy: {accuracy}.")


def _annealing_shortfall(variant: dict) -> str:
    """A clause when annealing left SphereFace short of its matched margin at the end."""
    short = annealing_shortfall(variant)
    if short is None:
        return ""
    lam, reached = short
    return (f" Annealed, λ was still {lam:.3g} after the last step: a gap of {reached:.1f}°, "
            f"not {variant['margin_deg']:.1f}°.")


def difficulty_study(dataset: Dataset, dims, seeds, epochs: int, eval_every: int,
                     eval_points: int, thresholds=(0.8, 0.9), device: str = "auto",
                     progress=None) -> dict:
    """The whole takeaway-2 record, ready for json.dumps."""
    studies = [study_dim(dataset, dim, seeds, epochs, eval_every, eval_points, thresholds,
                         device, progress) for dim in dims]
    return {"format": FORMAT, "claim": CLAIM, "caveat": CAVEAT,
            "matching_rule": MATCHING_RULE.format(classes=len(dataset.class_names),
                                                  dim="/".join(str(d) for d in dims)),
            "settings": {"data": dataset.name, "seeds": list(seeds), "epochs": epochs,
                         "eval_every": eval_every, "eval_points": eval_points,
                         "thresholds": list(thresholds), "device": device,
                         # the last digits of a run depend on the thread count (sums in
                         # another order); the same count on the CPU reproduces the file
                         "torch_threads": torch.get_num_threads()},
            "point_fields": list(POINT_FIELDS), "studies": studies,
            "finding": " ".join(study["finding"] for study in studies)}


# ----- takeaway 1: margins pull features to their own weight -----------------------------

PULL_FORMAT = "lossviz-pull/1"
PULL_CLAIM = ("Large-margin losses pull each feature toward its own class weight rather than "
              "pushing the classes apart.")
# Softmax first (the baseline every margin loss is read against), then the three margins the
# seed's article ranks. L-Softmax and the combined margin can be added (--losses); on this
# busy 2-core machine each adds about 10 minutes (3 seeds, 2 epochs, 3D).
PULL_LOSSES = ("softmax", "sphereface", "cosface", "arcface")
# A closest pair of class weights that opened by less than this much more than Softmax's did
# is no push: seeds of one loss already differ by about that much.
PUSH_TOLERANCE_DEG = 1.0
PULL_CAVEAT = (
    "The class weights start evenly spread ({start:.1f}° between the closest two in {dim}D) and "
    "learn at {scale:g} × the learning rate (TrainConfig.weight_lr_scale, which keeps them from "
    "collapsing in 2D), so no loss can move them far in {epochs} epochs: the smallest angle "
    "between weights shows that the margins did not push them apart here, not how far a loss "
    "would push weights that were free.")


def _at(runs: list, field: str, index: int) -> dict:
    """The spread over seeds of one trace field at one point (0: the start, -1: the end)."""
    column = POINT_FIELDS.index(field)
    return spread([run["points"][index][column] for run in runs])


def band_over_seeds(runs: list, field: str) -> dict:
    """Per traced step that every seed reached: the median, min and max of one field."""
    column = POINT_FIELDS.index(field)
    by_step = [{p[0]: p[column] for p in run["points"]} for run in runs]
    steps = sorted(set.intersection(*(set(s) for s in by_step)))
    values = [[s[step] for s in by_step] for step in steps]
    return {"steps": steps, "median": [round(statistics.median(v), 2) for v in values],
            "min": [min(v) for v in values], "max": [max(v) for v in values]}


def pull_variant(loss: str, runs: list) -> dict:
    """One loss's runs and what the app draws of them: the two angles over training."""
    opened = [run["points"][-1][4] - run["points"][0][4] for run in runs]
    return {"loss": loss, "params": runs[0]["params_at_end"],
            "own": band_over_seeds(runs, "mean_own_angle_deg"),
            "between": band_over_seeds(runs, "min_weight_angle_deg"),
            "summary": {"own_start": _at(runs, "mean_own_angle_deg", 0),
                        "own_end": _at(runs, "mean_own_angle_deg", -1),
                        "between_start": _at(runs, "min_weight_angle_deg", 0),
                        "between_end": _at(runs, "min_weight_angle_deg", -1),
                        "opened": spread([round(o, 2) for o in opened]),
                        "final_accuracy": spread([run["final_accuracy"] for run in runs])},
            "runs": runs}


def pull_verdict(study: dict) -> dict:
    """What the numbers say, as numbers and names (the app words them in either language):
    which margin losses end with features closer to their own weight than Softmax (for every
    seed, or for the medians only), and which opened the closest pair of weights more than
    Softmax did (beyond PUSH_TOLERANCE_DEG)."""
    softmax, *margins = study["variants"]
    own = softmax["summary"]["own_end"]
    every, medians, farther, pushed = [], [], [], []
    for variant in margins:
        mine = variant["summary"]["own_end"]
        if mine["max"] < own["min"]:
            every.append(variant["loss"])
        elif mine["median"] < own["median"]:
            medians.append(variant["loss"])
        else:
            farther.append(variant["loss"])
        if (variant["summary"]["opened"]["median"]
                > softmax["summary"]["opened"]["median"] + PUSH_TOLERANCE_DEG):
            pushed.append(variant["loss"])
    return {"own_start": softmax["summary"]["own_start"]["median"],
            "softmax_own_end": own["median"],
            "margin_own_end": {v["loss"]: v["summary"]["own_end"]["median"] for v in margins},
            "closer_every_seed": every, "closer_medians": medians, "not_closer": farther,
            "between_start": softmax["summary"]["between_start"]["median"],
            "softmax_opened": softmax["summary"]["opened"]["median"],
            "margin_opened": {v["loss"]: v["summary"]["opened"]["median"] for v in margins},
            "pushed_apart": pushed}


def _names(losses: list) -> str:
    return ", ".join(LOSSES[loss].title for loss in losses) or "none"


def pull_finding(study: dict) -> str:
    """The verdict as one English paragraph (the CLI prints it; the app words it itself)."""
    v = pull_verdict(study)
    ends = ", ".join(f"{LOSSES[loss].title} {angle:.1f}°"
                     for loss, angle in v["margin_own_end"].items())
    opened = ", ".join(f"{LOSSES[loss].title} {angle:+.1f}°"
                       for loss, angle in v["margin_opened"].items())
    push = (f"{_names(v['pushed_apart'])} opened it by more than {PUSH_TOLERANCE_DEG:g}° beyond "
            "Softmax" if v["pushed_apart"] else "no margin loss opened it more than Softmax did "
            f"(by over {PUSH_TOLERANCE_DEG:g}°)")
    return (f"{study['dim']}D, {study['epochs']} epochs, median over {study['seeds']} seeds: the "
            f"mean angle of test features to their own class weight went from "
            f"{v['own_start']:.1f}° to {v['softmax_own_end']:.1f}° with Softmax, and to {ends} "
            f"with the margin losses. Closer than Softmax for every seed: "
            f"{_names(v['closer_every_seed'])}; for the medians only: "
            f"{_names(v['closer_medians'])}; not closer: {_names(v['not_closer'])}. The smallest "
            f"angle between two class weights started at {v['between_start']:.1f}° and moved by "
            f"{v['softmax_opened']:+.1f}° with Softmax, {opened} with the margin losses: {push}.")


def pull_study(dataset: Dataset, dim: int, seeds, epochs: int, eval_every: int,
               eval_points: int, losses=PULL_LOSSES, device: str = "auto",
               progress=None) -> dict:
    """Softmax against the margin losses' presets, same seeds (same initial weights and data
    order), each run traced: the whole takeaway-1 record, ready for json.dumps."""
    if losses[0] != "softmax" or len(losses) < 2:
        raise ValueError("the pull study reads every margin loss against Softmax: list "
                         "softmax first, then at least one margin loss")
    variants = []
    for loss in losses:
        runs = []
        for seed in seeds:
            if progress:
                progress(f"{dim}D {loss} seed {seed}")
            config = preset_config(loss, dim, epochs=epochs, seed=seed, device=device)
            runs.append(trace_run(config, dataset, eval_every, eval_points))
        variants.append(pull_variant(loss, runs))
    study = {"dim": dim, "epochs": epochs, "seeds": len(seeds), "variants": variants}
    defaults = TrainConfig()
    caveat = PULL_CAVEAT.format(
        start=variants[0]["summary"]["between_start"]["median"], dim=dim,
        scale=defaults.weight_lr_scale, epochs=epochs)
    return {"format": PULL_FORMAT, "claim": PULL_CLAIM, "caveat": caveat,
            "settings": {"data": dataset.name, "dim": dim, "seeds": list(seeds),
                         "epochs": epochs, "eval_every": eval_every, "eval_points": eval_points,
                         "weight_lr_scale": defaults.weight_lr_scale, "device": device,
                         "torch_threads": torch.get_num_threads()},
            "point_fields": list(POINT_FIELDS), "study": study,
            "finding": pull_finding(study)}
