"""read_safetensors / write_safetensors against the real `safetensors` package: every dtype it writes,
bit-exact files both ways, any array layout, and LoadError (never a raw NumPy error) for damage."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit.errors import LoadError
from rnnkit.io import read_safetensors, write_safetensors

st = pytest.importorskip("safetensors.numpy")

NUMPY_DTYPES = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64",
                "float16", "float32", "float64", "complex64"]


def _tensors():
    rng = np.random.default_rng(0)
    out = {}
    for dt in NUMPY_DTYPES:
        a = rng.standard_normal((3, 2)) * 300 + (1j * rng.standard_normal((3, 2)) if dt == "complex64" else 0)
        out[dt] = (a > 0) if dt == "bool" else a.astype(dt)
    out["extremes"] = np.array([np.iinfo(np.uint64).max, 0, 2**63], dtype=np.uint64)
    out["specials"] = np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324])
    out.update(scalar=np.array(2.5, np.float32), empty=np.zeros((0, 3), np.int16), empty2=np.zeros((2, 0, 4)))
    return out


def _same(got, want, who):
    assert got.dtype == want.dtype and got.shape == want.shape, who
    assert got.tobytes() == want.tobytes(), who


def test_every_dtype_of_the_safetensors_package_is_read_exactly(tmp_path):
    tensors = _tensors()
    st.save_file(tensors, tmp_path / "theirs.safetensors")
    back, meta = read_safetensors(tmp_path / "theirs.safetensors")
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        _same(back[k], v, k)
        assert back[k].flags.writeable and back[k].flags.c_contiguous, k


def test_files_we_write_are_read_by_the_package_bit_for_bit(tmp_path):
    tensors = _tensors()
    write_safetensors(tmp_path / "ours.safetensors", tensors)
    theirs = st.load_file(tmp_path / "ours.safetensors")
    for k, v in tensors.items():
        _same(theirs[k], v, k)


def test_any_layout_is_written_c_ordered_little_endian(tmp_path):
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    tensors = {"big_endian": base.astype(">f4"), "big_endian_int": np.arange(5, dtype=">i8"),
               "fortran": np.asfortranarray(base), "strided": base[::2, ::3], "reversed": base[::-1, ::-2],
               "transposed_big_endian": base.T.astype(">f8"), "complex_big_endian": (base + 1j).astype(">c8")}
    path = tmp_path / "layouts.safetensors"
    write_safetensors(path, tensors)
    theirs, (ours, _) = st.load_file(path), read_safetensors(path)
    for k, v in tensors.items():
        want = np.ascontiguousarray(v, dtype=v.dtype.newbyteorder("="))
        _same(theirs[k], want, f"safetensors reads {k}")
        _same(ours[k], want, f"rnnkit reads {k}")


def test_bfloat16_is_read_as_the_exact_float32(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    values = torch.tensor([[1.5, -2.25, 3.0e38], [float("nan"), float("inf"), -1e-38]], dtype=torch.bfloat16)
    save_file({"w": values, "scalar": torch.tensor(0.1, dtype=torch.bfloat16)}, tmp_path / "bf16.safetensors")
    back, _ = read_safetensors(tmp_path / "bf16.safetensors")
    assert back["w"].dtype == np.float32 and back["w"].shape == (2, 3) and back["scalar"].shape == ()
    assert all(isinstance(a, np.ndarray) and a.flags.writeable for a in back.values())
    _same(back["w"], values.float().numpy(), "bf16 -> float32")
    _same(back["scalar"], torch.tensor(0.1, dtype=torch.bfloat16).float().numpy(), "0-d bf16")


def test_what_numpy_cannot_hold_is_refused_clearly(tmp_path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    save_file({"f8": torch.zeros(2, dtype=torch.float8_e4m3fn)}, tmp_path / "f8.safetensors")
    with pytest.raises(LoadError, match=r"tensor 'f8' has dtype 'F8_E4M3'; expected one of .*C64 or BF16 \(8-bit"):
        read_safetensors(tmp_path / "f8.safetensors")
    for bad, hint in ((torch.ones(2, dtype=torch.bfloat16), r"torch.bfloat16 for 'a'. Convert it with .float\(\)"),
                      (np.ones(2, np.longdouble), "got float128 for 'a'.$")):
        with pytest.raises(TypeError, match=hint):
            write_safetensors(tmp_path / "w.safetensors", {"a": bad})


def test_torch_tensors_and_lists_are_written(tmp_path):
    torch = pytest.importorskip("torch")
    weight = torch.nn.Linear(3, 2).weight  # requires_grad=True
    write_safetensors(tmp_path / "t.safetensors", {"weight": weight, "half": weight.half().t(), "list": [1, 2]})
    back, _ = read_safetensors(tmp_path / "t.safetensors")
    _same(back["weight"], weight.detach().numpy(), "weight")
    _same(back["half"], weight.detach().half().t().contiguous().numpy(), "half")
    _same(back["list"], np.array([1, 2]), "list")


@pytest.mark.parametrize("tensors, error, match", [
    ([("a", np.zeros(2))], TypeError, "Expected the tensors as a mapping name -> array .* got list"),
    ({"a": [[1.0], [2.0, 3.0]]}, ValueError, "Expected tensor 'a' to be a rectangular array, got list"),
], ids=["not_a_mapping", "ragged"])
def test_bad_containers_are_refused_by_name(tmp_path, tensors, error, match):
    with pytest.raises(error, match=match):
        write_safetensors(tmp_path / "w.safetensors", tensors)
    assert not list(tmp_path.iterdir())


# -- damage -------------------------------------------------------------------------------------------

def _raw(path, header: bytes, data: bytes):
    path.write_bytes(len(header).to_bytes(8, "little") + header + data)
    return path


F32 = '{"dtype":"F32","shape":[1],"data_offsets":[%d,%d]}'


@pytest.mark.parametrize("header, data, pattern", [
    (('{"a":%s,"a":%s}' % (F32 % (0, 4), F32 % (4, 8))).encode(), bytes(8), "names the key 'a' twice"),
    (('{"a":%s,"a":%s}' % (F32 % (0, 4), F32 % (0, 4))).encode(), bytes(4), "names the key 'a' twice"),
    (('{"__metadata__":{"k":"1"},"__metadata__":{"k":"2"},"a":%s}' % (F32 % (0, 4))).encode(), bytes(4),
     "names the key '__metadata__' twice"),
    (('{"__metadata__":{"k":"1","k":"2"},"a":%s}' % (F32 % (0, 4))).encode(), bytes(4), "names the key 'k' twice"),
    (json.dumps({"a": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}).encode(), bytes(4),
     "tensor 'a' has 65 dimensions; NumPy arrays have at most 64"),
    (b'{"a":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}}', bytes([0, 1, 7]),
     "tensor 'a' of dtype BOOL holds bytes other than 0 and 1"),
    (('{"a":%s,"b":%s}' % (F32 % (0, 4), F32 % (2, 6))).encode(), bytes(6), "overlap or leave a gap"),
    (('{"a":%s,"b":%s}' % (F32 % (0, 4), F32 % (0, 4))).encode(), bytes(4), "overlap or leave a gap at byte 4"),
    (('{"a":%s}' % (F32 % (4, 8))).encode(), bytes(8), "overlap or leave a gap at byte 0"),
    (('{"a":%s}' % (F32 % (0, 4))).encode(), bytes(2), "ends at byte 4 of the data but the file has only 2"),
], ids=["duplicate_tensor", "duplicate_same_offsets", "duplicate_metadata", "duplicate_metadata_key",
        "65_dims", "bool_byte_7", "overlap", "same_offsets", "gap", "truncated"])
def test_damaged_files_give_load_errors(tmp_path, header, data, pattern):
    path = _raw(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(LoadError, match=pattern) as info:
        read_safetensors(path)
    assert str(path) in str(info.value)
