"""The front's malloc tuning: multi-MiB buffers an upload streams through are reused, not faulted in anew."""
from __future__ import annotations

import subprocess
import sys

import pytest

# A child process allocates and frees twenty 8 MiB buffers (an S3 part each) and prints its minor page faults.
CHILD = """
import resource, sys
from chalicelib.front import server
tuning = server.MALLOC_TUNING if sys.argv[1] == "tuned" else {server.M_MMAP_THRESHOLD: 1024 * 1024}
assert server.tune_malloc(tuning)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for n in range(20):
    part = bytes([n]) * (8 * 1024 * 1024)
    del part
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_tuned_part_sized_buffers_are_reused_where_a_small_mmap_threshold_faults_each_in() -> None:
    pages = 8 * 1024 * 1024 // 4096
    assert _faults("1mib") > 15 * pages  # each buffer mapped fresh: every page faulted in, twenty times
    assert _faults("tuned") < 3 * pages  # the first buffer's pages, then reused
