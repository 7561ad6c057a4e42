"""Residents' photos, made safe to keep and show: size and type limits, re-encoded, EXIF stripped.

A photo is decoded by Pillow (JPEG, PNG or WebP only, at most ``MAX_PIXELS``), turned upright
by its EXIF orientation, shrunk to ``MAX_SIDE`` and saved again as a fresh JPEG with no metadata:
the GPS position, the phone's make and the time a photo carries never reach the disk.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from knowledge.errors import BadRequest, MenpaiError

ALLOWED = {"JPEG", "PNG", "WEBP"}
MAX_PIXELS = 40_000_000  # a phone photo is 12–50 MP; a "decompression bomb" is far more
MAX_SIDE = 2000  # enough to read a certificate, small enough for staff on a slow link
QUALITY = 85


class PhotoTooLarge(MenpaiError):
    status = 413
    code = "too_large"


def clean_photo(data: bytes, max_bytes: int) -> bytes:
    """The photo re-encoded as JPEG without metadata.

    Raises:
        PhotoTooLarge: more than ``max_bytes``, or more than ``MAX_PIXELS`` pixels.
        BadRequest: empty, or not a JPEG, PNG or WebP image.
    """
    if not data:
        raise BadRequest("没有收到图片：请选一张照片再上传")
    if len(data) > max_bytes:
        raise PhotoTooLarge(f"图片太大了（{len(data) // 1024} KB），最大 {max_bytes // 1024} KB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format
                width, height = probe.size
            if kind not in ALLOWED:
                raise BadRequest(f"只收 JPG、PNG 或 WebP 照片，这个文件是 {kind or '未知格式'}")
            if width * height > MAX_PIXELS:
                raise PhotoTooLarge(f"图片像素太多（{width}×{height}），请拍小一点再传")
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                upright = ImageOps.exif_transpose(img)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadRequest("这个文件不是能打开的照片（只收 JPG、PNG 或 WebP）") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadRequest(f"照片打不开（文件可能不完整）：{exc.__class__.__name__}") from None
    if upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    out = io.BytesIO()
    # A new image object carries no info dict: no EXIF, no XMP, no ICC comments are written.
    fresh = Image.new(upright.mode, upright.size)
    fresh.paste(upright)
    fresh.save(out, "JPEG", quality=QUALITY, optimize=True)
    return out.getvalue()
