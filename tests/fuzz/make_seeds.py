#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<fuzzer>/ from readable specs.

The fuzzers decode their input byte by byte (fuzz_common.c: fz_tensors_decode,
fz_dim, fz_int, fz_text ...); each seed here is one well-formed input for a
common or interesting case, so that fuzzing starts from calls that succeed
and from each kind of rejection. Run it again after changing a decoder:
    python3 tests/fuzz/make_seeds.py
Check what a seed reaches with FZ_VERBOSE=1 build-fuzz/tests/fuzz/fuzz_<name> <file>.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def u32(v):
    return struct.pack("<I", v)


def runtime(threads=1, isa="auto"):
    """fz_set_runtime: threads 1..3, isa scalar/avx2/avx512/neon/auto."""
    index = ["scalar", "avx2", "avx512", "neon", "auto"].index(isa)
    for b in range(256):
        if 1 + b % 3 == threads and (b // 3) % 5 == index:
            return bytes([b])
    raise ValueError


RANK_INDEX = {2: 0, 1: 1, 3: 2, 4: 3, 5: 6, 6: 7, 7: 8, 8: 9, 0: 10, 9: 11}


def tensors(dims, x_strides=0, placement=0, y_strides=0, y_offset=0, flags=0, values=0,
            seed=1, x_stride_bytes=b"", y_stride_bytes=b""):
    """fz_tensors_decode. dims < 40 (one byte each). x_strides: 0 dense, 1 padded
    (one pad byte in x_stride_bytes), 2 per axis (fz_stride bytes), 3 column-major.
    placement: 0 separate, 1 in place, 2 x + y_offset, 3 same data. y_strides: 0 same
    as x, 1 padded, 2 per axis, 3 column-major, 4 dense."""
    out = bytes([RANK_INDEX[len(dims)]]) + bytes(dims) + bytes([x_strides]) + x_stride_bytes
    out += bytes([placement, y_strides, y_offset, flags, values]) + u32(seed)
    if placement != 1:
        out += y_stride_bytes
    return out


def fint(value, lo, hi):
    """fz_int: a value in [lo, hi] as one byte."""
    assert lo <= value <= hi
    return bytes([(value - lo) % (hi - lo + 1)])


def text(pick):
    return bytes([pick])


def raw(s):
    """fz_raw_text: bytes up to a NUL."""
    return s.encode() + b"\0"


SEEDS = {
    "layer_norm": {
        # [runtime][mode][tensors][opt][axis?][epsilon?][seed]
        "rows_scale_bias_stats": runtime(2) + b"\0" + tensors([8, 33]) + bytes([60]) + u32(7),
        "in_place_axis1_colmajor": runtime(1, "avx2") + b"\0"
        + tensors([4, 5, 6], x_strides=3, placement=1) + bytes([1 | 4]) + fint(1, -9, 8) + u32(3),
        "broadcast_x_strided_y": runtime(1, "scalar") + b"\0"
        + tensors([3, 7], x_strides=2, x_stride_bytes=bytes([64, 0]), y_strides=1,
                  y_stride_bytes=bytes([3])) + bytes([8 | 16]) + u32(5),
        "overlap_rejected": runtime(1) + b"\0" + tensors([4, 4], placement=2, y_offset=3) + b"\0" + u32(1),
        "negative_stride_rejected": runtime(1) + b"\0"
        + tensors([2, 3], x_strides=2, x_stride_bytes=bytes([240, 0])) + b"\0" + u32(1),
        "f32_rows": runtime(3) + bytes([7, 16, 40, 0x31, 100]),
        "f32_overflow": runtime(1) + bytes([7, 205, 206, 0]),
        # A known library bug, steered around unless built with -DFZ_STRICT (fuzz_common.h):
        # an empty [32, 0] tensor with NULL data.
        "bug_null_empty_data": runtime(1) + bytes([7, 32, 0, 2]),
    },
    "norm": {
        # [runtime][tensors][layout][choice][axes][params][opt][eps?][mask?][seed][seq_lens]
        "instance_norm_masked": runtime(2) + tensors([4, 6, 5]) + text(0) + bytes([1]) + text(1)
        + bytes([4 | 8 | 16 | 32 | 64]) + u32(9) + bytes([6, 3, 0, 5]),
        "group_norm_bfss": runtime(1) + tensors([2, 3, 4, 4]) + text(4) + bytes([1]) + text(6)
        + bytes([4 | 8]) + u32(2),
        "bits_no_layout_scalar_params": runtime(1, "avx512") + tensors([5, 7, 3], x_strides=3)
        + text(21) + bytes([0 + 3 * 4]) + bytes([0b010]) + bytes([4 | 8 | 32]) + u32(4),
        "param_text_zero_mask": runtime(1) + tensors([3, 4, 5]) + text(0) + bytes([1 + 2 * 4])
        + text(3) + text(0) + bytes([2 | 4 | 64]) + fint(1, 0, 2) + u32(5) + bytes([4, 0, 2]),
        "seq_len_too_long": runtime(1) + tensors([2, 3, 4]) + text(0) + bytes([1]) + text(1)
        + bytes([64]) + u32(1) + bytes([3, 204]),  # 204: fz_int's "hi + 1"
    },
    "batch_norm": {
        # [runtime][tensors][preset][which u16][fields][state_mode][nulls][seed][seq_lens]
        "training_masked_btf": runtime(2) + tensors([4, 6, 5]) + b"\0"
        + struct.pack("<H", 2048 | 8192 | 32768) + fint(1, -1, 1) + text(0)
        + b"\0" + bytes([128]) + u32(3) + bytes([6, 2, 0, 5]),
        "legacy_inference": runtime(1) + tensors([16, 8]) + b"\1" + struct.pack("<H", 0)
        + b"\0\0" + u32(4),
        "training_bfss": runtime(1, "avx2") + tensors([2, 3, 4, 4]) + b"\0"
        + struct.pack("<H", 8192 | 32768) + text(4) + b"\0\0" + u32(5),
        "force_sample_blend": runtime(1) + tensors([6, 7]) + b"\0"
        + struct.pack("<H", 4 | 8 | 4096) + bytes([32]) + fint(1, 0, 1) + bytes([64])
        + b"\0\0" + u32(6),
        "nan_momentum_rejected": runtime(1) + tensors([3, 4]) + b"\0"
        + struct.pack("<H", 16 | 32768) + bytes([160]) + b"\0\0" + u32(7),
        "state_size_mismatch": runtime(1) + tensors([3, 4]) + b"\0" + struct.pack("<H", 32768)
        + bytes([3]) + b"\0" + u32(8),
    },
    "axes": {
        # parse: [runtime][mode even][layout][text\0][dims]; norm: [runtime][mode odd][layout]
        # [axes\0][flags][params\0 if flags & 1][rank if no layout][dims][seed]
        "except_batch": runtime(1) + b"\0" + text(0) + raw("except_batch") + bytes([2, 3, 4]),
        "spatial_index": runtime(1) + b"\0" + text(4) + raw("spatial:-1, F") + bytes([2, 3, 4, 5]),
        "dim_match": runtime(1) + b"\0" + text(0) + raw("dim:5") + bytes([2, 5, 3]),
        # A known library bug, steered around unless built with -DFZ_STRICT (fuzz_common.h):
        # a layout longer than SN_MAX_RANK.
        "bug_long_layout": runtime(1) + b"\0" + text(12) + raw("SSSSSSSSSS") + raw("s:0"),
        "bad_token": runtime(1) + b"\0" + text(0) + raw("T,x") + bytes([2, 5, 3]),
        "norm_tf_param_f": runtime(1) + b"\1" + text(0) + raw("TF") + bytes([13]) + raw("F")
        + bytes([1, 2, 3]) + u32(3),
        "norm_star_no_layout": runtime(2) + b"\1" + text(11) + raw("*") + bytes([2, 2])
        + bytes([3, 2, 4]) + u32(4),
    },
}


def main():
    for fuzzer, seeds in SEEDS.items():
        folder = os.path.join(HERE, "corpus", fuzzer)
        os.makedirs(folder, exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
    print("wrote", sum(len(s) for s in SEEDS.values()), "seeds")


if __name__ == "__main__":
    main()
