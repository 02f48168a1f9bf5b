"""Which gateways and points are registered, as ingest needs them: cached, refreshed on demand.

A gateway's entry holds its enterprise's live points. Entries expire after a few seconds, and an
unknown point makes the entry reload at once (at most once a second), so a point registered a
moment ago is accepted at its first message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from psycopg_pool import AsyncConnectionPool

from connectors.protocol import PointSpec
from device_catalog import Catalog, UnknownIndicatorError

TTL_S = 15.0
RELOAD_AT_MOST_EVERY_S = 1.0


@dataclass
class GatewayEntry:
    """A registered gateway (or a name that is not one) and its enterprise's points."""

    credit_code: str
    gateway_id: str
    registered: bool
    points: dict[str, PointSpec] = field(default_factory=dict)
    loaded_at: float = 0.0

    @property
    def key(self) -> str:
        """``{credit_code}.{gateway_id}``: the gateway's username and dead-letter key."""
        return f"{self.credit_code}.{self.gateway_id}"

    @property
    def thing_id(self) -> str:
        """The gateway twin's thingId."""
        return f"dusttwin:gateway-{self.credit_code}-{self.gateway_id}"


class PointDirectory:
    """Registered gateways and points, from the twin store."""

    def __init__(self, pool: AsyncConnectionPool, catalog: Catalog, ttl_s: float = TTL_S) -> None:
        self.pool = pool
        self.catalog = catalog
        self.ttl_s = ttl_s
        self._entries: dict[tuple[str, str], GatewayEntry] = {}

    async def gateway(self, credit_code: str, gateway_id: str) -> GatewayEntry:
        """The gateway's entry, reloaded when older than the TTL."""
        entry = self._entries.get((credit_code, gateway_id))
        if entry is None or time.monotonic() - entry.loaded_at > self.ttl_s:
            entry = await self._load(credit_code, gateway_id)
        return entry

    async def reload_if_stale(self, entry: GatewayEntry) -> GatewayEntry:
        """Reload an entry that missed a point, unless it was loaded within the last second."""
        if time.monotonic() - entry.loaded_at < RELOAD_AT_MOST_EVERY_S:
            return entry
        return await self._load(entry.credit_code, entry.gateway_id)

    async def _load(self, credit_code: str, gateway_id: str) -> GatewayEntry:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT 1 FROM things WHERE thing_id = %s AND deleted_at IS NULL",
                (f"dusttwin:gateway-{credit_code}-{gateway_id}",),
            )
            registered = await cur.fetchone() is not None
            points: dict[str, PointSpec] = {}
            if registered:
                cur = await conn.execute(
                    "SELECT id, attributes FROM things WHERE kind = 'point' AND credit_code = %s"
                    " AND deleted_at IS NULL",
                    (credit_code,),
                )
                for point_id, attributes in await cur.fetchall():
                    spec = self._spec(int(point_id), attributes)
                    if spec is not None:
                        points[spec.code] = spec
        entry = GatewayEntry(credit_code, gateway_id, registered, points, time.monotonic())
        self._entries[(credit_code, gateway_id)] = entry
        return entry

    def _spec(self, point_id: int, attributes: dict[str, Any]) -> PointSpec | None:
        try:
            indicator = self.catalog.indicator(attributes["indicator"])
        except (KeyError, UnknownIndicatorError):
            return None  # a point the catalog no longer knows takes no data until it is fixed
        return PointSpec(
            point_id=point_id,
            code=attributes["point_code"],
            indicator=indicator.code,
            kind=indicator.kind,
            range_low=float(attributes["range_low"]),
            range_high=float(attributes["range_high"]),
            gateway_id=attributes.get("gateway_id"),
        )
