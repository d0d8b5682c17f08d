"""Reading schema/vectors/*.json in place, with their tagged values turned into Python values."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from .conftest import VECTORS


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


def untag(value: Any) -> Any:
    """{"$datetime": ...}, {"$bigint": ...} and {"$float": ...} as Python values."""
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, text), *_ = value.items()
            if tag == "$datetime":
                return datetime.fromisoformat(text.replace("Z", "+00:00"))
            if tag == "$bigint":
                return int(text)
            if tag == "$float":
                return float(text)
        return {k: untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untag(v) for v in value]
    return value


def ids(cases: list[dict[str, Any]]) -> list[str]:
    return [case["name"] for case in cases]
