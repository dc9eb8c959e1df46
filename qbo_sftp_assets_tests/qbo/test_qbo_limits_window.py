"""The per-realm limiter: sliding windows on a fake clock, the in-flight cap across threads, backoff bounds."""

from __future__ import annotations

import random
import threading
import time

from qbo_sftp_assets.config import QboLimits
from qbo_sftp_assets.qbo.limits import RealmLimiter, SlidingWindow, backoff_delay, limiter_for, throttle_delay


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_sliding_window_admits_the_limit_then_waits_for_the_oldest_to_age_out() -> None:
    clock = FakeClock()
    window = SlidingWindow(3, 60.0, clock=clock, sleep=clock.sleep)
    assert [window.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now = 10.0
    waited = window.acquire()
    assert waited == 50.0 and clock.now == 60.0
    # The window now holds events at 0 (aged out at 60), 0, 0 -> all aged out, plus 60.
    assert len(window) == 1


def test_sliding_window_never_exceeds_the_limit_in_any_window() -> None:
    clock = FakeClock()
    window = SlidingWindow(5, 6.0, clock=clock, sleep=clock.sleep)
    stamps = []
    for _ in range(23):
        window.acquire()
        stamps.append(clock.now)
        clock.now += 0.1
    for start in stamps:
        assert sum(1 for s in stamps if start <= s < start + 6.0) <= 5


def test_limiter_uses_a_shorter_minute_on_a_fast_clock() -> None:
    clock = FakeClock()
    limiter = RealmLimiter(
        QboLimits(requests_per_minute=500, batch_requests_per_minute=2), clock_speed=10, clock=clock, sleep=clock.sleep
    )
    for _ in range(3):
        with limiter.slot(batch=True):
            pass
    # A 6-second minute counted from the first answers (at 0): the third goes exactly then, no margin.
    assert clock.now == 6.0
    assert limiter.stats.snapshot()["batch_requests"] == 3
    assert limiter.stats.snapshot()["waits"] == 1


def test_a_request_counts_in_the_window_until_its_answer_is_back() -> None:
    # The server counts a request when it arrives, which may be as late as the answer: a slow request
    # sent at 0 and answered at 10 holds its place until 16, not 6.
    clock = FakeClock()
    limiter = RealmLimiter(QboLimits(requests_per_minute=1), clock_speed=10, clock=clock, sleep=clock.sleep)
    with limiter.slot():
        clock.now = 10.0
    with limiter.slot():
        pass
    assert clock.now == 16.0


def test_a_full_window_of_requests_in_flight_waits_for_an_answer() -> None:
    window = SlidingWindow(1, 0.05)
    window.acquire(held=True)
    started = threading.Event()
    waited: list[float] = []

    def second() -> None:
        started.set()
        waited.append(window.acquire())

    thread = threading.Thread(target=second)
    thread.start()
    started.wait()
    time.sleep(0.1)
    # Longer than the window, but the first event is still in flight, so the second has not gone.
    assert not waited
    window.settle()
    thread.join(timeout=5)
    assert waited and waited[0] >= 0.1 + 0.05 - 0.01


def test_in_flight_cap_holds_across_threads() -> None:
    limiter = RealmLimiter(QboLimits(max_in_flight=3))
    lock = threading.Lock()
    current = peak = 0

    def work() -> None:
        nonlocal current, peak
        with limiter.slot():
            with lock:
                current += 1
                peak = max(peak, current)
            time.sleep(0.02)
            with lock:
                current -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3


def test_one_limiter_per_realm_per_process() -> None:
    limits = QboLimits()
    a = limiter_for("http://x", "1", limits)
    assert limiter_for("http://x", "1", QboLimits()) is a
    assert limiter_for("http://x", "2", limits) is not a


def test_backoff_is_bounded_and_grows() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, 1.0, 8.0, rng=rng) for n in range(10)]
    assert all(0.5 <= d <= 8.0 for d in delays)
    assert max(delays[:1]) <= 1.0


def test_throttle_delay_prefers_retry_after_and_adds_bounded_jitter() -> None:
    rng = random.Random(2)
    assert 3.0 <= throttle_delay(3.0, 60.0, rng=rng) <= 3.3
    assert 60.0 <= throttle_delay(None, 60.0, rng=rng) <= 66.0
    assert 0.5 <= throttle_delay(None, 0.5, rng=rng) <= 0.55
