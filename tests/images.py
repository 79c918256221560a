"""Image fixtures written byte by byte: the formats and attacks of reference 8."""
from __future__ import annotations

import struct

VIRTUAL_SIZE = 1 << 30


def qcow2(*, backing_file: bool = False, data_file: bool = False, version: int = 3, padding: int = 65536) -> bytes:
    """A qcow2 header (v2/v3) with optional backing-file offset or external data-file feature bit."""
    bf_offset = 512 if backing_file else 0
    header = struct.pack(">4sIQIIQ", b"QFI\xfb", version, bf_offset, 8 if backing_file else 0, 16, VIRTUAL_SIZE)
    header += b"\0" * (72 - len(header))
    incompatible = 0b100 if data_file else 0  # bit 2: external data file
    header += struct.pack(">QQQII", incompatible, 0, 0, 4, 104)
    body = header + b"\0" * (512 - len(header))
    if backing_file:
        body = body[:512] + b"/etc/passwd"
    return body + b"\0" * padding


def vmdk_flat_descriptor(target: str = "/etc/passwd") -> bytes:
    """A text VMDK descriptor whose extent points at a host file (CVE-2022-47951)."""
    return (
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
        'createType="monolithicFlat"\n'
        f'RW 2048 FLAT "{target}" 0\n'
    ).encode()


def qed() -> bytes:
    """A QED header: always unsafe."""
    return b"QED\0" + struct.pack("<IIIQQQ", 65536, 16, 1, 0, 0, 0) + b"\0" * 4096


def raw(size: int = 70000) -> bytes:
    """Bytes no inspector claims."""
    return bytes((i * 7 + 3) % 251 for i in range(size))
