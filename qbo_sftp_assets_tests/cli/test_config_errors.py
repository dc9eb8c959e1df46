"""Each kind of configuration mistake gives one readable message: the key path, what is wrong, the fix."""

import pytest
import yaml

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.config import ConfigError, load_config, parse_config
from qbo_sftp_assets_tests.paths import REPOSITORY

EXAMPLES = REPOSITORY / "examples"


def valid() -> dict:
    return {
        "companies": {"northwind": {"realm_id": "123145", "environment": "sandbox"}},
        "partners": {
            "acme": {
                "company": "northwind",
                "sftp": {
                    "host": "127.0.0.1",
                    "user": "qbo",
                    "auth": {"password_env": "ACME_PASSWORD"},
                    "host_keys": ["SHA256:abc"],
                },
                "outbound": {"weekly": {"entities": ["bills"], "schedule": "0 6 * * 1", "timezone": "America/Chicago"}},
            }
        },
    }


def acme(config: dict) -> dict:
    return config["partners"]["acme"]


VALID = yaml.safe_dump(valid())


def problems_of(config: dict | str) -> str:
    text = config if isinstance(config, str) else yaml.safe_dump(config)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="test.yaml")
    message = str(caught.value)
    assert "Traceback" not in message and "pydantic" not in message.lower()
    return message


def test_the_valid_sample_loads():
    config = parse_config(VALID)
    assert config.partner("acme").outbound["weekly"].timezone == "America/Chicago"
    assert config.company_of("acme").realm_id == "123145"


def test_shipped_example_config_is_valid():
    config = load_config(EXAMPLES / "qbo_sftp.example.yaml")
    assert set(config.partners) == {"acme_steel", "legacy_erp"}


def test_missing_key_names_its_path():
    config = valid()
    del acme(config)["sftp"]["user"]
    message = problems_of(config)
    assert "partners.acme.sftp.user: required key is missing; add `user: ...` here" in message


def test_wrong_type_names_path_and_value():
    config = valid()
    acme(config)["sftp"]["port"] = "twenty-two"
    message = problems_of(config)
    assert "partners.acme.sftp.port: must be a whole number, got 'twenty-two'" in message


def test_unknown_company_reference_suggests_the_closest():
    config = valid()
    acme(config)["company"] = "northwnd"
    message = problems_of(config)
    assert "partners.acme.company: unknown company 'northwnd'; did you mean 'northwind'?" in message


def test_unknown_key_suggests_the_closest():
    config = valid()
    acme(config)["sftp"]["usr"] = "qbo"
    message = problems_of(config)
    assert "partners.acme.sftp.usr: unknown key; did you mean 'user'?" in message


def test_inline_secret_is_refused_and_not_echoed():
    config = valid()
    acme(config)["sftp"]["auth"] = {"password": "hunter2"}
    message = problems_of(config)
    assert "partners.acme.sftp.auth.password: a secret must not be written in the file" in message
    assert "password_env: SOME_VARIABLE" in message
    assert "hunter2" not in message


