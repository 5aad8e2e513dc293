"""Fit the pairwise same-story model (services/core/dedupe_model.py) on the TUNING pairs of
``make eval-dedupe`` and write services/core/data/dedupe-pair-model.json.

Training rows are the tuning pairs the model would actually see: they share an LSH band key and
the rules of ``decide_by_rules`` call them different without a guard (``model_eligible``).
Logistic regression (``classify_model.fit_logreg``), classes balanced, hand-labelled hard
negatives (later developments, same event but a different story) weighted ``--hard-weight``.
The threshold is the lowest probability at which the merges the model adds to the rules' are
right at least ``--min-precision`` of the time on the tuning pairs: precision comes first.
Held-out pairs are not read here; ``make eval-dedupe`` reports them.

    .venv/bin/python scripts/train_dedupe_model.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from eval_dedupe import (  # noqa: E402
    CAPTURES,
    IDENTITY_METHODS,
    Pair,
    Signatures,
    build_pairs,
    load_capture,
    load_items,
)

from services.core.classify_model import fit_logreg, sigmoid  # noqa: E402
from services.core.dedupe import decide_by_rules, model_eligible  # noqa: E402
from services.core.dedupe_model import MODEL_PATH, PairModel, pair_features  # noqa: E402

HARD = {"later_development", "same_event_diff_story"}


def rows(pairs: list[Pair]) -> list[tuple[Pair, bool, list[float] | None]]:
    """(pair, caught by the rules end to end, model features when the model would see it)."""
    out = []
    sigs = Signatures()
    for p in pairs:
        (sa, ka), (sb, kb) = sigs(p.a), sigs(p.b)
        shared = bool(ka & kb)
        rules = decide_by_rules(sa, sb)
        caught = rules.duplicate and (shared or rules.method in IDENTITY_METHODS)
        eligible = shared and model_eligible(sa, sb, rules)
        out.append((p, caught, pair_features(sa, sb) if eligible else None))
    return out


def fit(train: list[tuple[Pair, bool, list[float] | None]], hard_weight: float) -> PairModel:
    feats = [(p, x) for p, _, x in train if x is not None]
    x = np.array([f for _, f in feats])
    y = np.array([float(p.positive) for p, _ in feats])
    w = np.array([hard_weight if p.category in HARD else 1.0 for p, _ in feats])
    w[y == 1] *= w[y == 0].sum() / max(float(y.sum()), 1.0)  # balance the classes
    weights, bias = fit_logreg(x, y, np.full(x.shape[1], 1e-3), w, steps=3000)
    return PairModel(tuple(float(v) for v in weights), float(bias), 1.0)


def choose_threshold(
    model: PairModel, train: list[tuple[Pair, bool, list[float] | None]], min_precision: float
) -> tuple[float, Table]:
    """The lowest threshold at which the merges the model adds to the rules' are right at
    least ``min_precision`` of the time (end-to-end numbers shown for reference)."""
    table = Table(title="tuning pairs: what the model adds to the rules, and end to end")
    for col in ("threshold", "added TP", "added FP", "hard FP", "added precision", "recall"):
        table.add_column(col, justify="right")
    npos = sum(p.positive for p, _, _ in train)
    base = sum(p.positive for p, caught, _ in train if caught)
    best = 1.0
    for t in np.arange(0.98, 0.49, -0.02):
        tp = fp = hard = 0
        for p, caught, x in train:
            if caught or x is None:
                continue
            if sigmoid(model.bias + float(np.dot(model.weights, x))) >= t:
                tp += p.positive
                fp += not p.positive
                hard += p.category in HARD
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = (base + tp) / npos
        cells = (f"{t:.2f}", str(tp), str(fp), str(hard), f"{precision:.3f}", f"{recall:.3f}")
        table.add_row(*cells)
        if precision >= min_precision:
            best = round(float(t), 2)
    return best, table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hard-weight", type=float, default=5.0)
    ap.add_argument("--min-precision", type=float, default=0.97)
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    args = ap.parse_args()
    console = Console(width=120)
    pairs = build_pairs(load_items(), *(load_capture(n) for n in CAPTURES))
    train = [r for r in rows(pairs) if r[0].split == "tune" and r[0].category != "copy_url"]
    model = fit(train, args.hard_weight)
    threshold, table = choose_threshold(model, train, args.min_precision)
    console.print(table)
    model = PairModel(model.weights, model.bias, threshold)
    args.out.write_text(json.dumps(model.to_json(), indent=1) + "\n")
    n_rows = sum(x is not None for _, _, x in train)
    console.print(f"{n_rows} model rows; threshold {threshold}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
