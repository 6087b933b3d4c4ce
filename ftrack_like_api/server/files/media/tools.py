"""ffmpeg and ffprobe: finding them, running them, and what ffprobe says of a file.

The server encodes with the ``ffmpeg`` and ``ffprobe`` programs of the machine it runs on
(Debian's package ``ffmpeg``). :func:`find_tools` finds both, or raises :class:`MissingTool`
naming what to install; :func:`run` runs one with a time limit and raises :class:`ToolFailed`
with ffmpeg's last error line; :func:`probe` reads what a file holds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from fractions import Fraction
from typing import Any, Sequence

__all__ = ["MissingTool", "Probe", "ToolFailed", "Tools", "find_tools", "last_line", "probe", "run"]

#: Where to look first for the programs (else the ``PATH``): a folder holding ``ffmpeg`` and ``ffprobe``.
FFMPEG_VARIABLE = "FTRACK_LIKE_FFMPEG"
#: Formats ffprobe names for a still image (one picture, not a movie).
_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "tiff_pipe", "webp_pipe", "exr_pipe", "dpx_pipe",
                  "sgi_pipe", "pgm_pipe", "ppm_pipe", "pam_pipe", "psd_pipe", "qoi_pipe", "j2k_pipe", "jpegls_pipe")  # fmt: skip


class MissingTool(RuntimeError):
    """ffmpeg or ffprobe is not installed where the server runs."""


class ToolFailed(RuntimeError):
    """ffmpeg or ffprobe failed: the message is its last error line."""


@dataclasses.dataclass(frozen=True)
class Tools:
    """The paths of the two programs."""

    ffmpeg: str
    ffprobe: str


def find_tools() -> Tools:
    """ffmpeg and ffprobe, from ``FTRACK_LIKE_FFMPEG`` (a folder) or the ``PATH``; :class:`MissingTool` if not found."""
    folder = os.environ.get(FFMPEG_VARIABLE)
    found = {}
    for name in ("ffmpeg", "ffprobe"):
        path = shutil.which(name, path=folder) if folder else shutil.which(name)
        if path is None:
            where = f"in {folder} ({FFMPEG_VARIABLE})" if folder else "on the server's PATH"
            raise MissingTool(f"Media encoding needs {name}, which is not installed {where}: install ffmpeg "
                              "(Debian/Ubuntu: apt-get install ffmpeg) and restart the server")  # fmt: skip
        found[name] = path
    return Tools(found["ffmpeg"], found["ffprobe"])


def last_line(text: str) -> str:
    """The last line of a program's error output that says something (ffmpeg ends with the cause)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:500] if lines else "no error output"


def run(command: Sequence[str], timeout: float) -> str:
    """Run ``command``; its output, or :class:`ToolFailed` with its last error line (or the time it overran)."""
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ToolFailed(f"{os.path.basename(command[0])} ran longer than {timeout:g} s and was stopped") from None
    except OSError as error:
        raise ToolFailed(f"{os.path.basename(command[0])} could not run: {error}") from None
    if done.returncode != 0:
        raise ToolFailed(last_line(done.stderr))
    return done.stdout


@dataclasses.dataclass(frozen=True)
class Probe:
    """What ffprobe reads of a file: a still image or a movie, its picture size, rate and frames."""

    image: bool
    width: int
    height: int
    #: Frames a second (a movie; 0 for an image).
    frame_rate: float
    #: How many frames (1 for an image).
    frames: int
    #: Seconds (0 for an image).
    duration: float
    audio: bool

    def metadata(self) -> dict[str, Any]:
        """ftrack's ``ftr_meta`` for a review component of this file."""
        if self.image:
            return {"format": "image", "width": self.width, "height": self.height}
        rate: float | int = int(self.frame_rate) if float(self.frame_rate).is_integer() else round(self.frame_rate, 3)
        return {"frameIn": 0, "frameOut": self.frames, "frameRate": rate, "width": self.width, "height": self.height}


def probe(tools: Tools, path: str, timeout: float, count: bool = False) -> Probe:
    """What ``path`` holds; :class:`ToolFailed` when it is no picture or movie ffprobe reads.

    With ``count``, the frames are counted (each packet read: exact, for the files we write);
    else they are the stream's count, or its duration times its rate.
    """
    command = [tools.ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams"]
    if count:
        command += ["-count_packets", "-select_streams", "v:0"]
    said = json.loads(run(command + ["--", path], timeout) or "{}")
    streams = said.get("streams") or []
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    if video is None:
        raise ToolFailed("the file holds no picture or video stream ffmpeg can read")
    kind = str((said.get("format") or {}).get("format_name") or "")
    image = kind in _IMAGE_FORMATS
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise ToolFailed("the picture has no size ffmpeg can read")
    if image:
        return Probe(True, width, height, 0.0, 1, 0.0, False)
    rate = _rate(video.get("avg_frame_rate")) or _rate(video.get("r_frame_rate")) or 24.0
    duration = _number(video.get("duration")) or _number((said.get("format") or {}).get("duration")) or 0.0
    frames = int(video.get("nb_read_packets") or video.get("nb_frames") or round(duration * rate) or 1)
    audio = any(s.get("codec_type") == "audio" for s in streams)
    return Probe(False, width, height, rate, frames, duration, audio)


def _rate(text: Any) -> float:
    try:
        value = Fraction(str(text))
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value) if value > 0 else 0.0


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return 0.0
