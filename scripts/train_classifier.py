"""Train the calibrated per-topic models from DEV labels + taxonomy examples; report grouped CV.

Reads only DEV-labelled items of ../shared/corpus/news-items ("unsure" left out) and the
examples in config/topics.yaml. Writes numbers only (hashed feature ids -> weights) to
services/core/data/classifier-weights.json. Near-identical titles share a CV fold.

    .venv/bin/python scripts/train_classifier.py            # CV report, then write weights
    .venv/bin/python scripts/train_classifier.py --cv-only  # CV report only
    .venv/bin/python scripts/train_classifier.py --ablate   # also CV of rules-only + Platt
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# One BLAS thread: the fits are small, and on a shared 2-core machine OpenBLAS threads
# only contend (a 3-seed CV took 6.7 min with them, ~1 min without).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.core.classify import Classifier, tokenize  # noqa: E402
from services.core.classify_model import (  # noqa: E402
    DEFAULT_WEIGHTS_PATH,
    FloatArray,
    LinearTopicModel,
    dump_weights,
    feature_names,
    fit_logreg,
    fit_platt,
    hash_feature,
    rule_feature,
    topic_fingerprint,
)
from services.core.taxonomy import DEFAULT_TAXONOMY_PATH, Taxonomy, load_taxonomy  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "news-items"
LABEL_KEYS = {"refugees": "refugees", "taliban-diplomacy": "taliban_diplomacy"}
THRESHOLDS = (0.3, 0.4, 0.5, 0.6)
EXTENSIONS = (
    ("2021-08/09 + 2022-03", 1, 1417),
    ("2021-10 .. 2022-02", 1418, 1708),
    ("2020 + 2023", 1709, 2308),
)


@dataclass(frozen=True)
class Params:
    """Hyper-parameters, fixed a priori (not searched on DEV beyond the --l2 option)."""

    l2: float = 0.003  # penalty on text features (0.02 and 0.0005 also tried, seed 8)
    l2_rule: float = 0.001  # penalty on the rule feature
    min_df: int = 2  # a feature must occur in this many training rows
    max_features: int = 4000  # weights kept per topic (largest |w|)
    text: bool = True  # False: rules-only + Platt (ablation)
    folds: int = 5


@dataclass(frozen=True)
class Row:
    """One training/eval row for one topic."""

    features: frozenset[int]
    names_hint: int
    rule: float
    label: bool
    group: int  # -1 for taxonomy examples (always train)
    line: int = 0


def load_dev() -> list[tuple[int, dict[str, str], dict[str, Any]]]:
    """(line number in items.jsonl, item, label) for every DEV-labelled item."""
    labels = {}
    for raw in (CORPUS / "dev-labels.jsonl").read_text(encoding="utf-8").splitlines():
        lab = json.loads(raw)
        labels[lab["id"]] = lab
    out = []
    with (CORPUS / "items.jsonl").open(encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            item = json.loads(raw)
            if item["id"] in labels:
                out.append((number, item, labels[item["id"]]))
    return out


def _norm_title(title: str) -> set[str]:
    title = re.sub(r"\s*-\s*bbc news$", "", title.lower())
    return set(tokenize(title))


def group_ids(items: Sequence[dict[str, str]], jaccard: float = 0.6) -> list[int]:
    """Union near-identical titles (token Jaccard >= jaccard) or equal descriptions."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    toks = [_norm_title(it["title"]) for it in items]
    for i in range(len(items)):
        for j in range(i + 1, len(items)):
            union = len(toks[i] | toks[j]) or 1
            same_desc = (
                bool(items[i]["description"]) and items[i]["description"] == items[j]["description"]
            )
            if same_desc or len(toks[i] & toks[j]) / union >= jaccard:
                parent[find(i)] = find(j)
    return [find(i) for i in range(len(items))]


def fold_of_groups(
    groups: Sequence[int], positive: Sequence[bool], k: int, seed: int
) -> dict[int, int]:
    """Assign groups to k folds, spreading groups with positives evenly."""
    rng = random.Random(seed)
    has_pos: dict[int, bool] = {}
    for g, p in zip(groups, positive, strict=True):
        has_pos[g] = has_pos.get(g, False) or p
    order = sorted(has_pos, key=lambda g: (not has_pos[g], rng.random()))
    return {g: i % k for i, g in enumerate(order)}


def _row(
    clf: Classifier, slug: str, title: str, text: str, label: bool, group: int, line: int
) -> Row | None:
    outcome = clf.rule_outcomes(title, text)[slug]
    if outcome.gated or outcome.vetoed:
        return None  # scored 0 by the classifier whatever the model says
    names = feature_names(tokenize(title), tokenize(text))
    feats = frozenset(hash_feature(n) for n in names)
    return Row(feats, len(feats), rule_feature(outcome.points), label, group, line)


