"""Identifiers of protocol v1 §1 and the thingIds of §2, with their validation."""

from __future__ import annotations

import re

# GB 32100-2015 统一社会信用代码: 18 characters from this alphabet (no I, O, S, V, Z); the last is a
# check character over the first 17 with these weights, modulo 31.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_RE = re.compile(f"^[{CREDIT_CODE_ALPHABET}]{{18}}$")
ADCODE_RE = re.compile(r"^\d{6}$")
LOCAL_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
POINT_CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
NAMESPACE = "dusttwin"


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code."""
    total = sum(
        CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(first17, _CREDIT_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def is_valid_credit_code(code: str) -> bool:
    """True for an 18-character credit code whose check character is right."""
    return bool(_CREDIT_RE.match(code)) and credit_code_check_char(code[:17]) == code[17]
