"""What the server makes of a source file, and making it with ffmpeg.

As ftrack's server does, a movie gives three components and a still image two:

=======================  ==============  =========================================================
component name           format          what it is
=======================  ==============  =========================================================
``ftrackreview-mp4``     ``video/mp4``   H.264 (and AAC sound), at most 1280×720, for the browser
``ftrackreview-webm``    ``video/webm``  VP8 (and Vorbis sound), the same size
``ftrackreview-image``   ``image/jpeg``  a still image, at most 2048 pixels a side
``thumbnail``            ``image/jpeg``  one picture (a movie's middle frame), at most 1024 a side
=======================  ==============  =========================================================

Each review component carries ftrack's ``ftr_meta`` metadata read from the file made
(``frameIn``, ``frameOut``, ``frameRate``, ``width``, ``height``; ``format``: ``image`` for
an image), the thumbnail none.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from .tools import Probe, Tools, probe, run

__all__ = ["IMAGE_TYPES", "Output", "Planned", "encode", "ftr_meta", "plan_for"]


@dataclasses.dataclass(frozen=True)
class Planned:
    """One component to make: its name, format (a MIME type) and file extension."""

    name: str
    format: str
    file_type: str


@dataclasses.dataclass(frozen=True)
class Output:
    """One file made: what it is, where it is, its size and its ``ftr_meta`` (None: none)."""

    planned: Planned
    path: str
    size: int
    metadata: dict[str, Any] | None


MP4 = Planned("ftrackreview-mp4", "video/mp4", ".mp4")
WEBM = Planned("ftrackreview-webm", "video/webm", ".webm")
IMAGE = Planned("ftrackreview-image", "image/jpeg", ".jpg")
THUMBNAIL = Planned("thumbnail", "image/jpeg", ".jpg")


#: File types encoded as a still image (anything else is taken for a movie).
IMAGE_TYPES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".exr", ".dpx", ".bmp", ".tga", ".webp", ".psd",
                         ".jp2", ".j2k", ".sgi", ".rgb", ".ppm", ".pgm", ".hdr", ".cin", ".qoi"})  # fmt: skip


def plan_for(file_type: str | None) -> list[Planned]:
    """The components a source of ``file_type`` (``.mov``, ``.png`` …) makes: an image's two, else a movie's three.

    Decided by the source's file type, as the job's data names its outputs before it runs.
    """
    return [IMAGE, THUMBNAIL] if (file_type or "").lower() in IMAGE_TYPES else [MP4, WEBM, THUMBNAIL]


def _fit(width: int, height: int, even: bool) -> str:
    """A scale filter: no larger than ``width``×``height``, the aspect kept (even sides for a video codec)."""
    return (f"scale=w='min({width},iw)':h='min({height},ih)':force_original_aspect_ratio=decrease"
            f":force_divisible_by={2 if even else 1}")  # fmt: skip


def _command(tools: Tools, planned: Planned, source_path: str, source: Probe, target: str) -> list[str]:
    head = [tools.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    if planned is THUMBNAIL and not source.image and source.duration > 0:
        head += ["-ss", f"{source.duration / 2:.3f}"]
    head += ["-i", source_path, "-threads", "2"]
    if planned is MP4:
        return head + ["-map", "0:v:0", "-map", "0:a:0?", "-vf", _fit(1280, 720, True), "-c:v", "libx264", "-preset",
                       "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-c:a", "aac",
                       "-b:a", "128k", "-f", "mp4", target]  # fmt: skip
    if planned is WEBM:
        return head + ["-map", "0:v:0", "-map", "0:a:0?", "-vf", _fit(1280, 720, True), "-c:v", "libvpx", "-deadline",
                       "realtime", "-cpu-used", "8", "-b:v", "1M", "-crf", "10", "-pix_fmt", "yuv420p", "-c:a",
                       "libvorbis", "-f", "webm", target]  # fmt: skip
    side = 2048 if planned is IMAGE else 1024
    return head + ["-map", "0:v:0", "-frames:v", "1", "-vf", _fit(side, side, False), "-q:v", "3", "-f", "image2",
                   "-c:v", "mjpeg", target]  # fmt: skip


def encode(tools: Tools, source_path: str, source: Probe, planned: list[Planned], folder: str,
           timeout: float) -> list[Output]:  # fmt: skip
    """Make each ``planned`` component of ``source_path`` in ``folder``; ToolFailed (ffmpeg's last error line) if one fails."""
    made = []
    for number, one in enumerate(planned):
        target = os.path.join(folder, f"{number}-{one.name}{one.file_type}")
        run(_command(tools, one, source_path, source, target), timeout)
        result = probe(tools, target, timeout, count=one in (MP4, WEBM))
        made.append(Output(one, target, os.path.getsize(target), None if one is THUMBNAIL else result.metadata()))
    return made


def ftr_meta(output: Output) -> str | None:
    """The ``ftr_meta`` value of an output, as ftrack stores it (JSON text)."""
    return None if output.metadata is None else json.dumps(output.metadata)
