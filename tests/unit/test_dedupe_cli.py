"""`newswire dedupe check` lines: same decision as the workers, clear errors on bad input."""

import json
from datetime import UTC, datetime

import pytest

from services.core.dedupe import DedupeItem, compare, decide
from services.core.models import FeedRef, RawEntry
from services.core.normalise import normalise
from services.dedupe_cli import dedupe_check_lines
from services.pipeline import near_signature

TEXT = (
    "Rescue teams in Kathmandu pulled 14 survivors from a collapsed hotel on Tuesday after a "
    "magnitude 6.1 earthquake struck Nepal, officials said."
)
A = {
    "title": "Nepal earthquake: 14 pulled alive from hotel",
    "description": TEXT,
    "link": "https://wire.example/quake",
    "published_at": "2021-09-20T10:00:00Z",
}
B = {
    "title": "Nepal earthquake: 14 pulled alive from hotel - BBC News",
    "summary": TEXT + " More soon.",
    "link": "https://www.bbc.co.uk/news/world-1?at_medium=RSS",
    "published_at": "2021-09-20T11:00:00Z",
}
C = {"title": "Central bank holds rates", "content": "Inflation cooled in August."}


def test_outputs_one_decision_per_line_in_order() -> None:
    lines = [json.dumps({"a": A, "b": B}), "", json.dumps({"a": A, "b": C})]
    out = [json.loads(line) for line in dedupe_check_lines(lines)]
    assert [o["duplicate"] for o in out] == [True, False]
    assert set(out[0]) == {"duplicate", "score", "method"}
    assert isinstance(out[0]["score"], float) and out[0]["method"] == "minhash"


def test_decision_is_exactly_the_workers() -> None:
    """The CLI's verdict equals decide() on the signatures the pipeline computes."""
    feed = FeedRef(id="f", url="https://f.example/rss")
    raws = [
        RawEntry(
            link=x["link"],
            title=x["title"],
            summary_html=x.get("description") or x["summary"],
            published_at=datetime(2021, 9, 20, h, tzinfo=UTC),
        )
        for x, h in ((A, 10), (B, 11))
    ]
    arts = [normalise(r, feed=feed, fetched_at=datetime.now(UTC)) for r in raws]
    assert arts[0] is not None and arts[1] is not None
    worker = decide(near_signature(arts[0]), near_signature(arts[1]))
    (line,) = dedupe_check_lines([json.dumps({"a": A, "b": B})])
    assert json.loads(line) == {
        "duplicate": worker.duplicate,
        "score": worker.score,
        "method": worker.method,
    }
    items = (
        DedupeItem(title=A["title"], text=TEXT, link=A["link"]),
        DedupeItem(title=C["title"], text=C["content"]),
    )
    assert compare(*items).duplicate is False


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "line 2: not JSON"),
        (json.dumps({"a": A}), 'line 2: expected an object {"a": item, "b": item}'),
        (
            json.dumps({"a": A, "b": {"description": "x"}}),
            'line 2: "b" must be an object with a string "title"',
        ),
        (
            json.dumps({"a": A, "b": {**C, "published_at": "yesterday"}}),
            "line 2: invalid published_at",
        ),
    ],
)
def test_bad_line_raises_value_error_with_its_number(line: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("{", r"\{").replace("}", r"\}")):
        list(dedupe_check_lines([json.dumps({"a": A, "b": C}), line]))
