"""The type of a file comes from its first bytes, hand-built here for each format."""

from __future__ import annotations

import struct

import pytest

from ipmarket.files import sniff


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    """An ISO BMFF `ftyp` box: size, type, major brand, minor version, compatible brands."""
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body


def glb(version: int = 2, length: int = 1024) -> bytes:
    return b"glTF" + struct.pack("<II", version, length) + b"\x00" * 8


def mpeg_frame(b1: int = 0xFB, b2: int = 0x90) -> bytes:
    """MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no CRC: FF FB 90 xx."""
    return bytes([0xFF, b1, b2, 0x64]) + b"\x00" * 28


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"\xff\xd8\xff\xdb\x00\x43\x00", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "application/pdf"),
        (glb(), "model/gltf-binary"),
        (b"ID3\x04\x00\x00\x00\x00\x1f\x76TIT2", "audio/mpeg"),
        (b"ID3\x03\x00\x00\x00\x00\x00\x0a", "audio/mpeg"),
        (mpeg_frame(), "audio/mpeg"),
        (mpeg_frame(b1=0xF3, b2=0x64), "audio/mpeg"),  # MPEG-2 Layer III
        (ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41"), "video/mp4"),
        (ftyp(b"mp42", b"mp42", b"isom"), "video/mp4"),
        (ftyp(b"M4V ", b"M4V ", b"mp42"), "video/mp4"),
        # beyond the default allowed list, recognised so that admins may allow them
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"fLaC\x00\x00\x00\x22", "audio/flac"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm\x42\x87", "video/webm"),
        (ftyp(b"avif", b"avif", b"mif1", b"miaf"), "image/avif"),
        (ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (ftyp(b"M4A ", b"M4A ", b"mp42", b"isom"), "audio/mp4"),
        (ftyp(b"qt  ", b"qt  "), "video/quicktime"),
    ],
)
def test_recognised_formats(sample: bytes, expected: str) -> None:
    assert sniff(sample) == expected


@pytest.mark.parametrize(
    "sample",
    [
        b"",
        b"hello, world\n",
        b"<!DOCTYPE html><html><script>alert(1)</script>",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"PK\x03\x04\x14\x00\x00\x00",  # zip
        b"\x89PNG\r\n",  # a PNG signature cut short
        b"GIF90a",
        b"RIFF\x24\x00\x00\x00AVI LIST",  # RIFF, but neither WebP nor WAVE
        b"%PD",
        glb(version=1),  # glTF 1.0 binary is not model/gltf-binary
        glb(length=4),  # a GLB shorter than its own header
        b"glTF\x02\x00",
        b"ID3\xff\x00\x00\x00\x00\x00\x00",  # impossible ID3 version
        b"ID3\x04\x00\x00\x80\x00\x00\x00",  # size not syncsafe
        bytes([0xFF, 0xF1, 0x50, 0x80]) + b"\x00" * 8,  # ADTS (AAC): layer 00
        bytes([0xFF, 0xFB, 0xF0, 0x00]),  # bad bitrate index
        bytes([0xFF, 0xFB, 0x9C, 0x00]),  # reserved sample rate
        bytes([0xFF, 0xEB, 0x90, 0x00]),  # reserved MPEG version
        ftyp(b"3gp4", b"isom", b"3gp4"),  # no mp4 brand: not video/mp4
        ftyp(b"isom", b"isom", b"mp41")[:20],  # the ftyp box is cut short
        b"\x00\x00\x00\x0bftypisom",  # a box size that is not a multiple of 4
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska",  # Matroska, not WebM
    ],
)
def test_unrecognised_content_is_none(sample: bytes) -> None:
    assert sniff(sample) is None
