"""Who may see and change which twins: roles, jurisdictions and the Ditto policies that say so.

A regulator sees everything under its adcode (the Ministry, ``000000``, everything); an enterprise
its own plant; an integrator the enterprises that engaged it; an admin everything. Outside its
scope a caller is told "not found", never "forbidden": existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from psycopg import sql

from twins.model import Json, TwinKind
from twins.regions import MINISTRY_SCOPE, ancestry, scope_prefix

Role = Literal["admin", "regulator", "enterprise", "integrator"]
ThingPart = Literal["attributes", "features", "definition", "policy"]

# What each role may change, per twin kind (reading follows the jurisdiction alone). Features are
# live state written by the platform itself; only an admin may set them through the API.
WRITABLE: dict[Role, dict[ThingPart, frozenset[TwinKind]]] = {
    "admin": {
        "attributes": frozenset(
            {"region", "enterprise", "system", "gateway", "point", "camera", "other"}
        ),
        "features": frozenset(
            {"region", "enterprise", "system", "gateway", "point", "camera", "other"}
        ),
        "definition": frozenset({"other"}),
        "policy": frozenset(),
    },
    "regulator": {
        "attributes": frozenset({"enterprise", "system"}),
        "features": frozenset(),
        "definition": frozenset(),
        "policy": frozenset(),
    },
    "enterprise": {
        "attributes": frozenset({"enterprise", "system", "point", "camera"}),
        "features": frozenset(),
        "definition": frozenset(),
        "policy": frozenset(),
    },
    "integrator": {
        "attributes": frozenset({"system", "gateway", "point", "camera"}),
        "features": frozenset(),
        "definition": frozenset(),
        "policy": frozenset(),
    },
}
# Whole twins (create, replace, delete) of each kind, per role.
MANAGEABLE: dict[Role, frozenset[TwinKind]] = {
    "admin": frozenset({"region", "enterprise", "system", "gateway", "point", "camera", "other"}),
    "regulator": frozenset({"enterprise", "system"}),
    "enterprise": frozenset({"system", "point", "camera"}),
    "integrator": frozenset({"system", "gateway", "point", "camera"}),
}


@dataclass(frozen=True)
class Scope:
    """A caller's jurisdiction, as the store filters by it."""

    role: Role
    username: str
    adcode_prefix: str | None = None  # regulators: "" is the whole country
    credit_codes: frozenset[str] = field(default_factory=frozenset)  # enterprise, integrator

    @classmethod
    def admin(cls, username: str = "system") -> Scope:
        """Everything (the platform's own jobs, admins)."""
        return cls("admin", username)

    @classmethod
    def regulator(cls, username: str, scope_code: str) -> Scope:
        """Everything under an adcode; ``000000`` is the whole country."""
        return cls("regulator", username, adcode_prefix=scope_prefix(scope_code))

    @classmethod
    def enterprise(cls, username: str, credit_code: str) -> Scope:
        """One enterprise's own twins."""
        return cls("enterprise", username, credit_codes=frozenset({credit_code}))

    @classmethod
    def integrator(cls, username: str, granted: frozenset[str]) -> Scope:
        """The enterprises that engaged this integrator."""
        return cls("integrator", username, credit_codes=granted)

    def sees(self, kind: TwinKind, adcode: str | None, credit_code: str | None) -> bool:
        """Whether a twin with these keys lies within the scope."""
        if self.role == "admin":
            return True
        if kind == "other":
            return False
        if self.role == "regulator":
            return adcode is not None and adcode.startswith(self.adcode_prefix or "")
        return credit_code is not None and credit_code in self.credit_codes

    def may_write(self, kind: TwinKind, part: ThingPart) -> bool:
        """Whether the role may change this part of a twin of this kind."""
        return kind in WRITABLE[self.role][part]

    def may_manage(self, kind: TwinKind) -> bool:
        """Whether the role may create, replace or delete twins of this kind."""
        return kind in MANAGEABLE[self.role]

    def where(self) -> sql.Composable:
        """The SQL condition over ``things`` that keeps only what the scope sees (live twins)."""
        live = sql.SQL("deleted_at IS NULL")
        if self.role == "admin":
            return live
        if self.role == "regulator":
            return sql.SQL("{} AND kind <> 'other' AND adcode LIKE {}").format(
                live, sql.Literal(_like_prefix(self.adcode_prefix or ""))
            )
        return sql.SQL("{} AND kind <> 'other' AND credit_code = ANY({})").format(
            live, sql.Literal(sorted(self.credit_codes))
        )


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def policy_for(
    thing_id: str,
    kind: TwinKind,
    adcode: str | None,
    credit_code: str | None,
    integrators: list[str],
) -> Json:
    """The Ditto policy that expresses who may read and write a twin, as the store enforces it."""

    def grants(role: Role) -> dict[str, Any]:
        resources: dict[str, Any] = {"thing:/": {"grant": ["READ"], "revoke": []}}
        for part in ("attributes", "features"):
            if kind in WRITABLE[role][part]:
                resources[f"thing:/{part}"] = {"grant": ["READ", "WRITE"], "revoke": []}
        return resources

    entries: Json = {
        "ADMIN": {
            "subjects": {"dusttwin:role-admin": {"type": "dusttwin role"}},
            "resources": {
                "thing:/": {"grant": ["READ", "WRITE"], "revoke": []},
                "policy:/": {"grant": ["READ", "WRITE"], "revoke": []},
            },
        }
    }
    if kind != "other" and adcode is not None:
        covering = [MINISTRY_SCOPE] + [r.adcode for r in ancestry(adcode) if r.level != "country"]
        entries["REGULATOR"] = {
            "subjects": {f"dusttwin:regulator-{c}": {"type": "regulator scope"} for c in covering},
            "resources": grants("regulator"),
        }
    if kind not in ("other", "region") and credit_code is not None:
        entries["ENTERPRISE"] = {
            "subjects": {f"dusttwin:enterprise-{credit_code}": {"type": "enterprise"}},
            "resources": grants("enterprise"),
        }
        if integrators:
            entries["INTEGRATOR"] = {
                "subjects": {
                    f"dusttwin:integrator-{u}": {"type": "integrator"} for u in integrators
                },
                "resources": grants("integrator"),
            }
    return {"policyId": thing_id, "entries": entries}
