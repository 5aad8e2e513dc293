"""Evaluate the topic classifier on the DEV labels of ../shared/corpus/news-items.

Prints per-topic precision/recall/F1 (items labelled "unsure" are left out), a breakdown per
corpus extension (line ranges of items.jsonl, see the corpus README), the misclassified items,
and exits 1 when any topic's F1 is below --floor. Only DEV-labelled items are read.

    .venv/bin/python scripts/eval_classify.py [--floor 0.85] [--topics config/topics.yaml]
    .venv/bin/python scripts/eval_classify.py --cv      # honest grouped CV (retrains per fold)
    .venv/bin/python scripts/eval_classify.py --cv --errors --seeds 8  # + out-of-fold errors
    .venv/bin/python scripts/eval_classify.py --no-weights  # rules + example model only

When the shipped weights were trained on DEV, the DEV table is a training-set score and is
labelled so; `--cv` prints the cross-validated numbers from scripts/train_classifier.py.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

# One BLAS thread: the fits are small, and on a shared 2-core machine OpenBLAS threads
# only contend (a 3-seed CV took 6.7 min with them, ~1 min without).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from train_classifier import load_dev  # noqa: E402 - the one DEV loader (scripts/ is on sys.path)

from services.core.classify import Classifier  # noqa: E402
from services.core.classify_model import DEFAULT_WEIGHTS_PATH  # noqa: E402
from services.core.taxonomy import DEFAULT_TAXONOMY_PATH, load_taxonomy  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "news-items"
# (name, first line, last line) of items.jsonl, 1-based, from the corpus README.
EXTENSIONS = (
    ("2021-08/09 + 2022-03", 1, 1417),
    ("2021-10 .. 2022-02", 1418, 1708),
    ("2020 + 2023", 1709, 2308),
)
LABEL_KEYS = {"refugees": "refugees", "taliban-diplomacy": "taliban_diplomacy"}


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    unsure_pos: int = 0
    unsure_total: int = 0
    errors: list[tuple[str, str, float, str]] = field(default_factory=list)

    def add(self, gold: bool, pred: bool) -> None:
        if gold and pred:
            self.tp += 1
        elif pred:
            self.fp += 1
        elif gold:
            self.fn += 1
        else:
            self.tn += 1

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f


def extension_of(line: int) -> str:
    return next(name for name, lo, hi in EXTENSIONS if lo <= line <= hi)


def evaluate(clf: Classifier, slugs: list[str]) -> dict[tuple[str, str], Counts]:
    """Counts per (topic, extension or 'all')."""
    thresholds = {t.slug: t.threshold for t in clf.taxonomy.topics}
    table: dict[tuple[str, str], Counts] = {}
    for line, item, lab in load_dev():
        scores = {s.slug: s for s in clf.score_all(item["title"], item["description"])}
        for slug in slugs:
            gold = lab[LABEL_KEYS[slug]]
            score = scores[slug].score
            pred = score >= thresholds[slug]
            for key in ((slug, "all"), (slug, extension_of(line))):
                c = table.setdefault(key, Counts())
                if gold == "unsure":
                    c.unsure_total += 1
                    c.unsure_pos += pred
                    continue
                c.add(bool(gold), pred)
                if key[1] == "all" and bool(gold) != pred:
                    ev = ", ".join(e.value for e in scores[slug].evidence[:4])
                    kind = "FN" if gold else "FP"
                    c.errors.append((f"{kind} l.{line}", item["title"][:90], score, ev))
    return table


def render(
    console: Console, table: dict[tuple[str, str], Counts], slugs: list[str], title: str
) -> None:
    summary = Table(title=title)
    for col in ("topic", "subset", "TP", "FP", "FN", "P", "R", "F1", "unsure→pos"):
        summary.add_column(col)
    for slug in slugs:
        for subset in ("all", *(e[0] for e in EXTENSIONS)):
            c = table.get((slug, subset), Counts())
            p, r, f = c.prf()
            summary.add_row(
                slug, subset, str(c.tp), str(c.fp), str(c.fn),
                f"{p:.3f}", f"{r:.3f}", f"{f:.3f}", f"{c.unsure_pos}/{c.unsure_total}",
            )  # fmt: skip
    console.print(summary)
    for slug in slugs:
        errs = Table(title=f"misclassified: {slug}")
        for col in ("kind", "title", "score", "evidence"):
            errs.add_column(col)
        for kind, head, score, ev in table[(slug, "all")].errors:
            errs.add_row(kind, head, f"{score:.2f}", ev)
        console.print(errs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--floor", type=float, default=0.85, help="minimum F1 per topic")
    parser.add_argument("--topics", type=Path, default=DEFAULT_TAXONOMY_PATH)
    parser.add_argument("--cv", action="store_true", help="print grouped cross-validated P/R/F1")
    parser.add_argument("--seeds", type=int, nargs="+", default=[8, 9, 10], help="CV seeds")
    parser.add_argument("--errors", action="store_true", help="with --cv: list out-of-fold errors")
    parser.add_argument("--no-weights", action="store_true", help="ignore the trained weights")
    args = parser.parse_args(argv)
    if not (CORPUS / "dev-labels.jsonl").exists():
        print(f"corpus not found at {CORPUS}; it lives in ../shared", file=sys.stderr)
        return 2
    taxonomy = load_taxonomy(args.topics)
    if args.cv:
        sys.path.insert(0, str(ROOT / "scripts"))
        from train_classifier import Params, report_cv

        label = "rules + hashed text model"
        report_cv(taxonomy, Params(), args.seeds, label, show_errors=args.errors)
        return 0
    clf = Classifier(taxonomy, weights=None if args.no_weights else DEFAULT_WEIGHTS_PATH)
    slugs = [t.slug for t in clf.taxonomy.topics if t.slug in LABEL_KEYS]
    table = evaluate(clf, slugs)
    console = Console(width=200)
    trained_on_dev = bool(clf.learned_topics) and clf.weights_meta.get("trained_on") == "dev"
    title = "DEV per topic and extension (unsure excluded)"
    if trained_on_dev:
        title += " -- model TRAINED ON DEV: optimistic, see --cv"
        cv = clf.weights_meta.get("cv", {})
        for slug, res in cv.items():
            console.print(f"{slug}: grouped-CV F1 recorded at training: {res}")
    if clf.stale_topics:
        console.print(f"[yellow]rules changed since training: {clf.stale_topics}; retrain[/yellow]")
    render(console, table, slugs, title)
    worst = min(table[(s, "all")].prf()[2] for s in slugs)
    if worst < args.floor:
        console.print(f"[red]FAIL: lowest F1 {worst:.3f} < floor {args.floor}[/red]")
        return 1
    console.print(f"[green]OK: lowest F1 {worst:.3f} >= floor {args.floor}[/green]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
