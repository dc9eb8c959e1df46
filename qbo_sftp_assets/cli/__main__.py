"""`python -m qbo_sftp_assets.cli`: the same as the `qbo-sftp` entry point."""

import sys

from qbo_sftp_assets.cli import main

sys.exit(main())