def test_inline_private_key_is_refused():
    config = valid()
    acme(config)["sftp"]["auth"] = {"key_file": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn..."}
    message = problems_of(config)
    assert "a private key must not be written in the file" in message


def test_bad_cron_names_the_field():
    config = valid()
    acme(config)["outbound"]["weekly"]["schedule"] = "0 6 * * Monday"
    message = problems_of(config)
    assert "partners.acme.outbound.weekly.schedule:" in message
    assert "the day of week field 'Monday'" in message


def test_cron_with_wrong_field_count_shows_an_example():
    config = valid()
    acme(config)["outbound"]["weekly"]["schedule"] = "every monday"
    message = problems_of(config)
    assert "needs 5 fields" in message and "'0 6 * * 1'" in message


def test_bad_time_zone_names_the_fix():
    config = valid()
    acme(config)["outbound"]["weekly"]["timezone"] = "America/Chicag0"
    message = problems_of(config)
    assert "partners.acme.outbound.weekly.timezone: 'America/Chicag0' is not an IANA time zone" in message


def test_several_problems_are_reported_together():
    config = valid()
    acme(config)["outbound"]["weekly"].update(timezone="Mars/Olympus", schedule="61 * * * *")
    message = problems_of(config)
    assert "2 problems" in message
    assert "minute field '61' is out of range" in message


def test_invalid_yaml_gives_line_and_column():
    message = problems_of("companies:\n  a: [unclosed\n")
    assert message.startswith("test.yaml:")
    assert "not valid YAML" in message


def test_layout_reference_must_exist():
    config = valid()
    acme(config)["inbound"] = [{"pattern": "*.csv", "format": "csv", "layout": "nope"}]
    message = problems_of(config)
    assert "partners.acme.inbound.0.layout: unknown layout 'nope'" in message


def test_x12_rule_needs_x12_identities():
    config = valid()
    acme(config)["inbound"] = [{"pattern": "*.edi", "format": "x12"}]
    assert "partners.acme.x12: an x12 inbound rule needs the x12 identities" in problems_of(config)


def test_config_check_command_prints_path_and_fix_and_exits_non_zero(capsys):
    code = main(["config", "check", str(EXAMPLES / "qbo_sftp.broken.yaml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "partners.acme_steel.sftp.port: must be a whole number" in err
    assert "password_env: SOME_VARIABLE" in err
    assert "hunter2" not in err
    # Every problem in one pass: the company typo too, while the rest of the file does not validate.
    assert "partners.acme_steel.company: unknown company 'northwnd'; did you mean 'northwind'?" in err


def test_config_check_command_accepts_a_good_file(capsys):
    assert main(["config", "check", str(EXAMPLES / "qbo_sftp.example.yaml")]) == 0
    assert "OK" in capsys.readouterr().out


def test_config_path_comes_from_environment(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.yaml"
    path.write_text(VALID)
    monkeypatch.setenv("QBO_SFTP_CONFIG", str(path))
    assert load_config().partners["acme"].sftp.user == "qbo"


def test_missing_file_says_how_to_fix(tmp_path):
    with pytest.raises(ConfigError, match="no configuration file here"):
        load_config(tmp_path / "absent.yaml")


def test_layout_mistakes_name_the_layout_field_and_suggest_the_key():
    config = valid()
    config["layouts"] = {
        "ap": {
            "kind": "fixed",
            "records": {"D": {"role": "detail", "fields": [{"name": "x", "strt": 1, "length": 2}]}},
        },
        "gl": {"delimiter": ";", "colums": {}},
        "odd": {"kind": "xml"},
    }
    message = problems_of(config)
    assert "layouts.ap.records.D.fields.0.strt: unknown key; did you mean 'start'?" in message
    assert "layouts.gl.colums: unknown key; did you mean 'columns'?" in message
    assert "layouts.odd: 'xml' is not a layout kind; use kind: csv or kind: fixed" in message


def test_unknown_partner_reference_names_the_partners_there_are(capsys, tmp_path):
    path = tmp_path / "qbo_sftp.yaml"
    path.write_text(VALID)
    assert main(["--config", str(path), "sftp", "check", "acm"]) != 0
    err = capsys.readouterr().err
    assert "unknown partner 'acm'; did you mean 'acme'? (known: acme)" in err


def test_mapping_section_typos_and_contradictions_are_named():
    config = valid()
    acme(config)["mapping"] = {"accounts": {"table": {"6999": "Misc"}, "defualt_expense": "Shop Supplies"}}
    message = problems_of(config)
    assert "partners.acme.mapping.accounts.defualt_expense: unknown key; did you mean 'default_expense'?" in message
    acme(config)["mapping"] = {
        "vendors": {"match": ["acct_num", "acct_num"], "table": {"V1": "Vendor One"}},
        "classes": {"tracking": "off", "default": "Welding"},
    }
    message = problems_of(config)
    assert "partners.acme.mapping.vendors.match: 'acct_num' is listed twice" in message
    assert "partners.acme.mapping.vendors.match: the vendors table is never used" in message
    assert "partners.acme.mapping.classes.tracking: 'off' drops every class" in message


def test_mapping_old_flat_shape_and_new_shape_both_load():
    config = valid()
    acme(config)["mapping"] = {"accounts": {"5000": "Cost of Goods Sold"}, "default_expense_account": "Shop Supplies"}
    mapping = parse_config(yaml.safe_dump(config)).partner("acme").mapping
    assert mapping.accounts.table == {"5000": "Cost of Goods Sold"}
    assert mapping.accounts.default_expense == "Shop Supplies"
    acme(config)["mapping"] = {"vendors": {"match": ["display_name"]}, "terms": {"default": "Net 30"}}
    mapping = parse_config(yaml.safe_dump(config)).partner("acme").mapping
    assert mapping.vendors.match == ["display_name"] and mapping.terms.default == "Net 30"
    acme(config)["mapping"] = {"currency": "EUR"}
    assert "partners.acme.mapping.currency: unknown key" in problems_of(config)
