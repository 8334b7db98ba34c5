"""The ctypes structures match include/simdnorm.h: sizes and offsets compared
with what the C compiler lays out (skipped without a compiler)."""
import ctypes
import os
import shutil
import subprocess

import pytest

from simdnorm import _lib

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))

STRUCTS = {
    "sn_tensor": _lib.SnTensor,
    "sn_layer_norm_options": _lib.SnLayerNormOptions,
    "sn_norm_options": _lib.SnNormOptions,
    "sn_norm_arrays": _lib.SnNormArrays,
    "sn_batch_norm_options": _lib.SnBatchNormOptions,
    "sn_batch_norm_state": _lib.SnBatchNormState,
}


def test_struct_layout(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler")
    lines = ["#include <stdio.h>", "#include <stddef.h>", "#include <simdnorm.h>",
             "int main(void) {"]
    for name, struct in STRUCTS.items():
        lines.append('printf("%s size %%zu\\n", sizeof(%s));' % (name, name))
        for field, _ in struct._fields_:
            lines.append('printf("%s %s %%zu\\n", offsetof(%s, %s));' % (name, field, name, field))
    lines += ['printf("SN_MAX_RANK size %d\\n", SN_MAX_RANK);',
              'printf("SN_STATUS_COUNT size %d\\n", (int)SN_STATUS_COUNT);', "return 0; }"]
    source = tmp_path / "abi.c"
    source.write_text("\n".join(lines))
    exe = tmp_path / "abi"
    subprocess.run([cc, "-std=c11", "-I", os.path.join(REPO, "include"), str(source), "-o",
                    str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    c = {tuple(line.split()[:2]): int(line.split()[2]) for line in out.splitlines()}
    for name, struct in STRUCTS.items():
        assert c[(name, "size")] == ctypes.sizeof(struct), name
        for field, _ in struct._fields_:
            assert c[(name, field)] == getattr(struct, field).offset, (name, field)
    assert c[("SN_MAX_RANK", "size")] == _lib.SN_MAX_RANK
    # The status codes the wrapper names itself.
    for code, text in ((_lib.SN_ERR_RANK, "rank"), (_lib.SN_ERR_AXIS, "axis"),
                       (_lib.SN_ERR_LAYOUT, "layout"), (_lib.SN_ERR_SEQ_LENS, "sequence"),
                       (_lib.SN_ERR_PARAM_SHAPE, "param_shape"),
                       (_lib.SN_ERR_NEGATIVE_STRIDE, "stride"),
                       (_lib.SN_ERR_SHAPE_MISMATCH, "shapes"),
                       (_lib.SN_ERR_INIT_VALUE, "gamma_init"),
                       (_lib.SN_ERR_MASK_LAYOUT, "masking"),
                       (_lib.SN_ERR_AXES_DESCRIPTION, "axis description")):
        assert text in _lib.status_message(code), code
