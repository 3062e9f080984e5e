"""HLS playlists and a real-sized MPEG-TS segment body.

A streaming load test is dominated by segment bytes, so the segment must be as big as the
real thing (256 kbit/s x segment duration). It is built once at import and shared by every
response; it starts with a PAT and a PMT and carries one AAC-ADTS PES stream, so tools that
look at it see a plausible transport stream.
"""

from __future__ import annotations

import random

from .catalogue import SEGMENT_SECONDS

VARIANT = "256k"
BANDWIDTH_BPS = 256_000
TS_PACKET = 188
SYNC_BYTE = 0x47
_PMT_PID = 0x1000
_AUDIO_PID = 0x0101
MPEGURL = "application/vnd.apple.mpegurl"
MP2T = "video/mp2t"


def master_playlist() -> str:
    """One audio variant, referenced relative to the master's URL."""
    return (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        f'#EXT-X-STREAM-INF:BANDWIDTH={BANDWIDTH_BPS},CODECS="mp4a.40.2"\n'
        f"{VARIANT}/playlist.m3u8\n"
    )


def media_playlist(segments: int) -> str:
    """A VOD playlist of ``segments`` equal segments named ``segment-<n>.ts``."""
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for n in range(segments):
        lines.append(f"#EXTINF:{SEGMENT_SECONDS:.3f},")
        lines.append(f"segment-{n}.ts")
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _crc32_mpeg2(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


def _psi_packet(pid: int, section: bytes) -> bytes:
    """A TS packet carrying one PSI section (pointer field 0, stuffed with 0xFF)."""
    section += _crc32_mpeg2(section).to_bytes(4, "big")
    header = bytes((SYNC_BYTE, 0x40 | (pid >> 8), pid & 0xFF, 0x10))
    payload = b"\x00" + section
    return header + payload + b"\xff" * (TS_PACKET - 4 - len(payload))


def _pat() -> bytes:
    body = bytes(
        (0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xE0 | (_PMT_PID >> 8), _PMT_PID & 0xFF)
    )
    length = len(body) + 4  # + CRC
    return _psi_packet(0, bytes((0x00, 0xB0 | (length >> 8), length & 0xFF)) + body)


def _pmt() -> bytes:
    pcr = _AUDIO_PID
    body = bytes(
        (
            0x00, 0x01, 0xC1, 0x00, 0x00,  # program 1, version 0, current, section 0/0
            0xE0 | (pcr >> 8), pcr & 0xFF,  # PCR PID
            0xF0, 0x00,  # no program descriptors
            0x0F, 0xE0 | (_AUDIO_PID >> 8), _AUDIO_PID & 0xFF, 0xF0, 0x00,  # AAC ADTS
        )
    )  # fmt: skip
    length = len(body) + 4
    return _psi_packet(_PMT_PID, bytes((0x02, 0xB0 | (length >> 8), length & 0xFF)) + body)


def build_segment(duration_s: int = SEGMENT_SECONDS, bandwidth_bps: int = BANDWIDTH_BPS) -> bytes:
    """Whole 188-byte packets totalling about ``bandwidth_bps * duration_s / 8`` bytes."""
    packets = max(3, (bandwidth_bps * duration_s // 8) // TS_PACKET)
    filler = random.Random(0).randbytes(TS_PACKET * packets)
    out = bytearray(_pat() + _pmt())
    # PES header: audio stream 0xC0, unbounded length, PTS only (90 kHz clock = 0).
    pes_header = b"\x00\x00\x01\xc0\x00\x00\x80\x80\x05\x21\x00\x01\x00\x01"
    for i in range(packets - 2):
        cc = i & 0x0F
        start = i == 0
        header = bytes(
            (SYNC_BYTE, (0x40 if start else 0x00) | (_AUDIO_PID >> 8), _AUDIO_PID & 0xFF, 0x10 | cc)
        )
        body_len = TS_PACKET - 4
        offset = i * TS_PACKET
        payload = filler[offset : offset + body_len]
        if start:
            payload = pes_header + payload[len(pes_header) :]
        out += header + payload
    return bytes(out)


SEGMENT_BYTES: bytes = build_segment()
