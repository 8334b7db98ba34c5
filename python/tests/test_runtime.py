import os
import subprocess
import sys

import numpy as np

import simdnorm

PYTHON_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
REPO = os.path.dirname(PYTHON_DIR)


def test_version():
    assert simdnorm.__version__.count(".") == 2
    with open(os.path.join(REPO, "include", "simdnorm.h")) as header:
        assert '#define SN_VERSION_STRING "%s"' % simdnorm.__version__ in header.read()


def test_isa_and_threads():
    supported = simdnorm.supported_isas()
    assert supported[0] == "scalar"
    default = simdnorm.isa()
    assert default in supported
    for name in supported:
        simdnorm.set_isa(name.upper())  # names are case-insensitive
        assert simdnorm.isa() == name
    simdnorm.set_isa(None)
    assert simdnorm.isa() == default
    simdnorm.set_num_threads(1)
    assert simdnorm.get_num_threads() == 1
    simdnorm.set_num_threads(2)
    assert simdnorm.get_num_threads() == 2
    simdnorm.set_num_threads(0)  # follow OpenMP
    assert simdnorm.get_num_threads() >= 1


def test_every_isa_agrees(rng):
    x = (rng.standard_normal((64, 300)) * 3 + 7).astype(np.float32)
    results = []
    for name in simdnorm.supported_isas():
        simdnorm.set_isa(name)
        results.append(simdnorm.layer_norm(x))
    for r in results[1:]:
        np.testing.assert_allclose(r, results[0], rtol=0, atol=2e-6)


def run_python(code, **env):
    full = dict(os.environ)
    full.pop("SIMDNORM_LIBRARY", None)
    full.update(env)
    full["PYTHONPATH"] = PYTHON_DIR
    return subprocess.run([sys.executable, "-c", code], env=full, capture_output=True, text=True,
                          cwd="/", timeout=60)


def test_library_lookup():
    # SIMDNORM_LIBRARY wins, and a wrong one is an ImportError that says so.
    r = run_python("import simdnorm", SIMDNORM_LIBRARY="/nonexistent/libsimdnorm.so")
    assert r.returncode != 0 and "ImportError" in r.stderr and "SIMDNORM_LIBRARY" in r.stderr
    r = run_python("import simdnorm; print(simdnorm.library_path)",
                   SIMDNORM_LIBRARY=simdnorm.library_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == simdnorm.library_path
    # Without it, the build tree next to the sources is found (from any directory).
    build_lib = os.path.join(REPO, "build", "libsimdnorm.so")
    if os.path.exists(build_lib):
        r = run_python("import simdnorm; print(simdnorm.library_path)")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == build_lib
