"""Open chunked uploads, bounded so that a long run cannot grow memory without limit."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass

MAX_OPEN_UPLOADS = 10_000


@dataclass
class Upload:
    """What the chunk endpoint needs to validate a chunk; counts only, no chunk data."""

    total_chunks: int
    total_size: int
    filename: str
    chunks_received: int = 0
    bytes_received: int = 0


class UploadRegistry:
    """Upload id -> state, oldest evicted first once ``capacity`` uploads are open.

    A real backend expires abandoned uploads; eviction by age is the bounded stand-in.
    A chunk for an evicted upload gets the same 400 as an unknown id.
    """

    def __init__(self, capacity: int = MAX_OPEN_UPLOADS) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self._capacity = capacity
        self._open: OrderedDict[str, Upload] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._open)

    def initiate(self, total_chunks: int, total_size: int, filename: str) -> str:
        while len(self._open) >= self._capacity:
            self._open.popitem(last=False)
            self.evicted += 1
        upload_id = str(uuid.uuid4())
        self._open[upload_id] = Upload(total_chunks, total_size, filename)
        return upload_id

    def get(self, upload_id: str) -> Upload | None:
        return self._open.get(upload_id)
