"""Unicode tables the dialects need to spell Python's case folding and number parsing in SQL."""

from __future__ import annotations

import re
import sys
import unicodedata
from array import array
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leadgate.engines.compiler.dialect import Dialect


# -- Unicode tables (Python's own definitions) ------------------------------------------------

_ASCII_SPACE = " \t\n\x0b\x0c\r"  # what float() strips from an ASCII string
_NUM_RE = r"[+-]?(?:[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?|\.[0-9](?:_?[0-9])*)(?:[eE][+-]?[0-9](?:_?[0-9])*)?"  # noqa: E501
_MAX_CP = 0x10FFFF
_SURROGATES = (0xD800, 0xDFFF)


def _code_points() -> Iterable[int]:
    return (cp for cp in range(_MAX_CP + 1) if not _SURROGATES[0] <= cp <= _SURROGATES[1])


_BLOCK = 1024


def _changed_by(method: Callable[[str], str]) -> list[str]:
    """Every character ``method`` (``str.lower``, ``str.casefold``) changes, in order.

    Whole blocks are asked first: a block the method leaves as it is holds no such
    character, so only the few blocks of cased scripts are looked at one by one.
    """
    chars = _all_chars()
    found: list[str] = []
    for start in range(0, len(chars), _BLOCK):
        block = chars[start : start + _BLOCK]
        if method(block) != block:
            found.extend(char for char in block if method(char) != char)
    return found


@lru_cache(maxsize=1)
def _all_chars() -> str:
    """Every code point but the surrogates, in order."""
    low, high = _SURROGATES
    points = array("I", range(low))
    assert points.itemsize == 4, "unsigned int is not 32 bits here"
    points.extend(range(high + 1, _MAX_CP + 1))
    return points.tobytes().decode("utf-32-le" if sys.byteorder == "little" else "utf-32-be")


@lru_cache(maxsize=1)
def _space_chars() -> str:
    """Every character ``str.isspace`` accepts (also what ``str.strip()`` removes)."""
    # re's \s is Py_UNICODE_ISSPACE, the very test str.isspace() makes
    return "".join(re.findall(r"\s", _all_chars()))


@lru_cache(maxsize=1)
def _decimal_chars() -> str:
    # re's \d is Unicode category Nd, the very set str.isdecimal() accepts
    return "".join(re.findall(r"\d", _all_chars()))


@lru_cache(maxsize=1)
def _number_translation() -> tuple[str, str]:
    """What ``float()`` does to a non-ASCII string first: Unicode spaces -> ' ', digits -> ASCII."""
    source, target = [], []
    for char in _space_chars():
        if ord(char) > 0x7F:
            source.append(char)
            target.append(" ")
    for char in _decimal_chars():
        if ord(char) > 0x7F:
            source.append(char)
            target.append(str(unicodedata.decimal(char)))
    return "".join(source), "".join(target)


@lru_cache(maxsize=1)
def _fold_map() -> tuple[tuple[str, str], ...]:
    """Characters that ``lower`` keeps but ``casefold`` changes, with their fold.

    ``casefold(s) == map(lower(s))`` character by character (checked against the
    engine's ``lower`` for every code point in the tests); U+0130 is replaced first
    because the engine lower-cases it to a plain ``i``.
    """
    return tuple(
        (char, char.casefold()) for char in _changed_by(str.casefold) if char.lower() == char
    )


@lru_cache(maxsize=1)
def _python_fold_map() -> tuple[tuple[str, str], ...]:
    """Every character ``casefold`` changes, with its fold (casefold is per character)."""
    return tuple((char, char.casefold()) for char in _changed_by(str.casefold))


@lru_cache(maxsize=1)
def _python_lower_map() -> tuple[tuple[str, str], ...]:
    """Every character ``lower`` changes, with its lower case (final sigma aside)."""
    return tuple((char, char.lower()) for char in _changed_by(str.lower))


def _mapped(d: Dialect, expr: str, mapping: Sequence[tuple[str, str]]) -> str:
    """``expr`` with each character replaced by its image: one translate for the
    one-character images, then one replace per longer image (images are fixed points)."""
    singles = [(k, v) for k, v in mapping if len(v) == 1]
    out = expr
    if singles:
        out = d.translate(
            out, d.text("".join(k for k, _ in singles)), d.text("".join(v for _, v in singles))
        )
    for key, value in mapping:
        if len(value) > 1:
            out = f"replace({out}, {d.text(key)}, {d.text(value)})"
    return out


# -- dialects -----------------------------------------------------------------------------------


def _needs_chr(char: str) -> bool:
    cp = ord(char)
    if cp < 0x20 or 0x7F <= cp <= 0x9F:
        return True
    if cp < 0x80:
        return False
    category = unicodedata.category(char)
    return char.isspace() or category in {"Cf", "Cc", "Co", "Cn", "Zl", "Zp", "Mn", "Me", "Mc"}
