"""What a dbt test checks, in words: the description of its asset check in the Dagster UI, which
otherwise shows only generated names such as `accepted_values_fct_runs_upgrade_level__False__0__1__2__3`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_REF = re.compile(r"ref\('([^']+)'\)")


def describe_test(test: Mapping[str, Any]) -> str:
    """The test's own description when its YAML gives one, else one made from its kind and
    arguments (the generic tests this project uses; any other is named with its arguments)."""
    if test.get("description"):
        return test["description"]
    metadata = test.get("test_metadata") or {}
    kind = metadata.get("name")
    args = {k: v for k, v in (metadata.get("kwargs") or {}).items() if k != "model"}
    column = args.get("column_name")
    if kind == "not_null":
        return f"{column} is never null."
    if kind == "unique":
        return f"{column} is unique."
    if kind == "accepted_values":
        return f"{column} is one of {', '.join(map(str, args['values']))}."
    if kind == "relationships":
        parent = _REF.sub(r"\1", args["to"])
        return f"Every {column} is a {args['field']} of {parent}."
    if kind == "expression_is_true":
        return f"Every row has {args['expression']}."
    if kind == "unique_combination_of_columns":
        return f"({', '.join(args['combination_of_columns'])}) is unique."
    listed = ", ".join(f"{name}={value}" for name, value in sorted(args.items()))
    return f"dbt test {kind or test.get('name')}" + (f" ({listed})." if listed else ".")
