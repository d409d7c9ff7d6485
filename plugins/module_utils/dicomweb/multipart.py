"""``multipart/related; type="application/dicom"`` bodies streamed from disk.

The body is never held in memory: parts are read from their files into one reusable buffer of
``chunk_size`` bytes and yielded as ``memoryview`` slices (consume each before asking for the
next, as ``socket.sendall`` does). The exact ``Content-Length`` is known up front, so the request
needs no chunked transfer encoding (which some proxies and PACS reject).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence

CRLF = b"\r\n"
DEFAULT_CHUNK = 1024 * 1024


class MultipartRelated:
    """A multipart/related body over files (one part per DICOM instance)."""

    def __init__(
        self,
        files: Sequence[str | os.PathLike[str]],
        *,
        part_type: str = "application/dicom",
        boundary: str | None = None,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        if not files:
            raise ValueError("a multipart body needs at least one file")
        self.files = [os.fspath(f) for f in files]
        self.part_type = part_type
        self.boundary = boundary or f"stowpath-{secrets.token_hex(16)}"
        self.chunk_size = chunk_size
        self._head = f"--{self.boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode()
        self._tail = f"\r\n--{self.boundary}--\r\n".encode()
        self._sep = f"\r\n--{self.boundary}\r\nContent-Type: {part_type}\r\n\r\n".encode()

    @property
    def content_type(self) -> str:
        return f'multipart/related; type="{self.part_type}"; boundary={self.boundary}'

    @property
    def payload_bytes(self) -> int:
        return sum(os.path.getsize(f) for f in self.files)

    def __len__(self) -> int:
        return self.payload_bytes + len(self._head) + (len(self.files) - 1) * len(self._sep) + len(self._tail)

    def __iter__(self) -> Iterator[memoryview]:
        buf = bytearray(self.chunk_size)
        view = memoryview(buf)
        for index, path in enumerate(self.files):
            yield memoryview(self._head if index == 0 else self._sep)
            with open(path, "rb", buffering=0) as fh:
                while True:
                    n = fh.readinto(buf)
                    if not n:
                        break
                    yield view[:n]
        yield memoryview(self._tail)


class SinglePart:
    """One file as a single-part ``application/dicom`` body, streamed like the multipart one."""

    def __init__(self, path: str | os.PathLike[str], chunk_size: int = DEFAULT_CHUNK,
                 content_type: str = "application/dicom") -> None:
        self.path = os.fspath(path)
        self.chunk_size = chunk_size
        self.content_type = content_type

    def __len__(self) -> int:
        return os.path.getsize(self.path)

    def __iter__(self) -> Iterator[memoryview]:
        buf = bytearray(self.chunk_size)
        view = memoryview(buf)
        with open(self.path, "rb", buffering=0) as fh:
            while True:
                n = fh.readinto(buf)
                if not n:
                    break
                yield view[:n]
