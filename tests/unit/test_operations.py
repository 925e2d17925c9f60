import pytest

from metawatch_dagster.config import Settings
from metawatch_dagster.operations import PeriodSpec, parse_regions
from metawatch_dagster.partitions import PeriodRegion, parse_partition_key, partition_key
from metawatch_dagster.period_registry import periods_to_register


def test_period_spec_forms():
    assert PeriodSpec.parse("current") == PeriodSpec(latest=1)
    assert PeriodSpec.parse("latest:2") == PeriodSpec(latest=2)
    assert PeriodSpec.parse("1024") == PeriodSpec(first=1024, last=1024)
    assert PeriodSpec.parse("1020-1023") == PeriodSpec(first=1020, last=1023)


@pytest.mark.parametrize("text", ["1024-1020", "last", "10x", "", "latest:0"])
def test_period_spec_rejects_nonsense(text):
    with pytest.raises(ValueError):
        PeriodSpec.parse(text)


def test_regions_default_to_settings_and_reject_unknown():
    settings = Settings(regions=("us", "eu"))
    assert parse_regions("", settings) == ["us", "eu"]
    assert parse_regions("KR, tw", settings) == ["kr", "tw"]
    with pytest.raises(ValueError, match="cn"):
        parse_regions("us,cn", settings)


def test_regions_are_taken_once_in_the_order_given():
    assert parse_regions("eu,us,EU, us", Settings()) == ["eu", "us"]
    assert parse_regions("", Settings(regions=("tw", "us", "tw"))) == ["tw", "us"]


def test_partition_keys_read_period_then_region():
    assert partition_key(1024, "us") == "1024|us"
    assert parse_partition_key("1024|eu") == PeriodRegion(1024, "eu")
    with pytest.raises(ValueError):
        parse_partition_key("1024|cn")


def test_new_periods_append_when_newer():
    assert periods_to_register([1020, 1021], [1021, 1022, 1023]) == ([1022, 1023], False)
    assert periods_to_register([], [1022, 1020]) == ([1020, 1022], False)
    assert periods_to_register([1020, 1021], [1020]) == ([], False)


def test_older_period_reregisters_everything_in_order():
    assert periods_to_register([1020, 1021], [1019]) == ([1019, 1020, 1021], True)
