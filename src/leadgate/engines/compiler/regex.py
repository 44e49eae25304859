"""Regular expressions: Python's own parse of a pattern -> an RE2 pattern with the same matches."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from leadgate.engines.compiler.text import _MAX_CP, _SURROGATES, _code_points
from leadgate.exceptions import UnsupportedConstructError

# -- regular expressions: Python's parse -> an RE2 pattern with the same matches ---------------

# Python's own regex parser and case tables (3.11+), exactly what re.compile uses.
_sre: Any = importlib.import_module("_sre")
_sre_c: Any = importlib.import_module("re._constants")
_sre_parse: Any = importlib.import_module("re._parser")
_casefix: Any = importlib.import_module("re._casefix")

Ranges = tuple[tuple[int, int], ...]


def _to_ranges(points: Iterable[int]) -> Ranges:
    out: list[tuple[int, int]] = []
    for cp in sorted(set(points)):
        if out and out[-1][1] + 1 == cp:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return tuple(out)


def _complement(ranges: Ranges) -> Ranges:
    out: list[tuple[int, int]] = []
    start = 0
    for lo, hi in ranges:
        if lo > start:
            out.append((start, lo - 1))
        start = hi + 1
    if start <= _MAX_CP:
        out.append((start, _MAX_CP))
    return tuple(out)


def _without_surrogates(ranges: Ranges) -> Ranges:
    s_lo, s_hi = _SURROGATES
    out: list[tuple[int, int]] = []
    for lo, hi in ranges:
        if hi < s_lo or lo > s_hi:
            out.append((lo, hi))
            continue
        if lo < s_lo:
            out.append((lo, s_lo - 1))
        if hi > s_hi:
            out.append((s_hi + 1, hi))
    return tuple(out)


def _contains(ranges: Ranges, cp: int) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


@lru_cache(maxsize=1)
def _case_orbits() -> dict[int, frozenset[int]]:
    """Characters related by any case mapping Python's ``re`` may use, grouped."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        parent[x] = root
        return root

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb

    extra: Mapping[int, tuple[int, ...]] = getattr(_casefix, "_EXTRA_CASES", {}) or {}
    for cp in _code_points():
        if not _sre.unicode_iscased(cp):
            continue
        char = chr(cp)
        parent.setdefault(cp, cp)
        for mapped in (char.lower(), char.upper(), char.casefold(), char.title()):
            if len(mapped) == 1 and mapped != char:
                union(cp, ord(mapped))
        lowered = _sre.unicode_tolower(cp)
        if lowered != cp:
            union(cp, lowered)
        for other in extra.get(lowered, ()):
            union(cp, other)
    groups: dict[int, set[int]] = {}
    for cp in list(parent):
        groups.setdefault(find(cp), set()).add(cp)
    orbits: dict[int, frozenset[int]] = {}
    for members in groups.values():
        frozen = frozenset(members)
        for cp in members:
            orbits[cp] = frozen
    return orbits


_CATEGORY_TEXT = {
    _sre_c.CATEGORY_DIGIT: r"\d",
    _sre_c.CATEGORY_NOT_DIGIT: r"\D",
    _sre_c.CATEGORY_SPACE: r"\s",
    _sre_c.CATEGORY_NOT_SPACE: r"\S",
    _sre_c.CATEGORY_WORD: r"\w",
    _sre_c.CATEGORY_NOT_WORD: r"\W",
}


@lru_cache(maxsize=8)
def _category_points(category: str) -> frozenset[int]:
    tests: dict[str, Callable[[str], bool]] = {
        r"\d": str.isdecimal,
        r"\s": str.isspace,
        r"\w": lambda c: c.isalnum() or c == "_",
    }
    positive = category.lower()
    points = frozenset(cp for cp in _code_points() if tests[positive](chr(cp)))
    if category == positive:
        return points
    return frozenset(cp for cp in _code_points() if cp not in points)


@lru_cache(maxsize=512)
def _char_class(python_class: str, ignorecase: bool, candidates: frozenset[int]) -> Ranges:
    """The exact set of characters the Python class matches, found by asking Python."""
    compiled = re.compile(python_class, re.IGNORECASE if ignorecase else 0)
    pool = set(candidates)
    if ignorecase:
        orbits = _case_orbits()
        for cp in candidates:
            orbit = orbits.get(cp)
            if orbit is not None:
                pool |= orbit
    matched = [cp for cp in pool if compiled.fullmatch(chr(cp))]
    return _without_surrogates(_to_ranges(matched))


@dataclass
class RegexTranslation:
    pattern: str
    sigma_sensitive: bool = False


