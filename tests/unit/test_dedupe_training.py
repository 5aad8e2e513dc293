"""The shipped pairwise dedupe model is what scripts/train_dedupe_model.py fits on the corpus."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

from services.core.dedupe_model import load_pair_model
from tests.conftest import ROOT, shared_path


@pytest.fixture(scope="module")
def trainer() -> ModuleType:
    shared_path("corpus", "news-items", "items.jsonl")
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        return importlib.import_module("train_dedupe_model")
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def test_shipped_weights_are_reproducible_from_the_tuning_pairs(
    trainer: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "model.json"
    monkeypatch.setattr(sys, "argv", ["train_dedupe_model.py", "--out", str(out)])
    assert trainer.main() == 0
    fresh, shipped = load_pair_model(out), load_pair_model()
    assert fresh.threshold == shipped.threshold
    assert fresh.weights == pytest.approx(shipped.weights, abs=1e-5)
    assert fresh.bias == pytest.approx(shipped.bias, abs=1e-5)
