"""Thumbnails: a component's image scaled to fit a square, as a PNG or a JPEG, cached in the file store.

:func:`thumbnail` answers a :class:`Thumbnail` (the image, its type and its ETag) for a component id and a
size in pixels: from the store's cache (``FileStore.read_thumbnail``) when it was made before,
else made from the component's file with Pillow and cached (``write_thumbnail``; the store
drops a key's thumbnails when its file is removed or replaced). An image is only ever made
smaller: one that already fits is re-encoded at its own size.

Read: JPEG, PNG, TIFF (8 and 16 bits, and float), GIF, BMP, WebP, TGA, SGI, PSD, PPM — and
nothing that would run an interpreter (no EPS). OpenEXR is not among them: Pillow cannot read
it, and that is said as such. A PNG's thumbnail is a PNG made as ftrack's server makes it
(:func:`_png`: the same bytes for the same image, which ftrack's own test suite compares);
every other image's is a JPEG, transparency laid on white. 16-bit and float images are
brought to 8 bits; the camera's orientation (EXIF) is applied. Images of more than
:data:`MAX_PIXELS` are refused before they are decoded.

Errors (all :class:`~.store.StoreError`, so a route maps them with the store's)::

    ThumbnailError          a thumbnail that cannot be made
     ├── BadSize            the size asked for is not a whole number from 1 to MAX_SIZE (400)
     └── NotAnImage         the file is not an image this server reads (415)
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import tempfile
import time
import warnings
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator

from .store import FileStore, NotStored, StoreError, check_key

if TYPE_CHECKING:
    from .signing import Signer

__all__ = [
    "BadSize",
    "CACHE_CONTROL",
    "DEFAULT_SIZE",
    "LINK_LIFETIME",
    "MAX_PIXELS",
    "MAX_SIZE",
    "MAX_SOURCE",
    "NotAnImage",
    "READABLE",
    "Thumbnail",
    "ThumbnailError",
    "cached",
    "link_signer",
    "parse_size",
    "scale",
    "thumbnail",
]

log = logging.getLogger(__name__)

#: The largest square a thumbnail is asked for, in pixels.
MAX_SIZE = 4096
#: The size when none is asked for (ftrack's clients ask for 300).
DEFAULT_SIZE = 300
#: The largest file read from a store that is not on a disk (S3) to make a thumbnail of.
MAX_SOURCE = 1024 * 1024 * 1024
#: The most pixels an image may have to be made a thumbnail of (a 12K plate has 80 M).
MAX_PIXELS = 100_000_000
#: Pillow's formats read: the common image files, none that runs an interpreter (EPS would run Ghostscript).
READABLE = ("JPEG", "PNG", "TIFF", "GIF", "BMP", "WEBP", "TGA", "SGI", "PSD", "PPM")
#: How long a client may keep a thumbnail without asking again (then it asks with If-None-Match).
CACHE_CONTROL = "private, max-age=3600"
#: How long the token in a ``thumbnail_url`` link works: a day from the next whole hour, so the
#: link stays the same for an hour (browsers and clients cache the image by it).
LINK_LIFETIME = 24 * 3600
#: JPEG quality of a thumbnail.
QUALITY = 85
#: Bytes of a component's file kept in memory while it is read; the rest goes to a temporary file.
_SPOOL = 16 * 1024 * 1024
#: The first bytes of an OpenEXR file.
_EXR_MAGIC = b"\x76\x2f\x31\x01"
#: The first bytes of a PNG file.
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class ThumbnailError(StoreError):
    """A thumbnail that cannot be made."""


class BadSize(ThumbnailError, ValueError):
    """The size asked for is not a whole number of pixels from 1 to :data:`MAX_SIZE`."""


class NotAnImage(ThumbnailError):
    """The component's file is not an image this server can read."""


@dataclass(frozen=True)
class Thumbnail:
    """A thumbnail: its bytes (PNG or JPEG), their media type and an ETag for them (quoted, as HTTP writes it)."""

    data: bytes
    etag: str
    content_type: str = "image/jpeg"


def parse_size(value: object) -> int:
    """The size in a request (``"300"``, 300, None for the default) as pixels; else :class:`BadSize`."""
    if value is None or value == "":
        return DEFAULT_SIZE
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or len(text) > 5 or not 1 <= int(text) <= MAX_SIZE:
        raise BadSize(f"size must be a whole number of pixels from 1 to {MAX_SIZE}, not {str(value)[:20]!r}")
    return int(text)


def thumbnail(store: FileStore, key: str, size: int) -> Thumbnail:
    """The thumbnail of component ``key`` fitting ``size`` x ``size`` pixels: from the cache, else made and cached.

    Raises :class:`~.store.NotStored` when the component has no file, :class:`NotAnImage`
    when it cannot be read as an image, :class:`BadSize` for a size out of range.
    """
    key, size = check_key(key), parse_size(size)
    made = cached(store, key, size)
    if made is not None:
        return made
    with _source(store, key) as source:
        data = scale(source, size)
    store.write_thumbnail(key, size, data)
    log.debug("thumbnail of %s at %d px made (%d bytes)", key, size, len(data))
    return _answer(data)


