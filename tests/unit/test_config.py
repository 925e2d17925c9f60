from pathlib import Path

import pytest

from metawatch_dagster.config import DEFAULT_API_URL, Settings


def test_defaults_from_an_empty_environment():
    settings = Settings.from_env({})
    assert settings.api_url == DEFAULT_API_URL
    assert settings.client_id is None
    assert settings.regions == ("us", "eu", "kr", "tw")
    assert settings.data_dir == Path("data").resolve()


def test_secret_stays_out_of_repr():
    settings = Settings.from_env(
        {
            "BLIZZARD_CLIENT_ID": "id",
            "BLIZZARD_CLIENT_SECRET": "s3cr3t-value",
            "METAWATCH_REGIONS": "eu",
        }
    )
    assert settings.client_secret == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings)
    assert settings.regions == ("eu",)


def test_unknown_region_is_a_clear_error():
    with pytest.raises(ValueError, match="METAWATCH_REGIONS"):
        Settings.from_env({"METAWATCH_REGIONS": "us,xx"})
