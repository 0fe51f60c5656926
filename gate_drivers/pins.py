"""Choose the one gpiozero pin factory a gate process uses.

Why a function and not gpiozero's global ``Device.pin_factory``: the factory is chosen once at
start-up (from config, or ``GPIOZERO_PIN_FACTORY`` when config says nothing) and passed
explicitly to every device, so tests and the demo can run real device code on
``MockFactory`` pins side by side without touching process-wide state.
"""

from __future__ import annotations

import importlib
import os

from gpiozero import Device
from gpiozero.pins import Factory

# name → "module:Class". Imported lazily: lgpio / RPi.GPIO / pigpio exist only on a Pi.
_FACTORIES: dict[str, str] = {
    "mock": "gpiozero.pins.mock:MockFactory",
    "lgpio": "gpiozero.pins.lgpio:LGPIOFactory",  # Pi 5 and current Raspberry Pi OS
    "rpigpio": "gpiozero.pins.rpigpio:RPiGPIOFactory",
    "pigpio": "gpiozero.pins.pigpio:PiGPIOFactory",
    "native": "gpiozero.pins.native:NativeFactory",
}


def known_pin_factories() -> tuple[str, ...]:
    """Names ``make_pin_factory`` accepts (for config validation and error messages)."""
    return tuple(_FACTORIES)


def make_pin_factory(name: str | None) -> Factory:
    """Build the pin factory called ``name``.

    ``None`` defers to gpiozero's own choice, which honours ``GPIOZERO_PIN_FACTORY`` and
    otherwise probes lgpio → RPi.GPIO → pigpio → native. An unknown name is a config mistake
    and raises ``ValueError`` naming the valid choices; a known name whose library is missing
    on this machine raises ``ValueError`` too, saying which library, so the gate refuses to
    start instead of silently driving no relays.
    """
    if name is None:
        return Device._default_pin_factory()
    key = name.strip().lower()
    if key not in _FACTORIES:
        choices = ", ".join(_FACTORIES)
        raise ValueError(f"unknown pin factory {name!r}; choose one of: {choices}")
    module_name, class_name = _FACTORIES[key].split(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, class_name)()
    except Exception as exc:  # ImportError, or the library failing to reach /dev/gpiochip*
        env = os.environ.get("GPIOZERO_PIN_FACTORY")
        hint = f" (GPIOZERO_PIN_FACTORY={env!r})" if env else ""
        raise ValueError(
            f"pin factory {key!r} is not usable on this machine{hint}: {type(exc).__name__}: {exc}"
        ) from exc
