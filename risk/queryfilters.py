"""The WHERE clauses every jurisdiction-scoped list of the risk room starts from."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from twins.regions import scope_prefix
from twins.scope import Scope


def scoped_where(
    scope: Scope,
    *,
    equals: Iterable[tuple[str, str | None]] = (),
    adcode: str | None = None,
    any_of: Iterable[tuple[str, Sequence[str]]] = (),
) -> tuple[list[str], list[Any]]:
    """Clauses and parameters: the caller's jurisdiction, then the filters that were given.

    A regulator sees everything under its adcode; an enterprise user or integrator its
    enterprises; ``adcode`` narrows to a region, ``equals`` to column values, ``any_of`` to sets.
    Column names are the callers' constants, never user input.
    """
    clauses: list[str] = []
    params: list[Any] = []
    if scope.role == "regulator":
        clauses.append("adcode LIKE %s")
        params.append((scope.adcode_prefix or "") + "%")
    elif scope.role != "admin":
        clauses.append("credit_code = ANY(%s)")
        params.append(sorted(scope.credit_codes))
    for column, value in equals:
        if value:
            clauses.append(f"{column} = %s")
            params.append(value)
    if adcode:
        clauses.append("adcode LIKE %s")
        params.append(scope_prefix(adcode) + "%")
    for column, values in any_of:
        if values:
            clauses.append(f"{column} = ANY(%s)")
            params.append(list(values))
    return clauses, params
