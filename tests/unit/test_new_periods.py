from metawatch_dagster.automation.new_periods import plan_new_periods


def test_first_sight_loads_the_current_period_only():
    cursor, loads = plan_new_periods({}, {"us": 1024, "eu": 1024})
    assert cursor == {"us": 1024, "eu": 1024}
    assert loads == [("eu", 1024, "first"), ("us", 1024, "first")]


def test_a_us_reset_touches_only_the_us():
    cursor, loads = plan_new_periods({"us": 1024, "eu": 1024}, {"us": 1025, "eu": 1024})
    assert cursor == {"us": 1025, "eu": 1024}
    assert loads == [("us", 1025, "first"), ("us", 1024, "final")]


def test_nothing_new_is_a_no_op():
    cursor, loads = plan_new_periods({"us": 1025}, {"us": 1025})
    assert (cursor, loads) == ({"us": 1025}, [])
