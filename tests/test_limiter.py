"""Login rate limiting: five wrong passwords for a user, then each try waits longer."""

from __future__ import annotations

from exportc.web.limiter import MAX_WAIT, LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_five_failures_are_free_then_the_wait_doubles() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock)
    for _ in range(5):
        assert limiter.wait("user:ann") == 0
        limiter.failed("user:ann")
    assert limiter.wait("user:ann") == 2.0
    clock.t += 2.0
    limiter.failed("user:ann")
    assert limiter.wait("user:ann") == 4.0
    assert limiter.wait("user:bob") == 0  # another user is not held up


def test_the_wait_is_capped_and_forgotten_after_the_window() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock)
    for _ in range(30):
        limiter.failed("user:ann")
    assert limiter.wait("user:ann") == MAX_WAIT
    clock.t += 15 * 60 + 1
    assert limiter.wait("user:ann") == 0


def test_an_address_gets_more_tries_than_a_user_and_success_clears() -> None:
    clock = Clock()
    limiter = LoginLimiter(clock)
    for _ in range(6):
        limiter.failed("ip:10.0.0.1")
    assert limiter.wait("ip:10.0.0.1") == 0
    for _ in range(6):
        limiter.failed("user:ann")
    limiter.succeeded("user:ann")
    assert limiter.wait("user:ann") == 0
