"""The twins room's exception tree, documented in one place.

- ``TwinsError``: base of everything below.
- ``ThingNotFoundError``: no such thing, or not visible to the caller (same answer: existence is
  never leaked outside a jurisdiction).
- ``ThingConflictError``: a precondition (If-Match revision) failed, or the thing exists already;
  ``ThingExistsError`` when a registry code is taken.
- ``InvalidThingError``: a thingId, attribute or feature that breaks the twin model's rules.
- ``RqlSyntaxError`` / ``InvalidCursorError`` (in ``twins.rql`` / ``twins.search_sql``): a search
  the caller wrote wrongly.
"""


class TwinsError(Exception):
    """Base of every error the twins room raises on purpose."""


class ThingNotFoundError(TwinsError):
    """The thing does not exist, or the caller may not see it."""


class ThingConflictError(TwinsError):
    """A write lost to a newer revision (If-Match) or to an existing thing (If-None-Match)."""


class InvalidThingError(TwinsError):
    """A thing, thingId, attribute or feature that breaks the twin model's rules."""


class ThingExistsError(ThingConflictError):
    """A record with this code is registered already."""
