"""The words an asset check of a dbt test shows in the UI, made from the test's manifest node."""

from __future__ import annotations

import pytest

from metawatch_dagster.assets.dbt_test_descriptions import describe_test


def _test(kind: str | None, description: str = "", **kwargs) -> dict:
    metadata = {"name": kind, "kwargs": {**kwargs, "model": "{{ get_where_subquery(ref('m')) }}"}}
    return {"name": "a_test", "description": description, "test_metadata": metadata if kind else {}}


@pytest.mark.parametrize(
    ("test", "described"),
    [
        (_test("not_null", column_name="run_id"), "run_id is never null."),
        (_test("unique", column_name="run_id"), "run_id is unique."),
        (
            _test("accepted_values", column_name="upgrade_level", values=[0, 1, 2, 3]),
            "upgrade_level is one of 0, 1, 2, 3.",
        ),
        (
            _test("relationships", column_name="spec_id", to="ref('stg_specs')", field="spec_id"),
            "Every spec_id is a spec_id of stg_specs.",
        ),
        (
            _test("expression_is_true", expression="member_count = 5"),
            "Every row has member_count = 5.",
        ),
        (
            _test("unique_combination_of_columns", combination_of_columns=["period", "region"]),
            "(period, region) is unique.",
        ),
        (_test("at_least_one", column_name="x"), "dbt test at_least_one (column_name=x)."),
        (_test(None), "dbt test a_test."),
        (_test("not_null", "Said in the YAML.", column_name="x"), "Said in the YAML."),
    ],
)
def test_a_dbt_test_is_described_by_its_kind_and_arguments(test, described):
    assert describe_test(test) == described
