"""A parser for PHP-style nested form keys, as amoCRM sends its webhooks.

amoCRM posts ``application/x-www-form-urlencoded`` bodies whose keys use PHP's bracket syntax
(``leads[status][0][custom_fields][0][values][0][value]=Сайт``). PHP turns them into nested arrays;
:func:`parse_form` does the same, following PHP's rules where they matter for real payloads:

- ``a[b][c]=v`` nests; ``a[]=v`` appends with the next integer index (max integer key + 1, kept per group,
  so a body of ``n`` appends parses in O(n), not O(n²));
- a later value replaces an earlier one for the same path (a scalar replaced by a group and vice versa);
- a key whose first ``[`` is never closed is a plain name (PHP replaces that ``[`` with ``_``);
- text after the last closing bracket that does not open a new one is ignored (``a[b]x=1`` is ``a[b]``).

Every value stays a string (amoCRM sends only strings). :func:`as_list` reads a group whose keys are integer
indexes as a list in index order, which is how webhook items (``leads[status][0]``, ``[1]`` ...) are read.
Limits protect the intake from hostile bodies: depth, number of fields, key length.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import unquote_plus

MAX_DEPTH = 16
MAX_FIELDS = 20_000
MAX_KEY_LENGTH = 1_000
_CHUNK = re.compile("[^&]+")


class FormParseError(ValueError):
    """The body is not a form-encoded PHP-style structure we accept (bad encoding, too deep, too large)."""


def split_key(key: str) -> list[str]:
    """The path of a PHP-style key: ``"a[b][]"`` -> ``["a", "b", ""]`` (``""`` means "append")."""
    key = key.lstrip(" ")
    open_at = key.find("[")
    if open_at <= 0 or "]" not in key[open_at:]:
        # No brackets, a key starting with "[", or an unclosed first "[": PHP keeps the name as is.
        return [key.replace("[", "_", 1) if open_at > 0 else key]
    parts = [key[:open_at]]
    pos = open_at
    while pos < len(key) and key[pos] == "[":
        close_at = key.find("]", pos + 1)
        if close_at == -1:
            break  # PHP drops an unclosed trailing segment
        parts.append(key[pos + 1 : close_at])
        pos = close_at + 1
    if len(parts) - 1 > MAX_DEPTH:
        raise FormParseError(f"key nested deeper than {MAX_DEPTH} levels")
    return parts


def _is_index(key: str) -> bool:
    """PHP's integer keys: ASCII digits without a leading zero (``"²"`` or ``"07"`` stay string keys)."""
    return key.isascii() and key.isdigit() and (key == "0" or not key.startswith("0"))


def _assign(root: dict[str, Any], path: list[str], value: str, next_free: dict[int, int]) -> None:
    """Set ``path`` to ``value``; ``next_free`` maps ``id(group)`` to the group's next append index (PHP's
    ``nNextFreeElement``), updated on every integer key so that ``[]`` never scans the group."""
    node = root
    for depth, part in enumerate(path):
        name = str(next_free[id(node)]) if part == "" else part
        if _is_index(name):
            next_free[id(node)] = max(next_free[id(node)], int(name) + 1)
        if depth == len(path) - 1:
            node[name] = value
            return
        child = node.get(name)
        if not isinstance(child, dict):
            child = node[name] = {}
            # A new group: a replaced group's id may be reused by it, so its counter starts afresh here.
            next_free[id(child)] = 0
        node = child


def parse_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nested dicts built from decoded ``(key, value)`` pairs with PHP's bracket rules."""
    root: dict[str, Any] = {}
    next_free = {id(root): 0}
    for count, (key, value) in enumerate(pairs, start=1):
        if count > MAX_FIELDS:
            raise FormParseError(f"more than {MAX_FIELDS} fields")
        if not key:
            continue
        if len(key) > MAX_KEY_LENGTH:
            raise FormParseError("key too long")
        _assign(root, split_key(key), value, next_free)
    return root


def iter_pairs(body: bytes | str) -> Iterator[tuple[str, str]]:
    """The ``(key, value)`` pairs of a form-encoded body, percent- and plus-decoded as UTF-8, one at a time
    (so a caller that stops at ``MAX_FIELDS`` decodes no more than that).

    Raises ``FormParseError`` for bytes that are not UTF-8 once decoded (amoCRM always sends UTF-8).
    """
    if isinstance(body, bytes):
        try:
            body = body.decode("ascii")
        except UnicodeDecodeError:
            try:
                body = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FormParseError("body is not UTF-8") from exc
    for chunk in _CHUNK.finditer(body):
        key, _sep, value = chunk.group().partition("=")
        try:
            yield unquote_plus(key, errors="strict"), unquote_plus(value, errors="strict")
        except UnicodeDecodeError as exc:
            raise FormParseError("percent-encoded bytes are not UTF-8") from exc


def decode_pairs(body: bytes | str) -> list[tuple[str, str]]:
    """Every pair of :func:`iter_pairs` as a list."""
    return list(iter_pairs(body))


def parse_form(body: bytes | str) -> dict[str, Any]:
    """The nested structure of a form-encoded body with PHP-style keys (all leaves are strings)."""
    return parse_pairs(iter_pairs(body))


def as_list(group: Any) -> list[Any]:
    """A group indexed ``0..n`` as a list in index order; a scalar or a group with other keys -> ``[]``.

    Non-index keys are ignored, so ``{"0": a, "1": b}`` -> ``[a, b]`` and ``{"1": b, "0": a}`` -> ``[a, b]``.
    """
    if not isinstance(group, dict):
        return []
    return [group[k] for k in sorted((k for k in group if _is_index(k)), key=int)]
