"""What a person sees in the Dagster UI, in headless Chromium: the graph, running sensors, a failure table.

Debian's `chromium` (installed by `make test`) is driven by playwright with `executable_path`; no
browser is downloaded. The screenshots land in the test's output folder; docs/screenshots/ keeps two.
"""

import json
import shutil

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from qbo_sftp_assets.demo import UNMAPPED_ACCOUNT, drop_inbound_files, sample_inbound_files
from qbo_sftp_assets_tests.dagster_dev_session import DevSession, dagster_dev_session

ASSETS = [
    "qbo_vendors",
    "qbo_accounts",
    "outbound_files",
    "landed_inbound_file",
    "parsed_inbound_documents",
    "validated_postings",
    "qbo_postings",
    "inbound_ack",
]
FAILING_FILE = "legacy_erp/AP_20261123.csv"
CHECK_EXECUTIONS = """query($key: AssetKeyInput!, $name: String!, $partition: String) {
    assetCheckExecutions(assetKey: $key, checkName: $name, limit: 5, partition: $partition) {
        status evaluation { partition } } }"""


def failed_check_partitions(session: DevSession) -> set[str]:
    executions = session.dev.graphql(
        CHECK_EXECUTIONS, {"key": {"path": ["validated_postings"]}, "name": "postings_valid", "partition": FAILING_FILE}
    )["assetCheckExecutions"]
    return {e["evaluation"]["partition"] for e in executions if e["status"] == "FAILED" and e["evaluation"]}


# What the graph's settings menu ("Change graph to vertical orientation", "Expand all groups") and "Hide
# navigation" store in the browser; set before the page loads, the graph draws open and fits the window.
GRAPH_SETTINGS = {
    "asset-graph-open-graph-nodes-global-__GLOBAL__": json.dumps(
        {"expanded": ",".join(f"global@global:{group}" for group in ("inbound", "outbound", "quickbooks"))}
    ),
    "asset-graph-direction": json.dumps("vertical"),
    "dagster-nav-collapsed": "true",
}


def show_whole_graph(page: Page, url: str) -> None:
    """The global lineage with every group open, laid out top to bottom and fitted to the window."""
    page.add_init_script(
        f"Object.entries({json.dumps(GRAPH_SETTINGS)}).forEach(([k, v]) => window.localStorage.setItem(k, v))"
    )
    page.goto(f"{url}/asset-groups")
    page.wait_for_selector("text=validated_postings")
    page.locator('[aria-label="panel_show_right"]').first.click()  # the group tree beside the graph
    # Materialized assets turn green once their statuses arrive (after the layout).
    page.wait_for_selector('[style*="--color-background-green"]', timeout=30_000)
    page.wait_for_timeout(1000)


@pytest.mark.slow
@pytest.mark.timeout(480)  # a real dagster dev: ~2 min on 2 idle cores, more on a busy machine
def test_a_person_sees_the_graph_the_running_sensors_and_the_unmapped_value_in_a_failed_check(tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
    with dagster_dev_session(tmp_path) as session:
        session.wait_for("the first snapshots", lambda: session.materialized_partitions("qbo_vendors"), timeout=120)
        drop_inbound_files(session.env.config(), sample_inbound_files())
        session.wait_for("the CSV's failed check", lambda: failed_check_partitions(session), timeout=120)
        # The "Join the Dagster community" dialog would cover the page until the UI is told it was seen.
        assert session.dev.graphql("mutation { setNuxSeen }")["setNuxSeen"] is True

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 700})
                url = session.dev.url

                show_whole_graph(page, url)
                for group in ("quickbooks", "outbound", "inbound"):
                    expect(page.get_by_text(group, exact=True).first).to_be_visible()
                names = page.locator("[class*=assetName]").all_inner_texts()
                for asset in ASSETS:
                    # Zoomed out, long names are cut in the middle ("landed_inbou…_file").
                    assert any(_same_name(shown, asset) for shown in names), (asset, names)
                page.screenshot(path=str(shots / "asset-graph.png"))

                page.goto(f"{url}/automation")
                for sensor in ("qbo_cdc_northwind", "sftp_inbound_great_lakes_steel", "sftp_inbound_legacy_erp"):
                    link = page.locator(f'a[href$="/sensors/{sensor}"]')
                    expect(link).to_be_visible()
                    row = link.locator("xpath=ancestor::*[.//input[@type='checkbox']][1]")
                    expect(row.locator("input[type=checkbox]").last).to_be_checked()
                page.screenshot(path=str(shots / "running-sensors.png"))

                page.set_viewport_size({"width": 1800, "height": 1000})
                page.goto(f"{url}/assets/validated_postings?view=checks")
                page.wait_for_selector("text=Latest execution")
                page.locator("button[role=tab]#partitions").click()
                page.locator(f'[title="{FAILING_FILE}"]').last.click()
                table = page.locator("table", has_text="source_location").last  # inside the metadata table
                expect(table.get_by_text(UNMAPPED_ACCOUNT, exact=True)).to_be_visible()
                expect(table).to_contain_text("account_resolved")
                expect(table).to_contain_text("mapping.accounts.table")
                expect(page.get_by_text("Failed", exact=True).first).to_be_visible()
                page.screenshot(path=str(shots / "failed-check-table.png"))
            finally:
                browser.close()
    assert sorted(p.name for p in shots.iterdir()) == [
        "asset-graph.png",
        "failed-check-table.png",
        "running-sensors.png",
    ]


def _same_name(shown: str, name: str) -> bool:
    if "…" not in shown:
        return shown == name
    head, _, tail = shown.partition("…")
    return name.startswith(head) and name.endswith(tail)
