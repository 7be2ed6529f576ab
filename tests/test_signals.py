"""SIGTERM/SIGINT stop the appliance even when they land while the main thread is inside
Event.wait() (the handler must take no lock: that once left `appliance serve` hung)."""

from __future__ import annotations

import os
import signal
import threading

from appliance.signals import StopSignals


def test_handler_takes_no_lock_while_the_event_lock_is_held() -> None:
    stop = threading.Event()
    with StopSignals(stop) as signals:
        # The state that deadlocked: this thread holds the event's lock (inside wait()) when
        # the handler runs. A handler calling stop.set() would block here forever.
        done = threading.Event()

        def handle_while_locked() -> None:
            with stop._cond:
                signals._handler(signal.SIGTERM, None)
            done.set()

        worker = threading.Thread(target=handle_while_locked, daemon=True)
        worker.start()
        assert done.wait(5), "the signal handler blocked on the event's lock"
        signals.wait(every=0.01)
    assert stop.is_set() and signals.signalled == signal.SIGTERM


def test_a_real_sigterm_ends_the_wait_and_restores_the_handler() -> None:
    stop = threading.Event()
    before = signal.getsignal(signal.SIGTERM)
    with StopSignals(stop) as signals:
        threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGTERM)).start()
        signals.wait(every=0.05)
    assert stop.is_set()
    assert signal.getsignal(signal.SIGTERM) is before


def test_wait_ends_when_done_or_when_another_thread_sets_stop() -> None:
    stop = threading.Event()
    with StopSignals(stop) as signals:
        signals.wait(every=0.01, done=lambda: True)
        assert not stop.is_set()
        threading.Timer(0.05, stop.set).start()
        signals.wait(every=0.01)
    assert stop.is_set()