def build_rows(
    clf: Classifier, taxonomy: Taxonomy, slug: str, dev: list[Any], groups: list[int]
) -> tuple[list[Row], list[Row], list[tuple[int, bool]]]:
    """(DEV rows, example rows, forced-negative DEV items as (line, gold))."""
    topic = taxonomy.get(slug)
    rows, forced = [], []
    for (line, item, lab), group in zip(dev, groups, strict=True):
        gold = lab[LABEL_KEYS[slug]]
        if gold == "unsure":
            continue
        row = _row(clf, slug, item["title"], item["description"], bool(gold), group, line)
        if row is None:
            forced.append((line, bool(gold)))
        else:
            rows.append(row)
    shared_neg = {n for t in taxonomy.topics for n in t.examples.negative}
    examples = [(t, True) for t in topic.examples.positive] + [
        (t, False) for t in sorted(shared_neg)
    ]
    ex_rows = [r for t, y in examples if (r := _row(clf, slug, "", t, y, -1, 0)) is not None]
    return rows, ex_rows, forced


def _matrix(rows: Sequence[Row], columns: dict[int, int], text: bool) -> FloatArray:
    x = np.zeros((len(rows), 1 + (len(columns) if text else 0)))
    for i, r in enumerate(rows):
        x[i, 0] = r.rule
        if text and r.features:
            v = 1.0 / np.sqrt(r.names_hint)
            for h in r.features:
                c = columns.get(h)
                if c is not None:
                    x[i, 1 + c] = v
    return x


def fit_topic(slug: str, rows: Sequence[Row], params: Params) -> LinearTopicModel:
    """Fit one uncalibrated linear model (platt = identity)."""
    df: dict[int, int] = {}
    for r in rows:
        for h in r.features:
            df[h] = df.get(h, 0) + 1
    kept = sorted(h for h, c in df.items() if c >= params.min_df) if params.text else []
    columns = {h: i for i, h in enumerate(kept)}
    x = _matrix(rows, columns, params.text)
    y = np.array([1.0 if r.label else 0.0 for r in rows])
    pos = max(float(y.sum()), 1.0)
    neg = max(float(len(y) - y.sum()), 1.0)
    sw = np.where(y > 0, 0.5 / pos, 0.5 / neg)
    l2 = np.full(x.shape[1], params.l2)
    l2[0] = params.l2_rule
    w, b = fit_logreg(x, y, l2, sw)
    text_w = {h: float(w[1 + c]) for h, c in columns.items()}
    top = sorted(text_w, key=lambda h: -abs(text_w[h]))[: params.max_features]
    weights = {h: text_w[h] for h in top if abs(text_w[h]) >= 1e-4}
    return LinearTopicModel(slug, float(b), float(w[0]), weights, 1.0, 0.0)


def decision(model: LinearTopicModel, row: Row) -> float:
    v = 1.0 / np.sqrt(row.names_hint) if row.names_hint else 0.0
    text = sum(model.weights.get(h, 0.0) for h in row.features) * v
    return model.bias + model.rule_weight * row.rule + float(text)


def fit_calibrated(
    slug: str, rows: Sequence[Row], ex_rows: Sequence[Row], params: Params, seed: int = 8
) -> tuple[LinearTopicModel, FloatArray, FloatArray]:
    """Final model on all rows, Platt fitted on inner out-of-fold decision values."""
    folds = fold_of_groups([r.group for r in rows], [r.label for r in rows], params.folds, seed)
    z = np.zeros(len(rows))
    for k in range(params.folds):
        train = [r for r in rows if folds[r.group] != k]
        model = fit_topic(slug, [*train, *ex_rows], params)
        for i, r in enumerate(rows):
            if folds[r.group] == k:
                z[i] = decision(model, r)
    y = np.array([1.0 if r.label else 0.0 for r in rows])
    a, b = fit_platt(z, y)
    final = fit_topic(slug, [*rows, *ex_rows], params)
    model = LinearTopicModel(slug, final.bias, final.rule_weight, final.weights, a, b)
    return model, z, y


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: bool, pred: bool) -> None:
        self.tp += gold and pred
        self.fp += pred and not gold
        self.fn += gold and not pred

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _extension(line: int) -> str:
    return next(name for name, lo, hi in EXTENSIONS if lo <= line <= hi)


def oof_probabilities(
    slug: str, rows: list[Row], ex_rows: list[Row], params: Params, seed: int
) -> list[tuple[Row, float]]:
    """Nested grouped CV: outer folds score, inner folds calibrate."""
    folds = fold_of_groups([r.group for r in rows], [r.label for r in rows], params.folds, seed)
    out = []
    for k in range(params.folds):
        train = [r for r in rows if folds[r.group] != k]
        model = fit_calibrated(slug, train, ex_rows, params, seed + 1 + k)[0]
        out += [(r, model.probability(decision(model, r))) for r in rows if folds[r.group] == k]
    return out


def score_at(
    probs: list[tuple[Row, float]], forced: list[tuple[int, bool]], threshold: float
) -> dict[str, Score]:
    """P/R/F1 counts per extension; gated or vetoed items count as predicted negative."""
    out: dict[str, Score] = {"all": Score()}
    pairs = [(r.line, r.label, p >= threshold) for r, p in probs]
    pairs += [(line, gold, False) for line, gold in forced]
    for line, gold, pred in pairs:
        for key in ("all", _extension(line)):
            out.setdefault(key, Score()).add(gold, pred)
    return out


