"""The base of every error the CLI reports as a message rather than a traceback."""

from __future__ import annotations


class UserFacingError(Exception):
    """An error whose text is written for the person running the tool: where, what, and the fix."""

    exit_code = 1