class _RegexTranslator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sigma_sensitive = False

    def fail(self, what: str) -> UnsupportedConstructError:
        return UnsupportedConstructError(
            f"regex {self.source!r}: {what} cannot be expressed exactly in the engine's "
            "regular expressions (RE2)"
        )

    def translate(self) -> RegexTranslation:
        try:
            parsed = _sre_parse.parse(self.source, re.IGNORECASE)
        except re.error as exc:  # pragma: no cover - the loader already compiled it
            raise self.fail(f"invalid pattern ({exc})") from None
        flags = parsed.state.flags
        if flags & re.ASCII:
            raise self.fail("the ASCII flag")
        body = self.sequence(list(parsed), flags, tail=True)
        return RegexTranslation(body, self.sigma_sensitive)

    def sequence(self, items: list[Any], flags: int, *, tail: bool) -> str:
        parts = []
        for index, (op, av) in enumerate(items):
            parts.append(self.item(op, av, flags, tail=tail and index == len(items) - 1))
        return "".join(parts)

    def item(self, op: Any, av: Any, flags: int, *, tail: bool) -> str:
        c = _sre_c
        ignorecase = bool(flags & re.IGNORECASE)
        if op is c.LITERAL:
            return self.charset([(c.LITERAL, av)], negate=False, ignorecase=ignorecase)
        if op is c.NOT_LITERAL:
            return self.charset([(c.LITERAL, av)], negate=True, ignorecase=ignorecase)
        if op is c.IN:
            items = list(av)
            negate = bool(items) and items[0][0] is c.NEGATE
            if negate:
                items = items[1:]
            return self.charset(items, negate=negate, ignorecase=ignorecase)
        if op is c.CATEGORY:
            return self.charset([(c.CATEGORY, av)], negate=False, ignorecase=ignorecase)
        if op is c.ANY:
            if flags & re.DOTALL:
                return r"[\x{0}-\x{10FFFF}]"
            return self.emit_set(_without_surrogates(_complement(((10, 10),))))
        if op in (c.MAX_REPEAT, c.MIN_REPEAT):
            low, high, sub = av
            inner = self.sequence(list(sub), flags, tail=False)
            if low > 1000 or (high is not c.MAXREPEAT and high > 1000):
                raise self.fail(f"a repetition count above 1000 ({{{low},{high}}})")
            if high is c.MAXREPEAT:
                quant = "*" if low == 0 else "+" if low == 1 else f"{{{low},}}"
            elif (low, high) == (0, 1):
                quant = "?"
            else:
                quant = f"{{{low}}}" if low == high else f"{{{low},{high}}}"
            return f"(?:{inner}){quant}"
        if op is c.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if add_flags & re.ASCII:
                raise self.fail("the ASCII flag")
            inner_flags = (flags | add_flags) & ~del_flags
            return "(?:" + self.sequence(list(sub), inner_flags, tail=tail) + ")"
        if op is c.BRANCH:
            _, alternatives = av
            return (
                "(?:"
                + "|".join(self.sequence(list(alt), flags, tail=tail) for alt in alternatives)
                + ")"
            )
        if op is c.AT:
            multiline = bool(flags & re.MULTILINE)
            if av is c.AT_BEGINNING:
                return "(?m:^)" if multiline else r"\A"
            if av is c.AT_BEGINNING_STRING:
                return r"\A"
            if av is c.AT_END_STRING:
                return r"\z"
            if av is c.AT_END:
                if multiline:
                    return "(?m:$)"
                if tail:
                    return r"(?:\x{a}?\z)"
                raise self.fail("'$' followed by more of the pattern")
            raise self.fail(r"word boundaries (\b, \B)")
        names = {
            c.GROUPREF: "back references",
            c.GROUPREF_EXISTS: "conditional groups",
            c.ASSERT: "look-ahead/look-behind",
            c.ASSERT_NOT: "negative look-ahead/look-behind",
        }
        for name in ("POSSESSIVE_REPEAT", "ATOMIC_GROUP"):
            if hasattr(c, name) and op is getattr(c, name):
                raise self.fail("possessive quantifiers and atomic groups")
        raise self.fail(names.get(op, f"the construct {op}"))

    def charset(self, items: list[Any], *, negate: bool, ignorecase: bool) -> str:
        c = _sre_c
        text: list[str] = []
        candidates: set[int] = set()
        for op, av in items:
            if op is c.LITERAL:
                text.append(_py_class_char(av))
                candidates.add(av)
            elif op is c.RANGE:
                low, high = av
                text.append(f"{_py_class_char(low)}-{_py_class_char(high)}")
                candidates.update(range(low, high + 1))
            elif op is c.CATEGORY and av in _CATEGORY_TEXT:
                category = _CATEGORY_TEXT[av]
                text.append(category)
                candidates |= _category_points(category)
            else:
                raise self.fail(f"the class item {op} {av}")
        positive = _char_class("[" + "".join(text) + "]", ignorecase, frozenset(candidates))
        # Outside the candidates (and their case orbits) nothing matches the positive class,
        # so the negated class is exactly the complement.
        chosen = _without_surrogates(_complement(positive)) if negate else positive
        return self.emit_set(chosen)

    def emit_set(self, ranges: Ranges) -> str:
        if _contains(ranges, 0x3C3) != _contains(ranges, 0x3C2):
            self.sigma_sensitive = True
        if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
            return _re2_char(ranges[0][0], in_class=False)
        if not ranges:
            return r"[^\x{0}-\x{10FFFF}]"
        body = "".join(
            _re2_char(lo, in_class=True)
            if lo == hi
            else f"{_re2_char(lo, in_class=True)}-{_re2_char(hi, in_class=True)}"
            for lo, hi in ranges
        )
        return f"[{body}]"


def _py_class_char(cp: int) -> str:
    return re.escape(chr(cp)) if chr(cp) not in "\\]^-[" else "\\" + chr(cp)


def _re2_char(cp: int, *, in_class: bool) -> str:
    char = chr(cp)
    if char.isascii() and char.isalnum():
        return char
    return f"\\x{{{cp:x}}}"


@lru_cache(maxsize=256)
def translate_regex(pattern: str) -> RegexTranslation:
    """Python ``re.search(pattern, value, re.IGNORECASE)`` as an RE2 pattern, or raise."""
    return _RegexTranslator(pattern).translate()


# -- values -----------------------------------------------------------------------------------
