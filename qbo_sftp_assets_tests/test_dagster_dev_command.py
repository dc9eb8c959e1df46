"""`qbo-sftp dev --config PATH` checks the configuration before it starts anything."""

from qbo_sftp_assets.cli import main


def test_dev_with_a_missing_config_says_so_and_starts_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert main(["dev", "--config", str(tmp_path / "missing.yaml")]) != 0
    err = capsys.readouterr().err
    assert err.startswith("qbo-sftp dev: ") and "missing.yaml" in err
    assert not (tmp_path / "home").exists()


def test_dev_with_a_broken_config_names_the_key_to_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    broken = tmp_path / "qbo_sftp.yaml"
    broken.write_text("partners:\n  acme:\n    company: nowhere\n")
    assert main(["dev", "--config", str(broken)]) != 0
    assert "partners.acme" in capsys.readouterr().err
    assert not (tmp_path / "home").exists()
