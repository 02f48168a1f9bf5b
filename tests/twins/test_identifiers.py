"""GB 32100 credit codes: the check character is computed and verified."""

from __future__ import annotations

import random

from dusttwin.demo import demo_credit_code
from twins.identifiers import is_valid_credit_code


def test_published_example_code_is_valid() -> None:
    # The example printed in GB 32100-2015's explanatory material.
    assert is_valid_credit_code("91350100M000100Y43")


def test_any_single_changed_character_is_caught() -> None:
    code = demo_credit_code(random.Random(1), "310113")
    assert is_valid_credit_code(code)
    for i in range(17):
        replacement = "0" if code[i] != "0" else "1"
        assert not is_valid_credit_code(code[:i] + replacement + code[i + 1 :])


def test_letters_outside_the_alphabet_and_wrong_length_are_refused() -> None:
    assert not is_valid_credit_code("91350100M000100Y4")
    assert not is_valid_credit_code("91350100M000100YI3")  # I is not in the alphabet
    assert not is_valid_credit_code("91350100m000100y43")
