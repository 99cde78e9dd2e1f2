"""Small, valid media files for tests of multimodal budgets: PNG images of any
size, PDFs of any page count and WAV audio of any length, with ``data:`` URLs
and the content parts each API takes. Built with the standard library only."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

__all__ = [
    "anthropic_image",
    "anthropic_pdf",
    "data_url",
    "openai_audio",
    "openai_file",
    "openai_image",
    "pdf",
    "png",
    "wav",
]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int) -> bytes:
    """A blank black-and-white PNG of ``width`` x ``height`` pixels (1 bit a
    pixel, so even 8000 x 8000 stays a few kilobytes)."""
    if width < 1 or height < 1:
        raise ValueError(f"an image needs a positive size, got {width} x {height}")
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte, then packed pixels
    z = zlib.compressobj(9)
    block = row * max(1, min(height, 65536 // len(row)))
    rows_per_block = len(block) // len(row)
    parts = [z.compress(block) for _ in range(height // rows_per_block)]
    parts.append(z.compress(row * (height % rows_per_block)))
    parts.append(z.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")
    )


def pdf(pages: int, text: str = "Page") -> bytes:
    """A PDF of ``pages`` pages, each with one line of ``text`` and its number."""
    if pages < 1:
        raise ValueError(f"a PDF needs at least one page, got {pages}")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids ["
        + b" ".join(f"{3 + 2 * i} 0 R".encode() for i in range(pages))
        + f"] /Count {pages} >>".encode(),
    ]
    font = 3 + 2 * pages
    for i in range(pages):
        content = f"BT /F1 24 Tf 72 720 Td ({text} {i + 1}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def wav(seconds: float, rate: int = 16_000) -> bytes:
    """``seconds`` of silence as 16-bit mono PCM WAV at ``rate`` Hz."""
    if seconds <= 0 or rate <= 0:
        raise ValueError(f"audio needs a positive length and rate, got {seconds} s at {rate} Hz")
    data = b"\x00\x00" * round(seconds * rate)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data))
    return b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data


def data_url(mime: str, data: bytes) -> str:
    """``data:<mime>;base64,...``."""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def openai_image(image: bytes, detail: str | None = None) -> dict[str, Any]:
    """A Chat Completions ``image_url`` part carrying ``image`` (PNG) inline."""
    part: dict[str, Any] = {"url": data_url("image/png", image)}
    if detail is not None:
        part["detail"] = detail
    return {"type": "image_url", "image_url": part}


def openai_file(document: bytes, filename: str = "doc.pdf") -> dict[str, Any]:
    """A Chat Completions ``file`` part carrying a PDF inline."""
    return {
        "type": "file",
        "file": {"filename": filename, "file_data": data_url("application/pdf", document)},
    }


def openai_audio(audio: bytes) -> dict[str, Any]:
    """A Chat Completions ``input_audio`` part carrying WAV audio."""
    return {"type": "input_audio", "input_audio": {"data": base64.b64encode(audio).decode(), "format": "wav"}}


def anthropic_image(image: bytes) -> dict[str, Any]:
    """An Anthropic ``image`` block carrying ``image`` (PNG) as base64."""
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": base64.b64encode(image).decode()},
    }


def anthropic_pdf(document: bytes) -> dict[str, Any]:
    """An Anthropic ``document`` block carrying a PDF as base64."""
    return {
        "type": "document",
        "source": {
            "type": "base64",
            "media_type": "application/pdf",
            "data": base64.b64encode(document).decode(),
        },
    }
