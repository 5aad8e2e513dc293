from pathlib import Path

import pytest

from services.core.errors import ConfigError
from services.feedlist import load_feeds

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(text, "utf-8")
    return path


def test_shipped_feeds_file_is_valid() -> None:
    feeds = load_feeds(ROOT / "config" / "feeds.yaml")
    assert len(feeds) >= 10
    assert all(f.url.startswith("https://") for f in feeds)
    assert len({f.id for f in feeds}) == len(feeds)


def test_entries_with_name_and_tags(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "feeds:\n  - url: https://a.example/rss\n    name: A\n    tags: [x, y]\n"
        "  - https://b.example/atom\n  - url: https://a.example/rss\n",
    )
    feeds = load_feeds(path)
    assert [f.url for f in feeds] == ["https://a.example/rss", "https://b.example/atom"]
    assert feeds[0].tags == ("x", "y")
    assert feeds[0].name == "A"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("feeds: [", "not valid YAML"),
        ("urls: []", "top-level 'feeds:'"),
        ("feeds:\n  - name: no url\n", r"feeds\[0\]\.url"),
        ("feeds:\n  - url: ftp://x.example/feed\n", "http"),
        ("feeds:\n  - 42\n", r"feeds\[0\]"),
    ],
)
def test_bad_files_name_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as info:
        load_feeds(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_feeds(tmp_path / "nope.yaml")
