"""Issue 15's upload benchmark: a large image through the real ``glance image-upload`` into ``make run``.

Starts ``python -m infra.local.run`` (``make run``: the WSGI front and the embedded emulator) in a
child process on free ports, writes a file of ``--gib`` GiB (2 by default), creates an image and
uploads the file with python-glanceclient's CLI (chunked, as every glance user does), then prints
the upload's MiB/s, the service's CPU time for it, and its resident memory: before, and its peak
(VmHWM, which covers start-up too); then downloads it back with ``glance image-download`` and prints
that rate and the peak again. Goals (issue 15): peak RSS below 512 MiB whatever the size, and at least Glance's
133 MiB/s on this machine.

    python bench/upload.py            # make bench-upload
    python bench/upload.py --gib 0.5
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.concurrency import ChildService  # noqa: E402

MIB = 1024 * 1024
TOKEN = "admin:demo:admin"
GLANCE = str(Path(sys.executable).with_name("glance"))


def write_image(path: Path, size: int) -> str:
    """``size`` bytes of varied data (a 64 MiB random block repeated); their SHA-512."""
    block = os.urandom(64 * MIB)
    digest = hashlib.sha512()
    with path.open("wb") as out:
        left = size
        while left:
            piece = block[: min(left, len(block))]
            out.write(piece)
            digest.update(piece)
            left -= len(piece)
    return digest.hexdigest()


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def glance(url: str, *args: str) -> str:
    done = subprocess.run([GLANCE, "--os-image-url", url, "--os-auth-token", TOKEN, *args],
                          capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"glance {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=2.0, help="image size in GiB")
    args = parser.parse_args()
    size = int(args.gib * 1024 * MIB)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "image.raw"
        expected = write_image(path, size)
        with ChildService({}) as service:
            assert service.proc is not None
            pid = service.proc.pid
            # Created through the API: ``glance image-create`` would upload its standard input.
            image_id = requests.post(f"{service.url}/v2/images", headers={"X-Auth-Token": TOKEN}, timeout=30, json={
                "name": "bench-upload", "disk_format": "raw", "container_format": "bare"}).json()["id"]
            before = service.memory_mib()
            cpu_before = cpu_seconds(pid)
            start = time.perf_counter()
            glance(service.url, "image-upload", "--file", str(path), image_id)
            seconds = time.perf_counter() - start
            cpu = cpu_seconds(pid) - cpu_before
            rss, hwm = service.memory_mib()
            image = requests.get(f"{service.url}/v2/images/{image_id}", headers={"X-Auth-Token": TOKEN},
                                 timeout=30).json()
            # And back: ``glance image-download`` follows the 302 to the emulator's presigned URL.
            start = time.perf_counter()
            glance(service.url, "image-download", "--file", str(path.with_name("back.raw")), image_id)
            back_seconds = time.perf_counter() - start
            back_hwm = service.memory_mib()[1]
            back_ok = path.with_name("back.raw").stat().st_size == size
            requests.delete(f"{service.url}/v2/images/{image_id}", headers={"X-Auth-Token": TOKEN}, timeout=60)
    ok = image["status"] == "active" and image["size"] == size and image["os_hash_value"] == expected
    print(f"== glance image-upload of {size / MIB:.0f} MiB into make run (chunked, through chalicelib/front)")
    print(f"upload time          : {seconds:.1f} s")
    print(f"upload rate          : {size / MIB / seconds:.0f} MiB/s   (goal: >= 133, Glance on this machine)")
    print(f"server CPU           : {cpu:.1f} s  ({size / MIB / cpu:.0f} MiB per CPU second; the machine's load "
          f"average was {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    print(f"server RSS before    : {before[0]:.0f} MiB")
    print(f"server RSS after     : {rss:.0f} MiB")
    print(f"server peak RSS      : {hwm:.0f} MiB   (goal: < 512; VmHWM, start-up included)")
    print(f"image                : {image['status']}, {image['size']} bytes, sha512 {'matches' if ok else 'DIFFERS'}")
    print(f"download rate        : {size / MIB / back_seconds:.0f} MiB/s   (glance image-download, through the 302)")
    print(f"server peak RSS      : {back_hwm:.0f} MiB after the download{'' if back_ok else ' (DOWNLOAD SHORT)'}")
    return 0 if ok and back_ok else 1


if __name__ == "__main__":
    sys.exit(main())