def cv_errors(
    probs: list[tuple[Row, float]], forced: list[tuple[int, bool]], threshold: float
) -> list[tuple[int, str, float]]:
    """Out-of-fold errors as (line, "FP"/"FN", probability), by line; forced items score 0."""
    pairs = [(r.line, r.label, p) for r, p in probs] + [(ln, g, 0.0) for ln, g in forced]
    return sorted((ln, "FN" if g else "FP", p) for ln, g, p in pairs if g != (p >= threshold))


def _print_errors(
    slug: str, errors: list[tuple[int, str, float]], titles: dict[int, str], seed: int
) -> None:
    print(f"  {slug:18s} seed {seed}: {len(errors)} out-of-fold errors")
    for line, kind, p in errors:
        print(f"    {kind} l.{line:<5d} {p:.2f}  {titles[line][:100]}")


def report_cv(
    taxonomy: Taxonomy,
    params: Params,
    seeds: Sequence[int],
    label: str,
    show_errors: bool = False,
) -> dict[str, Any]:
    """Print and return repeated nested grouped CV results per topic (errors of the 1st seed)."""
    clf = Classifier(taxonomy, weights=None)
    dev = load_dev()
    groups = group_ids([item for _, item, _ in dev])
    titles = {line: item["title"] for line, item, _ in dev}
    summary: dict[str, Any] = {}
    print(f"== {label}: {params.folds}-fold grouped nested CV on DEV, seeds {list(seeds)} ==")
    for slug in LABEL_KEYS:
        rows, ex_rows, forced = build_rows(clf, taxonomy, slug, dev, groups)
        threshold = taxonomy.get(slug).threshold
        f1s = []
        for seed in seeds:
            probs = oof_probabilities(slug, rows, ex_rows, params, seed)
            res = score_at(probs, forced, threshold)
            p, r, f = res["all"].prf()
            alt = ", ".join(
                f"{t}: {score_at(probs, forced, t)['all'].prf()[2]:.3f}" for t in THRESHOLDS
            )
            print(f"  {slug:18s} seed {seed}: F1 at other thresholds {alt}")
            f1s.append(f)
            ext = "; ".join(
                f"{name}: F1 {res[name].prf()[2]:.3f} (TP {res[name].tp}, FN {res[name].fn})"
                for name, _, _ in EXTENSIONS
                if name in res
            )
            print(f"  {slug:18s} seed {seed}: P {p:.3f} R {r:.3f} F1 {f:.3f}  [{ext}]")
            if show_errors and seed == seeds[0]:
                _print_errors(slug, cv_errors(probs, forced, threshold), titles, seed)
        mean = float(np.mean(f1s))
        print(f"  {slug:18s} mean F1 {mean:.3f} (min {min(f1s):.3f}, max {max(f1s):.3f})")
        summary[slug] = {"cv_f1_mean": round(mean, 3), "cv_f1_min": round(min(f1s), 3)}
    return summary


def train_and_write(taxonomy: Taxonomy, params: Params, path: Path, cv: dict[str, Any]) -> None:
    """Fit the shipped models on all DEV rows + examples and write the weights file."""
    clf = Classifier(taxonomy, weights=None)
    dev = load_dev()
    groups = group_ids([item for _, item, _ in dev])
    models = []
    for slug in LABEL_KEYS:
        rows, ex_rows, _ = build_rows(clf, taxonomy, slug, dev, groups)
        model = fit_calibrated(slug, rows, ex_rows, params)[0]
        fp = topic_fingerprint(taxonomy.get(slug))
        models.append(
            LinearTopicModel(
                slug, model.bias, model.rule_weight, model.weights, model.platt_a, model.platt_b, fp
            )
        )
        print(
            f"{slug}: {len(model.weights)} weights, rule_weight {model.rule_weight:.3f}, "
            f"platt ({model.platt_a:.3f}, {model.platt_b:.3f})"
        )
    meta = {
        "trained_on": "dev",
        "training": "DEV labels of news-items (unsure excluded) + taxonomy examples",
        "params": params.__dict__,
        "cv": cv,
    }
    dump_weights(models, meta, path)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=Path, default=DEFAULT_TAXONOMY_PATH)
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS_PATH)
    parser.add_argument("--cv-only", action="store_true", help="report CV, write nothing")
    parser.add_argument("--ablate", action="store_true", help="also CV rules-only + Platt")
    parser.add_argument("--seeds", type=int, nargs="+", default=[8, 9, 10])
    parser.add_argument("--l2", type=float, default=Params.l2)
    args = parser.parse_args(argv)
    if not (CORPUS / "dev-labels.jsonl").exists():
        print(f"corpus not found at {CORPUS}; it lives in ../shared", file=sys.stderr)
        return 2
    taxonomy = load_taxonomy(args.topics)
    params = Params(l2=args.l2)
    if args.ablate:
        report_cv(taxonomy, Params(text=False), args.seeds, "rules-only + Platt")
    cv = report_cv(taxonomy, params, args.seeds, "rules + hashed text model")
    if not args.cv_only:
        train_and_write(taxonomy, params, args.out, cv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
