"""The door's side of the demo: what people do with the keypad, the exit button, the door and
the fire panel, acted on the gate's mock pins and keypad FIFO, with the outcomes awaited.

Why a script that waits for each outcome instead of a fixed timetable: events happen on the
gate's own threads (keypad reader, door-input debouncers, the frame loop), so the demo
prints a step, acts, and then waits for the event that step must cause — a missing event is
printed as missing, never papered over. The lock is read from the relay pin itself, the way
a multimeter on the relay would see it, not from the software's own idea of the lock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from gpiozero.pins.mock import MockFactory, MockPin

from edge.config import GateConfig
from edge.demo.narration import INDENT, describe_person_outcome, kind_label, told
from edge.gates.runner import GateOutcome
from edge.vocabulary import N_
from gate_drivers.camera import Camera

STALL_S = 30.0  # no new frame for this long: the replay is stuck, stop waiting


class OutcomeFeed:
    """The gate's ``on_outcome``: prints each outcome as it happens and lets the script wait."""

    def __init__(self, echo: Callable[[str], None], zone: ZoneInfo) -> None:
        self.echo = echo
        self.zone = zone
        self.outcomes: list[GateOutcome] = []
        self.received: list[float] = []  # monotonic time each outcome arrived
        self._cursor = 0
        self._cond = threading.Condition()

    def __call__(self, outcome: GateOutcome) -> None:
        with self._cond:
            self.outcomes.append(outcome)
            self.received.append(time.monotonic())
            self.echo(describe_person_outcome(outcome, self.zone))
            self._cond.notify_all()

    def wait_for(self, kind: str, timeout_s: float) -> tuple[GateOutcome, float] | None:
        """The next outcome of ``kind`` after the last one waited for, and when it came."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while True:
                for index in range(self._cursor, len(self.outcomes)):
                    if self.outcomes[index].kind == kind:
                        self._cursor = index + 1
                        return self.outcomes[index], self.received[index]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)


class DoorActor:
    """Drives the door's inputs and keypad like people would, and reads the lock relay."""

    def __init__(
        self,
        gate: GateConfig,
        factory: MockFactory,
        feed: OutcomeFeed,
        echo: Callable[[str], None],
        grace_s: float,
    ) -> None:
        door = gate.door
        assert gate.lock is not None and door is not None and gate.keypad is not None
        assert door.contact and door.exit_button and door.fire_alarm  # the demo config's
        self.lock = gate.lock
        self.held_open_s = door.held_open_s
        self.contact_pin, self.exit_pin = door.contact.pin, door.exit_button.pin
        self.fire_pin = door.fire_alarm.pin
        self.keypad = gate.keypad.source
        self.factory = factory
        self.feed = feed
        self.echo = echo
        self.grace_s = grace_s
        self.last_grant = 0.0

    # -- hardware -----------------------------------------------------------------------------
    def _pin(self, number: int) -> MockPin:
        return self.factory.pin(number)

    def relay_energised(self) -> bool:
        return bool(self._pin(self.lock.relay_pin).state) == self.lock.active_high

    def relay_locked(self) -> bool:
        """The lock as its relay pin says: a fail-safe lock is locked while energised."""
        energised = self.relay_energised()
        return energised if self.lock.fail_mode == "fail_safe" else not energised

    def _contact(self, pin: int, closed: bool) -> None:
        """Close (drive to ground) or open a contact wired between the GPIO and GND."""
        if closed:
            self._pin(pin).drive_low()
        else:
            self._pin(pin).drive_high()

    def door_open(self, is_open: bool) -> None:
        self._contact(self.contact_pin, is_open)

    def type_on_keypad(self, entry: str) -> None:
        """Write an entry to the keypad FIFO as a keypad bridge would."""
        fd = os.open(self.keypad, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, entry.encode("ascii"))
        finally:
            os.close(fd)

    # -- waiting ------------------------------------------------------------------------------
    def expect(self, kind: str, timeout_s: float) -> GateOutcome | None:
        found = self.feed.wait_for(kind, timeout_s)
        if found is None:
            self.echo(INDENT + told("(no %(kind)s event within %(s)s s)",
                                    kind=kind_label(kind), s=f"{timeout_s:g}"))  # fmt: skip
            return None
        outcome, received = found
        if kind in ("exit_button", "fire_alarm") or outcome.decision == "open":
            self.last_grant = received
        return outcome

    def expect_in_frames(
        self, kind: str, camera: Camera, last_frame: int, grace_s: float = STALL_S
    ) -> GateOutcome | None:
        """Like ``expect``, for an event the camera's frames cause: wait while the replay
        still shows frames up to ``last_frame``, then up to ``grace_s`` for the gate to decide.
        The wait ends as soon as the event comes, so the grace is generous: on a loaded box
        the gate may still be judging the segment's last frames (detection, liveness) for
        several seconds after the replay showed them."""
        wait_for_frame(camera, last_frame)
        return self.expect(kind, grace_s)

    def relocked(self, since: float, timeout_s: float = 10.0) -> bool:
        """Wait for the relay to lock again and say after how long."""
        deadline = time.monotonic() + timeout_s
        while not self.relay_locked():
            if time.monotonic() > deadline:
                self.echo(INDENT + told("lock relay GPIO%(pin)s: still released!",
                                        pin=self.lock.relay_pin))  # fmt: skip
                return False
            time.sleep(0.02)
        released = time.monotonic() - since
        self.echo(INDENT + told("lock relay GPIO%(pin)s: locked again (%(s)s s released)",
                                pin=self.lock.relay_pin, s=f"{released:.1f}"))  # fmt: skip
        return True

    # -- the steps ----------------------------------------------------------------------------
    def pin_entry(self, resident_id: int, pin: str, wrong_pin: str) -> None:
        """A wrong PIN is refused, the right one opens; the resident walks through."""
        self.type_on_keypad(f"{resident_id}*{wrong_pin}#")
        self.expect("pin_passage", 5)
        self.type_on_keypad(f"{resident_id}*{pin}#")
        if self.expect("pin_passage", 5) is not None:
            self.door_open(True)
            time.sleep(0.4)
            self.door_open(False)
            self.relocked(self.last_grant)

    def pin_after_doubted_face(self, pin: str) -> None:
        """The door doubted a face and asks for that resident's PIN: they type it, bare."""
        self.echo(INDENT + told("the door asks for that resident's PIN; the resident types it"
                                " (%(dots)s#)", dots="•" * len(pin)))  # fmt: skip
        self.type_on_keypad(f"{pin}#")
        if self.expect("pin_passage", 5) is not None:
            self.relocked(self.last_grant)

    def exit_then_propped_open(self) -> None:
        """The exit button releases the lock; the door then stays open past held_open_s."""
        self._contact(self.exit_pin, True)
        time.sleep(0.15)
        self._contact(self.exit_pin, False)
        if self.expect("exit_button", 3) is None:
            return
        self.door_open(True)
        self.relocked(self.last_grant)
        self.expect("door_held_open", self.held_open_s + 3)
        self.door_open(False)
        self.expect("door_closed", 3)

    def forced(self) -> None:
        """The contact opens while locked and no grant's grace period is running."""
        allowed_until = self.last_grant + self.lock.release_s + self.grace_s
        time.sleep(max(0.0, allowed_until - time.monotonic()) + 0.2)
        self.door_open(True)
        self.expect("door_forced", 3)
        time.sleep(0.3)
        self.door_open(False)

    def fire_alarm(self) -> None:
        """The fire input holds the lock released beyond any grant, until the panel resets."""
        self._contact(self.fire_pin, True)
        if self.expect("fire_alarm", 3) is None:
            return
        since = self.last_grant
        time.sleep(self.lock.release_s + 1.0)
        state = told(N_("locked (wrong!)") if self.relay_locked() else N_("still released"))
        self.echo(INDENT + told(
            "%(s)s s later, longer than any grant: lock relay GPIO%(pin)s %(state)s",
            s=f"{time.monotonic() - since:.1f}", pin=self.lock.relay_pin, state=state,
        ))  # fmt: skip
        before = len(self.feed.outcomes)
        self.door_open(True)  # people leave: not a forced door during a fire alarm
        time.sleep(0.3)
        self.door_open(False)
        time.sleep(0.2)
        forced = any(o.kind == "door_forced" for o in self.feed.outcomes[before:])
        said = (
            N_("door_forced raised (wrong!)")
            if forced
            else N_("no forced-door alarm in a fire alarm")
        )
        self.echo(INDENT + told("people leave through the door: %(said)s", said=told(said)))
        self._contact(self.fire_pin, False)
        if self.expect("fire_alarm_cleared", 3) is not None:
            self.relocked(since)


def wait_for_frame(camera: Camera, index: int, stall_s: float = STALL_S) -> bool:
    """Wait until the camera has shown frame ``index``. The replay may run slower than its
    frame rate (it waits for the gate to take every frame on a slow machine), so the wait
    ends on a stuck replay, never on a wall-clock budget."""
    last_seq, progressed = -1, time.monotonic()
    while True:
        frame = camera.latest()
        seq = frame.seq if frame is not None else -1
        if seq >= index:
            return True
        if seq > last_seq:
            last_seq, progressed = seq, time.monotonic()
        elif time.monotonic() - progressed > stall_s:
            return False
        time.sleep(0.02)


def keypad_fifo(path: Path) -> None:
    """Make the keypad FIFO (replacing anything else of that name, e.g. from an old run)."""
    if path.exists() and not path.is_fifo():
        path.unlink()
    if not path.exists():
        os.mkfifo(path, 0o600)
