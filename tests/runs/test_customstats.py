"""What a playbook reports through set_stats is read into bounded, typed tables."""

from appliance.jobs.ansible.customstats import MAX_RECORDS, MAX_TEXT, host_records


def test_host_records_reads_lists_and_single_records() -> None:
    data = {
        "appliance_checks": {
            "h1": [{"name": "disk", "status": "pass", "message": "12 GB free"}],
            "h2": {"name": "port", "status": "warn", "message": 18080},
        }
    }
    assert host_records(data, "appliance_checks") == {
        "h1": [{"name": "disk", "status": "pass", "message": "12 GB free"}],
        "h2": [{"name": "port", "status": "warn", "message": "18080"}],
    }


def test_host_records_ignores_what_is_not_a_table() -> None:
    assert host_records(None, "k") == {}
    assert host_records({"k": ["not", "a", "mapping"]}, "k") == {}
    assert host_records({"k": {"h": "text", "g": [1, 2]}}, "k") == {}
    assert host_records({"other": {"h": [{"a": 1}]}}, "k") == {}


def test_host_records_are_bounded() -> None:
    rows = [{"name": "x" * (MAX_TEXT + 50)}] * (MAX_RECORDS + 10)
    got = host_records({"k": {"h": rows}}, "k")["h"]
    assert len(got) == MAX_RECORDS
    assert len(got[0]["name"]) == MAX_TEXT
