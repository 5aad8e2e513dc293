"""Running workers pick up config/topics.yaml changes without a restart."""

import os
import shutil
from pathlib import Path

import yaml

from workers.context import TopicsReloader

ROOT = Path(__file__).resolve().parents[2]


def test_classifier_is_rebuilt_when_the_taxonomy_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "topics.yaml"
    shutil.copy(ROOT / "config" / "topics.yaml", path)
    reloader = TopicsReloader(path)
    first = reloader.classifier()
    assert reloader.classifier() is first  # unchanged file: no rebuild

    document = yaml.safe_load(path.read_text("utf-8"))
    extra = dict(document["topics"][0])
    extra.update(slug="volcanoes", name="Volcanoes", description="Eruptions and their effects.")
    extra["rules"] = {"terms": [{"term": "volcano*", "weight": 4.0}]}
    document["topics"].append(extra)
    path.write_text(yaml.safe_dump(document, allow_unicode=True), "utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    second = reloader.classifier()
    assert second is not first
    slugs = {t.slug for t in second.score_all("Volcano erupts", "Lava reached the village.")}
    assert "volcanoes" in slugs
