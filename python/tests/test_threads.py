"""The GIL is released during library calls (ctypes.CDLL does that): Python
threads run layers concurrently, with results identical to serial ones."""
import ctypes
import threading

import numpy as np

import simdnorm
from simdnorm import _lib


def test_concurrent_calls(rng):
    xs = [(rng.standard_normal((256, 1024)) + i).astype(np.float32) for i in range(4)]
    seq_lens = np.array([50, 17, 64, 0] * 2)
    bxs = [rng.standard_normal((8, 64, 96)).astype(np.float32) for _ in range(4)]
    plan = simdnorm.NormPlan(xs[0], 1)  # one plan, every thread calls it

    def work(i):
        bn = simdnorm.BatchNorm(96, masked_time=True)
        outs = []
        for _ in range(10):
            outs.append(simdnorm.layer_norm(xs[i]))
            outs.append(simdnorm.norm(xs[i], 0))
            outs.append(plan(xs[i]))
            outs.append(bn(bxs[i], True, seq_lens=seq_lens))
        return outs

    serial = [work(i) for i in range(4)]
    results = [None] * 4
    errors = []

    def run(i):
        try:
            results[i] = work(i)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for got, want in zip(results, serial):
        for a, b in zip(got, want):
            assert np.array_equal(a, b)


def test_calls_release_the_gil():
    # ctypes releases the GIL around a foreign call unless the function comes
    # from a PyDLL (FUNCFLAG_PYTHONAPI). (A timing test of the same thing is
    # unreliable on a loaded machine; this checks the mechanism itself.)
    assert type(_lib.lib) is ctypes.CDLL
    for name in ("sn_layer_norm", "sn_norm", "sn_norm_plan_execute", "sn_batch_norm",
                 "sn_batch_norm_init"):
        function = getattr(_lib, name)
        assert not function._flags_ & ctypes._FUNCFLAG_PYTHONAPI, name
