import json

from services.schema import SCHEMA_PATH, event_json_schema, render


def test_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text("utf-8") == render(), (
        "schemas/article-event.v1.json is stale: run `make schema` and commit it"
    )


def test_schema_has_the_contract_fields() -> None:
    schema = event_json_schema()
    required = set(schema["required"])
    for name in (
        "id",
        "url",
        "canonical_url",
        "title",
        "summary",
        "fetched_at",
        "feed",
        "story",
        "content_hash",
    ):
        assert name in required
    for name in (
        "topics",
        "entities",
        "language",
        "authors",
        "published_at",
        "updated_at",
        "content_html",
    ):
        assert name in schema["properties"]
    json.dumps(schema)
