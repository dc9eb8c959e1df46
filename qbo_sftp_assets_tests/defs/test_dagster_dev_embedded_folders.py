"""Every folder the embedded config names exists on the embedded SFTP server from the start."""

from qbo_sftp_assets.cli import main
from qbo_sftp_assets.embedded import embedded_environment, environment_variables
from qbo_sftp_assets.sftp.transfer import FOLDER_KINDS


def test_sftp_ls_lists_every_folder_of_every_embedded_partner(tmp_path, capsys):
    with embedded_environment(tmp_path / "dev") as env, environment_variables(env.environ):
        partners = list(env.config().partners)
        assert partners
        for partner in partners:
            for folder in FOLDER_KINDS:
                assert main(["--config", str(env.config_path), "sftp", "ls", partner, "--folder", folder]) == 0
                assert f"{partner} {folder}: " in capsys.readouterr().out
