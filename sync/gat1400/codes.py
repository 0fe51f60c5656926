"""Code tables of GA/T 1400.3 and GA 24 the box uses, and what each StatusCode means to it.

Values are the standard's, as strings where the standard types them as code strings
(PlateClass, PlateColor, VehicleColor, Direction, image Type) and as integers where it types
them as numbers (EventSort, InfoKind, StatusCode on the wire may be either).
"""

from __future__ import annotations

import re
from typing import Literal

#: ColorType (GA/T 1400.3; PlateColor, VehicleColor): 1 black, 2 white, 3 grey, 4 red,
#: 5 blue, 6 yellow, 7 orange, 8 brown, 9 green, 10 purple, 11 cyan, 12 pink, 13 transparent,
#: 99 other. The plate reader names five plate backgrounds (``edge.plates.reader
#: .classify_colour``) or "unknown"; a yellow-green large new-energy plate reads as yellow or
#: green, which is what is sent (ColorType has no two-tone value).
COLOURS = {"black": "1", "white": "2", "blue": "5", "yellow": "6", "green": "9"}
COLOUR_OTHER = "99"
#: VehicleColor from the gate's estimate of the body (edge.plates.body_colour); its
#: "unknown" (night, an infrared picture, no clear winner) and anything else are 99
BODY_COLOURS = {
    "black": "1", "white": "2", "grey": "3", "red": "4", "blue": "5", "yellow": "6",
    "orange": "7", "brown": "8", "green": "9", "purple": "10", "cyan": "11", "pink": "12",
}  # fmt: skip


def plate_colour(colour: object) -> str:
    """PlateColor for the reader's colour name; 99 when it could not tell."""
    return COLOURS.get(str(colour), COLOUR_OTHER)


def vehicle_colour(colour: object) -> str:
    """VehicleColor for the gate's body-colour estimate; 99 when it could not tell."""
    return BODY_COLOURS.get(str(colour), COLOUR_OTHER)


#: InfoKind: 1 = automatically collected (a camera), 2 = entered by a person
INFO_KIND_AUTO = 1

#: ImageType (SubImageInfoObject.Type)
IMAGE_VEHICLE = "01"  # 车辆大图: the whole frame of a vehicle passage
IMAGE_PLATE = "02"  # 车牌彩色小图
IMAGE_FACE = "11"  # 人脸图: a face crop
IMAGE_SCENE = "14"  # 场景图: the whole frame of a pedestrian camera

#: EventSort (EventType) of the picture
EVENT_PASS_VEHICLE = 1  # 过车
EVENT_PASS_PERSON = 2  # 过人
EVENT_FACE_DETECT = 10  # 人脸检测
EVENT_FACE_MATCH = 11  # 人脸比对
EVENT_VEHICLE_MATCH = 13  # 车辆比对

#: object type codes inside a 48-digit object ID (GA/T 1400.1)
OBJECT_PERSON = "01"
OBJECT_MOTOR_VEHICLE = "02"
OBJECT_FACE = "06"

#: 33-digit IDs: organisation (12) + this sub-type (2) + time (14) + serial (5)
ID_DISPOSITION = "01"
ID_SUBSCRIBE = "02"
ID_SUBSCRIBE_NOTIFICATION = "03"
ID_DISPOSITION_NOTIFICATION = "04"

#: SubscribeDetail categories the box can serve
SUBSCRIBE_PERSON = "11"
SUBSCRIBE_FACE = "12"
SUBSCRIBE_VEHICLE = "13"
SUBSCRIBE_KNOWN = {str(n) for n in range(1, 17)}
SUBSCRIBE_SERVED = {SUBSCRIBE_FACE, SUBSCRIBE_VEHICLE}

#: DispositionCategory
DISPOSITION_PERSON = "1"
DISPOSITION_FACE = "2"
DISPOSITION_VEHICLE = "3"

#: PlateClass (GA 24.7 号牌种类) by the plate's form, then its colour: 01 large (yellow),
#: 02 small (blue), 03 embassy, 04 consulate, 06 foreign (black), 15 trailer, 16 coach,
#: 23 police, 26 Hong Kong, 27 Macau, 31 armed police, 32 military, 51 large new-energy,
#: 52 small new-energy, 99 other.
PLATE_CLASS_OTHER = "99"
_CLASS_BY_SUFFIX = {
    "警": "23", "领": "04", "学": "16", "挂": "15", "港": "26", "澳": "27",
}  # fmt: skip
_CLASS_BY_COLOUR = {"blue": "02", "yellow": "01", "black": "06"}
_MILITARY = re.compile(r"^[A-Z]{2}\d{5}$")


def plate_class(plate: str | None, colour: str | None) -> str:
    """号牌种类 from the plate's form (the grammar of ``edge.plates.grammar``) and the colour
    the reader measured: a suffix or prefix decides first; an 8-character plate is
    new-energy (large when it ends in the class letter, 沪A12345D; small otherwise,
    沪AD12345) whatever colour it read as; an ordinary plate goes by its colour."""
    if not plate:
        return PLATE_CLASS_OTHER
    if plate.startswith("使"):
        return "03"
    if plate.startswith("WJ"):
        return "31"
    if _MILITARY.match(plate):
        return "32"
    suffix = _CLASS_BY_SUFFIX.get(plate[-1])
    if suffix:
        return suffix
    if len(plate) == 8 and plate[-1].isascii() and plate[2:7].isdigit():
        return "51"
    if len(plate) == 8 and plate[-4:].isdigit():
        return "52"
    return _CLASS_BY_COLOUR.get(str(colour), PLATE_CLASS_OTHER)


# -- replies --------------------------------------------------------------------------------
#: ResponseStatusObject.StatusCode (GA/T 1400.4)
STATUS_TEXT = {
    0: "OK",
    1: "OtherError",
    2: "Device Busy",
    3: "Device Error",
    4: "Invalid Operation",
    5: "Invalid XML Format",
    6: "Invalid XML Content",
    7: "Invalid JSON Format",
    8: "Invalid JSON Content",
    9: "Reboot",
}

Action = Literal["deliver", "retry", "dead"]

#: how many attempts a row gets when the platform answers "OtherError" (1): it may be a
#: passing fault or a refusal it has no code for; after this many it is dead-lettered
OTHER_ERROR_ATTEMPTS = 5
#: a StatusString some platforms send with a non-zero code for an object they already hold
_ALREADY_HELD = ("已存在", "重复", "already exist", "duplicate")


def action_for(code: int, text: str, attempts: int) -> Action:
    """What the box does with a row the platform answered with ``code``.

    0 delivered; 2 busy, 3 device error, 9 reboot: retry (the platform's own trouble);
    4-8 the content or operation is invalid: dead-letter (retrying cannot help);
    1 OtherError: "already held" texts are acknowledgements, otherwise retry up to
    :data:`OTHER_ERROR_ATTEMPTS` times, then dead-letter; any other code is outside the
    standard: dead-letter with it, never retry forever.
    """
    if code == 0:
        return "deliver"
    if code in (2, 3, 9):
        return "retry"
    if code in (4, 5, 6, 7, 8):
        return "dead"
    if code == 1:
        if any(word in text.lower() for word in _ALREADY_HELD):
            return "deliver"
        return "retry" if attempts + 1 < OTHER_ERROR_ATTEMPTS else "dead"
    return "dead"
