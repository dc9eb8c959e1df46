"""Throttles, server errors and timeouts are retried with the same requestid: no duplicate write, no 429 leak."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
import pytest

from qbo_sftp_assets.config import QboLimits
from qbo_sftp_assets.qbo.faults import QboServerError, QboValidationError

pytestmark = pytest.mark.slow


def rid() -> str:
    return str(uuid.uuid4())


def vendor_body() -> dict[str, Any]:
    return {"DisplayName": f"Retry Vendor {uuid.uuid4().hex[:8]}"}


def realm_stats(sandbox: Any, realm_id: str) -> dict[str, Any]:
    return sandbox.state.stats()["realms"][realm_id]


def arm(sandbox: Any, kind: str, count: int = 1, **options: Any) -> None:
    """Arm a fault through the control endpoint, as an outside test harness would."""
    response = httpx.post(f"{sandbox.base_url}/_sandbox/faults", json={"kind": kind, "count": count, **options})
    response.raise_for_status()


def requests_with(sandbox: Any, request_id: str) -> list[Any]:
    return [r for r in sandbox.state.request_log if r.requestid == request_id]


@pytest.mark.parametrize("kind", ["429", "503", "500"])
def test_throttles_and_server_errors_are_retried_into_one_write(
    client_sandbox: Any, make_client: Any, kind: str
) -> None:
    client = make_client(client_sandbox)
    before = realm_stats(client_sandbox, client.realm_id)["writes"].get("Vendor", 0)
    arm(client_sandbox, kind, 3, path_contains="/vendor")
    request_id = rid()
    created = client.create("Vendor", vendor_body(), request_id=request_id)
    assert created["Id"]
    after = realm_stats(client_sandbox, client.realm_id)["writes"].get("Vendor", 0)
    assert after - before == 1
    attempts = requests_with(client_sandbox, request_id)
    assert len(attempts) == 4 and {a.requestid for a in attempts} == {request_id}
    stats = client.stats
    assert stats["retries"] == 3
    assert stats["throttled" if kind == "429" else "server_errors"] == 3


def test_a_lost_answer_is_retried_and_replayed_not_written_twice(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox, limits=QboLimits(backoff_seconds=0.02, read_timeout_seconds=0.5))
    before = realm_stats(client_sandbox, client.realm_id)
    # The sandbox writes, then holds the answer past our read timeout.
    arm(client_sandbox, "timeout", 1, path_contains="/vendor", delay=1.5)
    request_id = rid()
    created = client.create("Vendor", vendor_body(), request_id=request_id)
    after = realm_stats(client_sandbox, client.realm_id)
    assert after["writes"]["Vendor"] - before["writes"].get("Vendor", 0) == 1
    assert after["requestid_replays"] - before["requestid_replays"] == 1
    assert client.stats["timeouts"] == 1
    assert client.read("Vendor", created["Id"])["DisplayName"] == created["DisplayName"]


def test_server_errors_after_the_write_are_replayed_too(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    before = realm_stats(client_sandbox, client.realm_id)
    arm(client_sandbox, "500", 2, path_contains="/vendor", after_write=True)
    client.create("Vendor", vendor_body(), request_id=rid())
    after = realm_stats(client_sandbox, client.realm_id)
    assert after["writes"]["Vendor"] - before["writes"].get("Vendor", 0) == 1


def test_validation_fault_is_never_retried(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    request_id = rid()
    with pytest.raises(QboValidationError) as caught:
        client.create("Bill", {"VendorRef": {"value": "999999"}, "Line": []}, request_id=request_id)
    assert caught.value.status_code == 400 and caught.value.intuit_tid
    assert len(requests_with(client_sandbox, request_id)) == 1
    assert client.stats["retries"] == 0


def test_faults_in_xml_and_inside_http_200_are_raised_with_qbos_code(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    arm(client_sandbox, "xml_fault", 1, path_contains="/preferences", code="6190", message="Subscription ended")
    with pytest.raises(QboValidationError) as xml_error:
        client.preferences()
    assert (xml_error.value.code, xml_error.value.message) == ("6190", "Subscription ended")
    arm(client_sandbox, "json_fault_200", 1, path_contains="/preferences")
    with pytest.raises(QboValidationError) as json_error:
        client.preferences()
    assert json_error.value.status_code == 200 and json_error.value.code == "6000"


def test_xml_throttle_is_recognised_and_retried(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox)
    arm(client_sandbox, "xml_fault", 2, path_contains="/preferences", code="3001", status=429)
    assert client.preferences()
    assert client.stats["throttled"] == 2


def test_retries_are_bounded(client_sandbox: Any, make_client: Any) -> None:
    client = make_client(client_sandbox, limits=QboLimits(max_retries=2, backoff_seconds=0.01))
    arm(client_sandbox, "503", 5, path_contains="/companyinfo")
    with pytest.raises(QboServerError) as caught:
        client.company_info()
    assert caught.value.status_code == 503
    assert client.stats["retries"] == 2
    httpx.delete(f"{client_sandbox.base_url}/_sandbox/faults")
    client_sandbox.state.faults.clear()


def test_threads_sharing_a_client_stay_under_the_realms_limits(make_client: Any) -> None:
    from qbo_sftp_assets.sandbox.qbo_server import SandboxSettings, start_sandbox

    # A 2-second minute (clock_speed 30) with 30 requests a minute and 3 in flight.
    settings = SandboxSettings(requests_per_minute=30, max_in_flight=3, clock_speed=30, latency=0.02, seed=True)
    limits = QboLimits(requests_per_minute=30, max_in_flight=3, backoff_seconds=0.02)
    with start_sandbox(settings) as sandbox:
        client = make_client(sandbox, limits=limits, clock_speed=30)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                for _ in range(6):
                    client.count("Term")
            except BaseException as error:  # noqa: BLE001 - surfaced to the test below
                errors.append(error)

        threads = [threading.Thread(target=work) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        stats = realm_stats(sandbox, client.realm_id)
        assert stats["throttled"] == 0
        assert client.stats["requests"] == 48 and client.stats["waits"] > 0
