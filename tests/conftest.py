import jax
from hypothesis import HealthCheck, settings
import pytest

# The *_worker.py scripts run in subprocesses (multi-device and multi-process
# tests). --doctest-modules would otherwise import them at collection, running
# their module-level code (config.update of x64, whole training runs) in-process.
collect_ignore_glob = ["*_worker.py"]

# Parity tests compare against torch's full-float32 matmuls.
jax.config.update("jax_default_matmul_precision", "highest")


@pytest.fixture
def x64():
    """Runs the test with ``jax_enable_x64`` on, restoring the previous flag afterwards."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(params=["float32", "float64"])
def float_dtype(request):
    """float32 and float64 (the latter with x64 enabled for the test's duration)."""
    if request.param == "float64":
        with jax.enable_x64(True):
            yield request.param
    else:
        yield request.param


# CI runs a fixed, derandomised sample; `pytest --hypothesis-profile=deep` fuzzes longer.
settings.register_profile(
    "ci",
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "deep",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.load_profile("ci")
