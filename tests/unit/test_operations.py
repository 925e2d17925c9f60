from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from metawatch_dagster import cli
from metawatch_dagster.blizzard.errors import BlizzardError, CredentialsRejected
from metawatch_dagster.config import Settings
from metawatch_dagster.files import atomic_write_json
from metawatch_dagster.jobs import PARTITION_JOB, REFERENCE_JOB, REPARSE_JOB
from metawatch_dagster.operations import Operator, PeriodSpec, parse_regions
from metawatch_dagster.partitions import (
    PeriodRegion,
    parse_partition_key,
    partition_key,
    period_region_partitions,
)
from metawatch_dagster.period_registry import periods_to_register
from metawatch_dagster.raw_archive import (
    EXTRACT_PREFIX,
    archive_path,
    bodies_in_place,
    body_files,
    is_packed,
)
from metawatch_dagster.raw_store import (
    MANIFEST_NAME,
    SNAPSHOT_PREFIX,
    SnapshotWriter,
    partition_dir,
)
from metawatch_dagster.reference import ReferenceStore


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


@dg.op
def reference_as_written() -> None:
    """Stands in for the reference refresh: the test writes the reference files itself."""


@dg.asset(partitions_def=period_region_partitions)
def partition_loaded() -> None:
    pass


DEFS = dg.Definitions(
    assets=[partition_loaded],
    jobs=[
        dg.GraphDefinition(name=REFERENCE_JOB, node_defs=[reference_as_written]).to_job(),
        dg.define_asset_job(PARTITION_JOB, selection=[partition_loaded]),
        dg.define_asset_job(REPARSE_JOB, selection=[partition_loaded]),
    ],
)


@pytest.fixture
def instance(tmp_path: Path):
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        yield instance


@pytest.fixture
def operator(instance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Operator:
    """The operator the `metawatch` command uses, over `instance` and a data folder where us knows
    periods 1020-1024 (1024 current) and lists 1025 ahead of it."""
    settings = Settings(regions=("us",), data_dir=tmp_path / "data")
    periods = [{"period": period} for period in range(1020, 1026)]
    atomic_write_json(
        ReferenceStore(settings.reference_dir).periods_path("us"),
        {"current_period": 1024, "periods": periods},
    )
    operator = Operator(instance, DEFS, settings)
    monkeypatch.setattr(cli, "_operator", lambda settings=None: operator)
    return operator


def partition_runs(instance: dg.DagsterInstance, job_name: str = PARTITION_JOB) -> list[str]:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name))
    return sorted(run.tags["dagster/partition"] for run in runs)


@pytest.mark.parametrize(
    ("period", "refused"),
    [("9999", "9999"), ("1025", "1025"), ("1-100000", "1-1019, 1025-100000")],
)
def test_a_load_of_periods_the_region_does_not_know_is_refused_before_any_is_registered(
    operator, instance, capsys, period, refused
):
    assert cli.main(["load", "--region", "us", "--period", period, "--no-publish"]) == 2

    assert capsys.readouterr().err == (
        f"metawatch: unknown or future periods in us: {refused} (known: 1020-1024, current: 1024)\n"
    )
    assert instance.get_dynamic_partitions("period") == []
    assert partition_runs(instance) == []


def test_a_load_of_known_periods_registers_and_runs_them(operator, instance, capsys):
    assert cli.main(["load", "--region", "us", "--period", "1023-1024", "--no-publish"]) == 0

    assert "registered periods 1023, 1024\n" in capsys.readouterr().out
    assert instance.get_dynamic_partitions("period") == ["1023", "1024"]
    assert partition_runs(instance) == ["1023|us", "1024|us"]


@pytest.fixture
def held(operator: Operator) -> None:
    """Raw snapshots of us 1022-1024 and of eu 1024, whose reference files are not held."""
    for region, period in [("us", 1022), ("us", 1023), ("us", 1024), ("eu", 1024)]:
        snapshot = partition_dir(operator.settings.raw_dir, region, period) / (
            f"{SNAPSHOT_PREFIX}20260101T000000000000Z"
        )
        snapshot.mkdir(parents=True)
        (snapshot / MANIFEST_NAME).write_text("{}")


