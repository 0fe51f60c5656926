"""Door stickers: one PNG per room, or print-ready PDF sheets of many (A4 with cut marks,
or one per label for a label printer).

The QR encodes only ``<base_url>/r/<token>`` (error correction M: survives a scuffed
sticker, still a low-density code for cheap phone cameras). The room label is printed
*beside* the code for the landlord, never inside it. The PDF embeds a subset of the CJK
TrueType font, so Chinese labels print the same on any printer or PDF viewer.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from edge.errors import UserError
from qr_registry.rooms import Room

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # Debian fonts-wqy-microhei
_PDF_FONT = "MenweiCJK"


class StickerError(UserError):
    """Stickers cannot be made. ``code`` says why, for the page's own words: ``font_missing``
    (the box lacks the CJK font), ``no_token`` (a room without a current QR code, ``room``
    in params), ``no_rooms``, ``layout``."""

    code = "stickers"


FONT_MISSING = "CJK font %(path)s missing (Debian package fonts-wqy-microhei)"


def font_problem() -> str | None:
    """What keeps stickers from printing on this box (the CJK font missing), or None."""
    if CJK_FONT.is_file():
        return None
    return FONT_MISSING % {"path": CJK_FONT}


def _no_token(room: Room) -> StickerError:
    return StickerError("room %(room)s has no current token", {"room": room.label}, code="no_token")


def room_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/r/{token}"


def _qr_image(url: str, box: int = 10) -> Image.Image:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box, border=4)
    code.add_data(url)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("RGB")


def qr_png(url: str, box: int = 6) -> bytes:
    """A bare QR code of ``url`` as PNG (a co-resident's consent link on the tenant's page)."""
    out = io.BytesIO()
    _qr_image(url, box).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _font(size: int) -> ImageFont.FreeTypeFont:
    if not CJK_FONT.is_file():
        raise StickerError(FONT_MISSING, {"path": CJK_FONT}, code="font_missing")
    return ImageFont.truetype(str(CJK_FONT), size)


def sticker_png(room: Room, base_url: str) -> bytes:
    """One room's sticker: the QR code, the room label and a one-line instruction."""
    if not room.token:
        raise _no_token(room)
    code = _qr_image(room_url(base_url, room.token))
    width = code.width
    canvas_img = Image.new("RGB", (width, width + 110), "white")
    canvas_img.paste(code, (0, 0))
    draw = ImageDraw.Draw(canvas_img)
    for text, y, size in (
        (room.label, width, 30),
        ("租户扫码登记 Scan to register", width + 50, 26),
    ):
        font = _font(size)
        left, _top, right, _bottom = draw.textbbox((0, 0), text, font=font)
        draw.text(((width - (right - left)) / 2, y + 8), text, fill="black", font=font)
    out = io.BytesIO()
    canvas_img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _register_font() -> None:
    if not CJK_FONT.is_file():  # asked each time: a font removed since still fails here
        raise StickerError(FONT_MISSING, {"path": CJK_FONT}, code="font_missing")
    if _PDF_FONT in pdfmetrics.getRegisteredFontNames():
        return
    pdfmetrics.registerFont(TTFont(_PDF_FONT, str(CJK_FONT), subfontIndex=0))


