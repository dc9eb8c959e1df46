"""SFTP transport on fabric: strict host keys, readiness, claim, streaming download, atomic upload."""