@pytest.mark.parametrize(
    ("period", "rebuilt"),
    [
        ("current", ["1024|us"]),
        ("latest:2", ["1023|us", "1024|us"]),
        ("", ["1022|us", "1023|us", "1024|us"]),
    ],
)
def test_a_rebuild_of_the_latest_periods_reads_them_from_the_reference_held(
    held, instance, monkeypatch, period, rebuilt
):
    monkeypatch.setenv("METAWATCH_REGIONS", "us")  # the default regions, though eu is held too

    assert cli.main(["rebuild", "--period", period, "--no-publish"]) == 0

    assert partition_runs(instance, REPARSE_JOB) == rebuilt


def test_a_rebuild_of_the_latest_periods_without_their_reference_is_refused(
    held, operator, instance, capsys
):
    assert cli.main(["rebuild", "--region", "eu", "--period", "current", "--no-publish"]) == 2

    periods_file = operator.settings.reference_dir / "eu" / "periods.json"
    assert capsys.readouterr().err == (
        f"metawatch: periods of eu not fetched yet ({periods_file}); materialize reference_files"
        " (`metawatch load` does that for the regions in METAWATCH_REGIONS)\n"
    )
    assert instance.get_dynamic_partitions("period") == []
    assert partition_runs(instance, REPARSE_JOB) == []


@dg.op
def token_refused() -> None:
    raise CredentialsRejected(
        "POST http://127.0.0.1:9/oauth/token answered 401: check BLIZZARD_CLIENT_ID /"
        " BLIZZARD_CLIENT_SECRET"
    )


@dg.op
def no_credentials() -> None:
    raise dg.Failure("BLIZZARD_CLIENT_ID and BLIZZARD_CLIENT_SECRET are not set")


@dg.op
def board_forbidden() -> None:
    raise BlizzardError(
        "GET http://127.0.0.1:9/data/wow/x?namespace=dynamic-us&locale=en_US answered 403"
    )


@dg.op
def query_failed() -> None:
    try:
        int("abc")
    except ValueError as error:
        raise RuntimeError("Conversion Error: abc is not a number\nLINE 1: SELECT ...") from error


@pytest.mark.parametrize(
    ("op", "shown"),
    [
        (
            token_refused,
            "CredentialsRejected: POST http://127.0.0.1:9/oauth/token answered 401: check"
            " BLIZZARD_CLIENT_ID / BLIZZARD_CLIENT_SECRET",
        ),
        (no_credentials, "Failure: BLIZZARD_CLIENT_ID and BLIZZARD_CLIENT_SECRET are not set"),
        (board_forbidden, "BlizzardError: GET http://127.0.0.1:9/data/wow/x answered 403"),
        (query_failed, "RuntimeError: Conversion Error: abc is not a number"),
    ],
)
def test_a_failed_step_shows_its_own_error_in_a_line_and_its_trace_in_the_log_file(
    instance, tmp_path, capsys, op, shown
):
    job = dg.GraphDefinition(name=REFERENCE_JOB, node_defs=[op]).to_job()
    lines: list[str] = []
    operator = Operator(
        instance, dg.Definitions(jobs=[job]), Settings(data_dir=tmp_path / "data"), lines.append
    )

    assert not operator.refresh_reference()

    assert lines[0] == "reference: periods, seasons, realms, dungeons, specs"
    assert lines[1].startswith("  FAILED  reference (")
    assert lines[1].endswith(f"failed steps: {op.name}; output in {operator.log_path})")
    assert lines[2:] == [f"    {op.name}: {shown}"]
    assert capsys.readouterr() == ("", ""), "nothing but the lines above reaches the terminal"
    assert f", in {op.name}\n" in operator.log_path.read_text(), "the trace is in the log file"


class UnreachableStore(dg.ConfigurableResource):
    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        raise ConnectionRefusedError("store.example:5432 refused the connection")


@dg.asset
def needs_the_store(store: UnreachableStore) -> None:
    pass


def test_a_run_that_fails_before_any_step_shows_the_run_s_own_error(instance, tmp_path, capsys):
    defs = dg.Definitions(
        assets=[needs_the_store],
        resources={"store": UnreachableStore()},
        jobs=[dg.define_asset_job(REFERENCE_JOB, selection=[needs_the_store])],
    )
    lines: list[str] = []
    operator = Operator(instance, defs, Settings(data_dir=tmp_path / "data"), lines.append)

    assert not operator.refresh_reference()

    assert lines[1].startswith("  FAILED  reference (")
    assert lines[1].endswith(f"failed steps: none; output in {operator.log_path})")
    assert lines[2:] == [
        "    run: ConnectionRefusedError: store.example:5432 refused the connection"
    ]
    assert capsys.readouterr() == ("", "")