def cached(store: FileStore, key: str, size: int) -> Thumbnail | None:
    """The thumbnail of component ``key`` at ``size`` pixels if it was made before, else None (nothing is made)."""
    data = store.read_thumbnail(check_key(key), parse_size(size))
    return None if data is None else _answer(data)


def _answer(data: bytes) -> Thumbnail:
    kind = "image/png" if data.startswith(_PNG_MAGIC) else "image/jpeg"
    return Thumbnail(data, f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}"', kind)


@contextlib.contextmanager
def _source(store: FileStore, key: str) -> Iterator[IO[bytes]]:
    """The component's file to read: itself on a disk, else a copy (at most :data:`MAX_SOURCE` bytes)."""
    path = store.path(key)
    if path is not None:
        try:
            opened = path.open("rb")
        except FileNotFoundError:
            raise NotStored(f"No file is stored for component {key}") from None
        with opened:
            yield opened
        return
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as copy:
        for chunk in store.open(key):
            copy.write(chunk)
            if copy.tell() > MAX_SOURCE:
                raise NotAnImage(f"The file is over {MAX_SOURCE // 2**20} MiB: too large to make a thumbnail of")
        copy.seek(0)
        yield copy


def link_signer(signer: Signer) -> Callable[[str], str]:
    """A function from a component id to the signed token of a link to its thumbnails (``thumbnail_url``).

    The token is a download token of the component (``/component/get`` and
    ``/component/thumbnail`` take it), expiring :data:`LINK_LIFETIME` after the next whole
    hour. Reads the signing secret now (a database read, or a write the first time ever), so
    that signing inside a batch's transaction touches no database.
    """
    signer.secret()

    def token(component_id: str) -> str:
        now = time.time()
        expires = (now + LINK_LIFETIME) // 3600 * 3600 + 3600
        return signer.sign("download", {"c": component_id}, expires - now + 0.5)

    return token


def scale(source: IO[bytes], size: int) -> bytes:
    """The image read from ``source`` made to fit ``size`` x ``size`` pixels (never larger): a PNG's as PNG bytes, others' as JPEG."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    size = parse_size(size)
    start = source.read(4)
    source.seek(0)
    if start == _EXR_MAGIC:
        raise NotAnImage("The file is an OpenEXR image, which this server's Pillow cannot read: "
                         "give the component a JPEG, PNG or TIFF thumbnail")  # fmt: skip
    try:
        with warnings.catch_warnings():
            # Past Pillow's own limit it warns; here anything over MAX_PIXELS is refused below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source, formats=READABLE) as image:
                image.draft("RGB", (size, size))  # JPEG: decode at the nearest scale above the size, much less work
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise NotAnImage(f"The image is {width} x {height} pixels, more pixels than this server makes "
                                     f"thumbnails of ({MAX_PIXELS:,})")  # fmt: skip
                image.load()
                picture = ImageOps.exif_transpose(image)
                if image.format == "PNG":
                    return _png(picture, size)
                picture.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
                picture = _eight_bit_rgb(picture)
                out = io.BytesIO()
                picture.save(out, "JPEG", quality=QUALITY, optimize=True)
                return out.getvalue()
    except Image.DecompressionBombError as error:
        raise NotAnImage(f"The image has more pixels than this server makes thumbnails of ({error})") from error
    except UnidentifiedImageError as error:
        raise NotAnImage(f"The file is not an image this server reads ({', '.join(READABLE)})") from error
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise NotAnImage(f"The image could not be read ({type(error).__name__}: {str(error)[:200]})") from error


def _png(image: Any, size: int) -> bytes:
    """A PNG's thumbnail as ftrack's server makes it: scaled in full colour with Lanczos (no reduction first),
    a palette image given a palette of its own again (256 entries, unused ones black), transparency kept."""
    from PIL import Image

    transparent = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    picture = image.convert("RGBA") if transparent else _eight_bit_rgb(image)
    picture.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=None)
    if image.mode == "P" and not transparent:
        picture = picture.convert("P", palette=Image.Palette.ADAPTIVE)
        colours = picture.getpalette() or []
        picture.putpalette(colours + [0] * (768 - len(colours)))
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def _eight_bit_rgb(image: Any) -> Any:
    """``image`` as 8-bit RGB: transparency laid on white, 16-bit and float brought to 0-255."""
    from PIL import Image

    mode = image.mode
    if mode == "F":  # float: 0.0-1.0 is black to white
        return image.point(lambda value: value * 255.0).convert("L").convert("RGB")
    if mode.startswith("I"):
        if mode != "I":
            image = image.convert("I")
        high = image.getextrema()[1]
        factor = 1 / 257 if 255 < high <= 65535 else 255 / high if high > 65535 else 1.0
        return image.point(lambda value: value * factor).convert("L").convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode != "RGB":
        return image.convert("RGB")
    return image

