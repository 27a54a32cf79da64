"""The lease that serialises the callers of one cluster actor (``runtime/ray_actor.py``).

Plain threads, no Ray: the actor runs its calls on threads the same way."""

from __future__ import annotations

import threading
import time

from hanami.server.runtime.ray_actor import Lease


def test_one_holder_at_a_time_and_its_own_calls_pass() -> None:
    lease = Lease(ttl=60)
    assert lease.acquire("a", 0.0)
    assert lease.acquire("a", 0.0)  # the holder again
    assert not lease.acquire("b", 0.1)
    with lease.call("a"):
        assert lease.holder == "a"
    lease.release("b")  # not the holder: nothing happens
    assert not lease.acquire("b", 0.0)
    lease.release("a")
    assert lease.acquire("b", 0.0)


def test_a_call_without_token_waits_for_the_holder() -> None:
    lease = Lease(ttl=60)
    lease.acquire("task", None)
    order: list[str] = []

    def plain_call() -> None:
        with lease.call(None):
            order.append("plain")

    thread = threading.Thread(target=plain_call)
    thread.start()
    time.sleep(0.2)
    order.append("task ends")
    lease.release("task")
    thread.join(5)
    assert order == ["task ends", "plain"]
    assert lease.holder is None  # the plain call's own lease ended with it


def test_an_idle_lease_expires_but_not_during_a_call() -> None:
    lease = Lease(ttl=0.3)
    lease.acquire("dead replica", None)
    started = time.monotonic()
    assert lease.acquire("other", 5.0)
    assert 0.25 <= time.monotonic() - started < 2.0

    busy = threading.Event()
    done = threading.Event()

    def long_call() -> None:
        with lease.call("other"):
            busy.set()
            done.wait(5)

    thread = threading.Thread(target=long_call)
    thread.start()
    busy.wait(5)
    assert not lease.acquire("third", 1.0)  # the holder's call runs past the ttl
    done.set()
    thread.join(5)
