"""TikTok's chunk rules for ``FILE_UPLOAD``: the layout an init must declare.

A file of at most 64 MB may go in one chunk (a file under 5 MB must); a larger
one in chunks of 5 to 64 MB, the remainder joined to the last chunk (which may
reach 128 MB). ``total_chunk_count`` is ``floor(video_size / chunk_size)``,
1 to 1000, and chunks arrive in order. "MB" is taken as 1,000,000 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

MB = 1_000_000
MIN_CHUNK = 5 * MB
MAX_CHUNK = 64 * MB
MAX_LAST_CHUNK = 128 * MB
MAX_CHUNKS = 1000
#: The largest video TikTok takes: 4 GB.
MAX_VIDEO_SIZE = 4 * 1024**3


class LayoutError(ValueError):
    """A declared chunk layout that breaks TikTok's rules; the message says which."""


@dataclass(frozen=True)
class ChunkLayout:
    """How a ``FILE_UPLOAD`` of ``video_size`` bytes is cut into chunks."""

    video_size: int
    chunk_size: int
    total_chunk_count: int

    def chunk_range(self, index: int) -> tuple[int, int]:
        """The first and last byte of chunk ``index`` (0-based), inclusive."""
        first = index * self.chunk_size
        if index == self.total_chunk_count - 1:
            return first, self.video_size - 1
        return first, first + self.chunk_size - 1

    def chunk_starting_at(self, offset: int) -> int | None:
        """The index of the chunk that starts at byte ``offset``, or None."""
        index, rest = divmod(offset, self.chunk_size)
        if rest or index >= self.total_chunk_count:
            return None
        return index


def check_layout(
    video_size: int, chunk_size: int, total_chunk_count: int
) -> ChunkLayout:
    """The layout if TikTok accepts it, else :class:`LayoutError` naming the rule."""
    if not 0 < video_size <= MAX_VIDEO_SIZE:
        raise LayoutError(f"video_size must be 1 to {MAX_VIDEO_SIZE} bytes.")
    if chunk_size <= 0:
        raise LayoutError("chunk_size must be positive.")
    if video_size < MIN_CHUNK and chunk_size != video_size:
        raise LayoutError(
            "A video under 5 MB is uploaded in one chunk: chunk_size must equal"
            " video_size."
        )
    if chunk_size != video_size and not MIN_CHUNK <= chunk_size <= MAX_CHUNK:
        raise LayoutError(f"chunk_size must be {MIN_CHUNK} to {MAX_CHUNK} bytes.")
    if chunk_size > video_size:
        raise LayoutError("chunk_size cannot exceed video_size.")
    expected = video_size // chunk_size
    if total_chunk_count != expected:
        raise LayoutError(
            f"total_chunk_count must be floor(video_size / chunk_size) = {expected}."
        )
    if not 1 <= total_chunk_count <= MAX_CHUNKS:
        raise LayoutError(f"total_chunk_count must be 1 to {MAX_CHUNKS}.")
    if total_chunk_count == 1 and video_size > MAX_CHUNK:
        raise LayoutError("A video over 64 MB must be uploaded in several chunks.")
    layout = ChunkLayout(video_size, chunk_size, total_chunk_count)
    first, last = layout.chunk_range(total_chunk_count - 1)
    if last - first + 1 > MAX_LAST_CHUNK:
        raise LayoutError(f"The last chunk cannot exceed {MAX_LAST_CHUNK} bytes.")
    return layout