@dataclass(frozen=True)
class SheetLayout:
    """A page size and the sticker cells on it: as many as fit, gutters for cut marks."""

    name: str
    page: tuple[float, float]  # points
    cell: tuple[float, float]  # points
    gutter: float  # points between cells (cut marks live there)
    cut_marks: bool

    def grid(self) -> tuple[int, int, float, float]:
        """Columns, rows, and the left and top margins that centre the grid."""
        (page_w, page_h), (cell_w, cell_h) = self.page, self.cell
        cols = max(1, int((page_w - 2 * MIN_MARGIN + self.gutter) // (cell_w + self.gutter)))
        rows = max(1, int((page_h - 2 * MIN_MARGIN + self.gutter) // (cell_h + self.gutter)))
        used_w = cols * cell_w + (cols - 1) * self.gutter
        used_h = rows * cell_h + (rows - 1) * self.gutter
        return cols, rows, (page_w - used_w) / 2, (page_h - used_h) / 2


MIN_MARGIN = 6 * mm  # most office printers cannot print closer to the edge
LAYOUTS = {
    "a4": SheetLayout("a4", A4, (62 * mm, 88 * mm), 4 * mm, True),
    # one sticker per label, for a thermal label printer with 60 x 80 mm labels
    "label": SheetLayout("label", (60 * mm, 80 * mm), (60 * mm, 80 * mm), 0, False),
}
TITLE = "出租房屋登记"
INSTRUCTIONS = "扫码登记 · 信息仅用于出租房屋登记"


def pipl_notice(controller: str) -> str:
    """The PIPL notice printed under the code: who handles the data, and for what."""
    return (
        f"个人信息处理者：{controller}。依据《个人信息保护法》，扫码填写的信息仅用于"
        "出租房屋登记及依法向公安机关报送，不作他用。"
    )


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    lines, line = [], ""
    for char in text:
        if pdfmetrics.stringWidth(line + char, font, size) > width and line:
            lines.append(line)
            line = ""
        line += char
    return [*lines, line] if line else lines


def _vector_qr(pdf: canvas.Canvas, url: str, x: float, y: float, side: float) -> None:
    """The QR code as filled squares (vector): sharp at any printer resolution, unlike a
    bitmap the printer or viewer resamples."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()  # includes the quiet zone
    module = side / len(matrix)
    pdf.setFillGray(0)
    path = pdf.beginPath()
    for row, cells in enumerate(matrix):
        start = None
        for col, dark in enumerate([*cells, False]):
            if dark and start is None:
                start = col
            elif not dark and start is not None:  # one rectangle per run of dark modules
                top = y + side - (row + 1) * module
                path.rect(x + start * module, top, (col - start) * module, module)
                start = None
    pdf.drawPath(path, stroke=0, fill=1)


def _cut_marks(pdf: canvas.Canvas, x: float, y: float, w: float, h: float) -> None:
    """Short marks just outside each corner: cut along them, the sticker has no border."""
    pdf.setStrokeGray(0.3)
    pdf.setDash()
    pdf.setLineWidth(0.3)
    length, gap = 2.5 * mm, 0.8 * mm
    for cx, dx in ((x, -1), (x + w, 1)):
        for cy, dy in ((y, -1), (y + h, 1)):
            pdf.line(cx + dx * gap, cy, cx + dx * (gap + length), cy)
            pdf.line(cx, cy + dy * gap, cx, cy + dy * (gap + length))


def _sticker(
    pdf: canvas.Canvas,
    room: Room,
    url: str,
    x: float,
    y: float,
    w: float,
    h: float,
    controller: str,
) -> None:
    """One sticker in the cell whose lower-left corner is (x, y): title, the room in large
    type, the QR code, the instructions and the PIPL notice."""
    scale = min(w / (62 * mm), h / (88 * mm))
    centre, top = x + w / 2, y + h
    pdf.setFillGray(0)
    pdf.setFont(_PDF_FONT, 11 * scale)
    pdf.drawCentredString(centre, top - 7 * mm * scale, TITLE)
    place = room.place or room.label
    size = 17 * scale
    while pdfmetrics.stringWidth(place, _PDF_FONT, size) > w - 4 * mm and size > 8:
        size -= 0.5
    pdf.setFont(_PDF_FONT, size)
    pdf.drawCentredString(centre, top - 15 * mm * scale, place)
    side = 50 * mm * scale
    qr_top = top - 18 * mm * scale
    _vector_qr(pdf, url, centre - side / 2, qr_top - side, side)
    pdf.setFont(_PDF_FONT, 8 * scale)
    pdf.drawCentredString(centre, qr_top - side - 4 * mm * scale, INSTRUCTIONS)
    notice_size = 5.5 * scale
    pdf.setFont(_PDF_FONT, notice_size)
    line_y = qr_top - side - 8.5 * mm * scale
    for line in _wrap(pipl_notice(controller), _PDF_FONT, notice_size, w - 5 * mm)[:4]:
        pdf.drawCentredString(centre, line_y, line)
        line_y -= notice_size * 1.35


def sticker_sheet_pdf(
    rooms: Sequence[Room],
    base_url: str,
    title: str = "",
    layout: str = "a4",
    controller: str = "",
) -> bytes:
    """Sticker pages (``layout`` 'a4': as many per sheet as fit, with cut marks; 'label':
    one per label), each sticker with a title, the room in large type, the QR code, short
    Chinese instructions and the PIPL notice naming ``controller`` (the data's handler;
    the room's community when empty). Empty ``rooms`` is an error."""
    if not rooms:
        raise StickerError("no rooms to print", code="no_rooms")
    if layout not in LAYOUTS:
        raise StickerError("unknown sticker size %(layout)r", {"layout": layout}, code="layout")
    _register_font()
    sheet = LAYOUTS[layout]
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=sheet.page, pageCompression=1)
    pdf.setTitle(title or "Menwei QR stickers")
    cols, rows, left, top_margin = sheet.grid()
    cell_w, cell_h = sheet.cell
    page_h = sheet.page[1]
    per_page = cols * rows
    for index, room in enumerate(rooms):
        if not room.token:
            raise _no_token(room)
        if index and index % per_page == 0:
            pdf.showPage()
        slot = index % per_page
        col, row = slot % cols, slot // cols
        x = left + col * (cell_w + sheet.gutter)
        y = page_h - top_margin - (row + 1) * cell_h - row * sheet.gutter
        if sheet.cut_marks:
            _cut_marks(pdf, x, y, cell_w, cell_h)
        url = room_url(base_url, room.token)
        _sticker(pdf, room, url, x, y, cell_w, cell_h, controller or room.community)
    pdf.showPage()
    pdf.save()
    return out.getvalue()
