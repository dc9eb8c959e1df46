"""The posting bench at CI size: 60 CSV bills through read, map, validate and post, none lost or doubled."""

from qbo_sftp_assets_tests.bench.bench_posting import measure


def test_sixty_csv_bills_go_through_the_whole_posting_path_once_each():
    report = measure(60, fill_window=False)
    assert report["ok"], report["lines"]
