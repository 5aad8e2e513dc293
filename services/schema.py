"""The committed JSON Schema of the v1 article event. Regenerate: `python -m services.schema`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.core.models import SCHEMA_V1, ArticleEvent

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "article-event.v1.json"


def event_json_schema() -> dict[str, Any]:
    schema = ArticleEvent.model_json_schema(mode="serialization")
    schema["$id"] = f"https://newswire.invalid/schemas/{SCHEMA_V1}.json"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render() -> str:
    return json.dumps(event_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.parent.mkdir(exist_ok=True)
    SCHEMA_PATH.write_text(render(), "utf-8")
    print(f"wrote {SCHEMA_PATH}")
