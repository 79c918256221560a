"""One moto emulator for the package's moto-backed tests (each still gets fresh tables and its own bucket)."""
from tests.conftest import package_emulator

emulator = package_emulator()
