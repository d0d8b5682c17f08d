from __future__ import annotations

from doshit import task


@task()
def shout(text: str) -> str:
    return text.upper()