@dg.asset(
    check_specs=[
        dg.AssetCheckSpec("bodies_readable", asset="boards_written"),
        dg.AssetCheckSpec("few_warnings", asset="boards_written"),
    ]
)
def boards_written():
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(
        check_name="bodies_readable",
        passed=False,
        metadata={"boards_with_unreadable_body": 1, "bodies": ["a", "b"]},
    )
    yield dg.AssetCheckResult(
        check_name="few_warnings", passed=False, severity=dg.AssetCheckSeverity.WARN
    )


def test_a_run_that_succeeds_with_a_failed_check_shows_the_check_and_ends_the_command_with_1(
    instance, tmp_path
):
    defs = dg.Definitions(
        assets=[boards_written],
        jobs=[dg.define_asset_job(REFERENCE_JOB, selection=[boards_written])],
    )
    lines: list[str] = []
    operator = Operator(instance, defs, Settings(data_dir=tmp_path / "data"), lines.append)

    assert operator.refresh_reference()
    assert operator.exit_status(True) == 1

    assert lines[1].startswith("  ok      reference (")
    assert lines[2:] == [
        "    check failed: boards_written bodies_readable (boards_with_unreadable_body=1);"
        " see the run in the Dagster UI",
        "failed error-severity checks (1): reference: boards_written bodies_readable;"
        " the data is stored, but not all of it is right",
    ]


def test_a_command_whose_runs_succeeded_and_passed_their_checks_ends_with_0(instance, tmp_path):
    lines: list[str] = []
    operator = Operator(instance, DEFS, Settings(data_dir=tmp_path / "data"), lines.append)

    assert operator.exit_status(True) == 0
    assert operator.exit_status(False) == 1
    assert lines == []


def test_pack_packs_the_ended_weeks_and_says_which_it_left_and_why(operator, monkeypatch, capsys):
    settings = operator.settings
    monkeypatch.setenv("METAWATCH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("METAWATCH_REGIONS", "us")
    for period in (1022, 1023, 1024):
        with SnapshotWriter(settings.raw_dir, "us", period) as snapshot:
            snapshot.add(1, 503, "200", b'{"leading_groups": []}', None, datetime.now(UTC))
    with SnapshotWriter(settings.raw_dir, "us", 1021) as snapshot:
        snapshot.add(1, 503, "404", None, None, datetime.now(UTC))

    with bodies_in_place(settings.raw_dir, "us", 1023):
        assert cli.main(["pack"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "  kept    1021|us: no body to pack (no board answered 200)"
    assert lines[1].startswith("  packed  1022|us: 1 bodies, ")
    assert lines[2:] == [
        "  FAILED  1023|us: a run is reading or writing its bodies; pack it once that run has ended",
        "  kept    1024|us: its week has not ended (current: 1024)",
    ]
    # A rebuild of the packed week was killed before removing its extract.
    abandoned = partition_dir(settings.raw_dir, "us", 1022) / f"{EXTRACT_PREFIX}stopped"
    (abandoned / "snapshot=x" / "boards").mkdir(parents=True)
    assert cli.main(["pack", "--period", "1022-1023"]) == 0
    again = capsys.readouterr().out.splitlines()
    assert again[0] == "  kept    1022|us: packed already (removed 1 extracts a stopped run left)"
    assert again[1].startswith("  packed  1023|us: 1 bodies, ")
    assert not abandoned.exists()
    assert [is_packed(settings.raw_dir, "us", p) for p in (1022, 1023, 1024)] == [
        True,
        True,
        False,
    ]


def test_pack_names_a_week_it_could_not_pack_packs_the_next_and_ends_with_1(
    operator, monkeypatch, capsys
):
    settings = operator.settings
    monkeypatch.setenv("METAWATCH_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("METAWATCH_REGIONS", "us")
    for period in (1022, 1023):
        with SnapshotWriter(settings.raw_dir, "us", period) as snapshot:
            snapshot.add(1, 503, "200", b'{"leading_groups": []}', None, datetime.now(UTC))
    # A power loss left 1022's archive empty, its bodies still in place.
    archive_path(settings.raw_dir, "us", 1022).touch()
    [body] = body_files(settings.raw_dir, "us", 1022)
    stored = body.read_bytes()

    assert cli.main(["pack"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "  FAILED  1022|us: ReadError: not an lzma file"
    assert lines[1].startswith("  packed  1023|us: 1 bodies, ")
    assert is_packed(settings.raw_dir, "us", 1023)
    assert body_files(settings.raw_dir, "us", 1022) == [body] and body.read_bytes() == stored
