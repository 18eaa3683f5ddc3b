"""Content sniffing: the MIME type of a file decided from its first bytes, never its name.

Only signatures that identify a format without ambiguity are recognised; anything else is
`None`, and an upload of an unrecognised type is refused whatever the allowed list says. The
ISO BMFF (MP4) rule follows the WHATWG MIME Sniffing standard: the `ftyp` box must be whole
and its major or a compatible brand must start with ``mp4``.
"""

from __future__ import annotations

# How many leading bytes `sniff` needs to decide in every case it knows. A shorter sample
# (a smaller file) is still judged, on what there is.
SNIFF_LENGTH = 512

_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG = b"\xff\xd8\xff"
_GIF = (b"GIF87a", b"GIF89a")
_PDF = b"%PDF-"
_GLB = b"glTF"
_GLB_VERSION = 2
_ID3 = b"ID3"
_FLAC = b"fLaC"
_EBML = b"\x1a\x45\xdf\xa3"
_WEBM_DOCTYPE = b"\x42\x82\x84webm"  # EBML DocType element, 4-byte string "webm"

# Major brands of ISO BMFF files that are not MP4 video although they may list an mp4 brand.
_BMFF_MAJOR_BRANDS: dict[bytes, str] = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"M4A ": "audio/mp4",
    b"M4B ": "audio/mp4",
    b"qt  ": "video/quicktime",
}


def sniff(data: bytes) -> str | None:
    """The MIME type `data` (a file's first bytes, ideally `SNIFF_LENGTH` of them) starts
    with, or None when it is not a format we recognise."""
    if data.startswith(_PNG):
        return "image/png"
    if data.startswith(_JPEG):
        return "image/jpeg"
    if data.startswith(_GIF):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF":
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav"}.get(data[8:12])
    if data.startswith(_PDF):
        return "application/pdf"
    if _is_glb(data):
        return "model/gltf-binary"
    if data.startswith(_FLAC):
        return "audio/flac"
    if data.startswith(_EBML):
        return "video/webm" if _WEBM_DOCTYPE in data[:64] else None
    bmff = _iso_bmff(data)
    if bmff is not None:
        return bmff
    if _is_id3(data) or _is_mpeg_audio_frame(data):
        return "audio/mpeg"
    return None


def _is_glb(data: bytes) -> bool:
    """A binary glTF 2.0 header: magic, version 2, then the total length (>= the header)."""
    if len(data) < 12 or not data.startswith(_GLB):
        return False
    version = int.from_bytes(data[4:8], "little")
    length = int.from_bytes(data[8:12], "little")
    return version == _GLB_VERSION and length >= 12


def _is_id3(data: bytes) -> bool:
    """An ID3v2 tag header: "ID3", version 2-4, revision, flags, a 28-bit syncsafe size."""
    if len(data) < 10 or not data.startswith(_ID3):
        return False
    major, revision = data[3], data[4]
    return 2 <= major <= 4 and revision != 0xFF and all(b < 0x80 for b in data[6:10])


def _is_mpeg_audio_frame(data: bytes) -> bool:
    """An MPEG-1/2/2.5 audio frame header (layers I-III): 11 sync bits, then no reserved
    values for version, layer, bitrate or sample rate. ADTS (AAC) uses layer 0 and is not
    MPEG audio in this sense."""
    if len(data) < 4 or data[0] != 0xFF or data[1] & 0xE0 != 0xE0:
        return False
    version = (data[1] >> 3) & 0b11
    layer = (data[1] >> 1) & 0b11
    bitrate = data[2] >> 4
    sample_rate = (data[2] >> 2) & 0b11
    return version != 0b01 and layer != 0b00 and bitrate != 0b1111 and sample_rate != 0b11


def _iso_bmff(data: bytes) -> str | None:
    """The type of an ISO BMFF file from its leading `ftyp` box, or None."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return None
    box_size = int.from_bytes(data[0:4], "big")
    if box_size < 16 or box_size % 4 != 0 or len(data) < box_size:
        return None
    major = data[8:12]
    if major in _BMFF_MAJOR_BRANDS:
        return _BMFF_MAJOR_BRANDS[major]
    if major.startswith(b"mp4"):
        return "video/mp4"
    # bytes 12-16 are the minor version; the compatible brands follow, four bytes each
    compatible = (data[offset : offset + 4] for offset in range(16, box_size, 4))
    if any(brand.startswith(b"mp4") for brand in compatible):
        return "video/mp4"
    return None
