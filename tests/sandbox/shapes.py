"""Recursive shape comparison: same keys, nesting and value types as a real response."""

from __future__ import annotations

from typing import Any


def shape_differences(
    real: Any, ours: Any, path: str = "$", optional: frozenset[str] = frozenset()
) -> list[str]:
    """Every place where ``ours`` differs in shape from ``real``; keys in ``optional`` may be missing
    on either side (e.g. ``mythic_rating``, absent before 2021)."""
    if isinstance(real, dict):
        if not isinstance(ours, dict):
            return [f"{path}: object expected, got {type(ours).__name__}"]
        problems = []
        for key in sorted(set(real) | set(ours)):
            if key not in ours or key not in real:
                if key not in optional:
                    side = "missing" if key not in ours else "unexpected"
                    problems.append(f"{path}.{key}: {side}")
                continue
            problems += shape_differences(real[key], ours[key], f"{path}.{key}", optional)
        return problems
    if isinstance(real, list):
        if not isinstance(ours, list):
            return [f"{path}: array expected, got {type(ours).__name__}"]
        if real and not ours:
            return [f"{path}: empty where the real response has items"]
        problems = []
        for i, item in enumerate(ours):
            problems += shape_differences(real[0], item, f"{path}[{i}]", optional)
            if len(problems) > 20:
                break
        return problems
    if _kind(real) != _kind(ours) and not _zero_may_be_float(real, ours):
        return [f"{path}: {_kind(real)} expected, got {_kind(ours)} ({ours!r})"]
    return []


def _kind(value: Any) -> str:
    return "bool" if isinstance(value, bool) else type(value).__name__


def _zero_may_be_float(real: Any, ours: Any) -> bool:
    """JSON writes a double 0.0 as 0 (the rating of an untimed run): it says nothing about the type."""
    return _kind(real) == "int" and real == 0 and _kind(ours) == "float"
