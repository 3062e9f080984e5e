"""A deterministic catalogue of tracks and marketplace products.

Fixed seed, not the config's: ids are stable across runs and profiles, and the seed
script's default ``STREAM_TRACK_ID`` is always the first track.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

STREAM_TRACK_ID = "00000000-0000-0000-0000-000000000001"
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
SEGMENT_SECONDS = 6
TRACK_COUNT = 400
PRODUCT_COUNT = 60
_CATALOGUE_SEED = 20260520

GENRES = (
    "rock",
    "jazz",
    "electronic",
    "lo-fi",
    "ambient",
    "house",
    "hip-hop",
    "classical",
    "folk",
    "pop",
)
_ADJECTIVES = (
    "Midnight", "Neon", "Velvet", "Golden", "Static", "Paper", "Hollow", "Electric",
    "Quiet", "Broken", "Silver", "Slow",
)  # fmt: skip
_NOUNS = (
    "Beat", "Drive", "Rain", "Echo", "Signal", "Tide", "Groove", "Dream", "Harbor",
    "Engine", "Garden", "Motel",
)  # fmt: skip
_ARTISTS = (
    "Nora Vale", "The Lanterns", "Kofi Mensah", "Luma", "Atlas Bloom", "DJ Ferro",
    "Sable & Oak", "Mira Sato", "Low Orbit", "Jules Marchand", "Brass Ghosts", "Tomas Reyes",
)  # fmt: skip
_GENRE_TAGS = {
    "lo-fi": ("chill", "beat", "study"),
    "hip-hop": ("beat", "rap"),
    "house": ("club", "four-on-the-floor"),
    "electronic": ("synth", "club"),
    "ambient": ("drone", "chill"),
    "jazz": ("swing", "live"),
    "rock": ("guitar", "live"),
}


@dataclass(frozen=True)
class Track:
    """One track; ``segments`` whole HLS segments of ``SEGMENT_SECONDS`` each."""

    id: str
    title: str
    artist: str
    genre: str
    tags: tuple[str, ...]
    segments: int
    created_at: str

    @property
    def duration_s(self) -> int:
        return self.segments * SEGMENT_SECONDS

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "artist": self.artist,
            "genre": self.genre,
            "tags": list(self.tags),
            "duration_s": self.duration_s,
            "created_at": self.created_at,
            "is_public": True,
            "stream_url": f"/api/v1/tracks/{self.id}/hls/master.m3u8",
        }


@dataclass(frozen=True)
class Product:
    """A marketplace product (a licence for one track)."""

    id: str
    track_id: str
    title: str
    price_cents: int
    currency: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "track_id": self.track_id,
            "title": self.title,
            "price_cents": self.price_cents,
            "currency": self.currency,
        }


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Catalogue:
    """Tracks and products with lookups, search and pages, answers pre-serialised.

    Search and list bodies are cached (bounded) because the seed asks the same few queries
    over and over; the emulator should not be the bottleneck of a throughput benchmark.
    """

    _CACHE_MAX = 512

    def __init__(self, track_count: int = TRACK_COUNT, product_count: int = PRODUCT_COUNT):
        rng = random.Random(_CATALOGUE_SEED)
        tracks: list[Track] = []
        for i in range(track_count):
            genre = GENRES[i % len(GENRES)]
            tracks.append(
                Track(
                    id=STREAM_TRACK_ID if i == 0 else _uuid(rng),
                    title=f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}",
                    artist=rng.choice(_ARTISTS),
                    genre=genre,
                    tags=_GENRE_TAGS.get(genre, ()),
                    segments=rng.randint(20, 70),
                    created_at=f"2026-{rng.randint(1, 5):02d}-{rng.randint(1, 28):02d}T12:00:00Z",
                )
            )
        self.tracks: tuple[Track, ...] = tuple(tracks)
        self._by_id = {t.id: t for t in self.tracks}
        self._haystacks = tuple(
            " ".join((t.title, t.artist, t.genre, *t.tags)).lower() for t in self.tracks
        )
        products: list[Product] = []
        for i in range(product_count):
            track = self.tracks[(i * 7) % track_count]
            products.append(
                Product(
                    id=_uuid(rng),
                    track_id=track.id,
                    title=f"{track.title} — standard licence",
                    price_cents=rng.choice((499, 999, 1499, 2999)),
                    currency="EUR",
                )
            )
        self.products: tuple[Product, ...] = tuple(products)
        self._products_by_id = {p.id: p for p in self.products}
        self._cache: dict[tuple[str, str, int, int], bytes] = {}

    def track(self, track_id: str) -> Track | None:
        return self._by_id.get(track_id)

    def product(self, product_id: str) -> Product | None:
        return self._products_by_id.get(product_id)

    def _cached(self, key: tuple[str, str, int, int], build: Callable[[], dict[str, Any]]) -> bytes:
        body = self._cache.get(key)
        if body is None:
            body = orjson.dumps(build())
            if len(self._cache) >= self._CACHE_MAX:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = body
        return body

    def search_body(self, query: str, limit: int) -> bytes:
        """Tracks whose title, artist, genre or tags contain ``query`` (case-insensitive)."""
        needle = query.strip().lower()

        def build() -> dict[str, Any]:
            hits = [t for t, hay in zip(self.tracks, self._haystacks, strict=True) if needle in hay]
            return {
                "data": [t.to_json() for t in hits[:limit]],
                "total": len(hits),
                "query": query,
            }

        return self._cached(("search", needle, limit, 0), build)

    def page_body(self, page: int, limit: int) -> bytes:
        """One page of the track list, newest first by position (stable order)."""

        def build() -> dict[str, Any]:
            start = (page - 1) * limit
            total = len(self.tracks)
            return {
                "data": [t.to_json() for t in self.tracks[start : start + limit]],
                "pagination": {
                    "page": page,
                    "limit": limit,
                    "total": total,
                    "total_pages": (total + limit - 1) // limit,
                },
            }

        return self._cached(("page", "", page, limit), build)

    def products_body(self, limit: int) -> bytes:
        def build() -> dict[str, Any]:
            return {
                "data": [p.to_json() for p in self.products[:limit]],
                "total": len(self.products),
            }

        return self._cached(("products", "", limit, 0), build)
