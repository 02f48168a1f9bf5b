"""Reading Dash component trees in tests."""

from __future__ import annotations

from typing import Any


def walk(component: Any) -> list[Any]:
    """A component and everything below it, depth first."""
    found = [component]
    children = getattr(component, "children", None)
    if isinstance(children, list | tuple):
        for child in children:
            found += walk(child)
    elif children is not None and not isinstance(children, str | int | float):
        found += walk(children)
    return found
