"""Door stickers: one PNG per room, or print-ready A4 PDF sheets of many.

The QR encodes only ``<base_url>/r/<token>`` (error correction M: survives a scuffed
sticker, still a low-density code for cheap phone cameras). The room label is printed
*beside* the code for the landlord, never inside it. The PDF embeds a subset of the CJK
TrueType font, so Chinese labels print the same on any printer or PDF viewer.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont
from qrcode.constants import ERROR_CORRECT_M
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from edge.errors import UserError
from qr_registry.rooms import Room

CJK_FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # Debian fonts-wqy-microhei
_PDF_FONT = "MenweiCJK"
COLUMNS, ROWS = 3, 4  # 12 stickers of 60 x 66 mm on an A4 sheet


class StickerError(UserError):
    """Stickers cannot be made (no font, or a room without a current token)."""

    code = "stickers"


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
    if not CJK_FONT.exists():
        raise StickerError(f"CJK font {CJK_FONT} missing (Debian package fonts-wqy-microhei)")
    return ImageFont.truetype(str(CJK_FONT), size)


def sticker_png(room: Room, base_url: str) -> bytes:
    """One room's sticker: the QR code, the room label and a one-line instruction."""
    if not room.token:
        raise StickerError(f"room {room.id} has no current token")
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
    if _PDF_FONT in pdfmetrics.getRegisteredFontNames():
        return
    if not CJK_FONT.exists():
        raise StickerError(f"CJK font {CJK_FONT} missing (Debian package fonts-wqy-microhei)")
    pdfmetrics.registerFont(TTFont(_PDF_FONT, str(CJK_FONT), subfontIndex=0))


def sticker_sheet_pdf(rooms: Sequence[Room], base_url: str, title: str = "") -> bytes:
    """A4 pages, 3 x 4 stickers each, with cut margins; empty ``rooms`` is an error."""
    if not rooms:
        raise StickerError("no rooms to print")
    _register_font()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setTitle(title or "Menwei QR stickers")
    page_w, page_h = A4
    cell_w, cell_h = 60 * mm, 66 * mm
    margin_x = (page_w - COLUMNS * cell_w) / 2
    margin_y = (page_h - ROWS * cell_h) / 2
    per_page = COLUMNS * ROWS
    for index, room in enumerate(rooms):
        if not room.token:
            raise StickerError(f"room {room.id} has no current token")
        if index and index % per_page == 0:
            pdf.showPage()
        slot = index % per_page
        col, row = slot % COLUMNS, slot // COLUMNS
        x = margin_x + col * cell_w
        y = page_h - margin_y - (row + 1) * cell_h
        pdf.setStrokeGray(0.75)
        pdf.setDash(2, 2)
        pdf.rect(x, y, cell_w, cell_h)
        qr = _qr_image(room_url(base_url, room.token), box=8)
        side = 46 * mm
        pdf.drawImage(ImageReader(qr), x + (cell_w - side) / 2, y + 16 * mm, side, side)
        pdf.setFont(_PDF_FONT, 10)
        pdf.drawCentredString(x + cell_w / 2, y + 10 * mm, room.label[:40])
        pdf.setFont(_PDF_FONT, 8)
        pdf.drawCentredString(x + cell_w / 2, y + 5 * mm, "租户扫码登记 Scan to register")
    pdf.showPage()
    pdf.save()
    return out.getvalue()
