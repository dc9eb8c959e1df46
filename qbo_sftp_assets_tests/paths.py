"""Where the tests' sample files and the repository are, wherever a test module sits."""

from pathlib import Path

TESTS = Path(__file__).parent
TEST_DATA = TESTS / "data"
REPOSITORY = TESTS.parent
