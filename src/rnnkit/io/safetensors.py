"""The safetensors file format, read and written with NumPy alone (no pickle, no code runs).

Layout (https://github.com/huggingface/safetensors)::

    8 bytes      n = header length, unsigned 64-bit little-endian
    n bytes      JSON header, UTF-8, padded with spaces:
                 {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
                  "__metadata__": {"<str>": "<str>", ...}}
    the rest     the data: each tensor's bytes, C order, little-endian, at [begin, end) counted
                 from the start of the data; together the tensors cover it with no gap.

:func:`write_safetensors` writes atomically (``rnnkit._files.atomic_write``: a temporary file in
the same folder, fsync, then ``os.replace``), so a crash mid-write never leaves a half-written
file under the final name; a new file gets the usual permissions, an overwritten one keeps its
permission bits, and a symbolic link stays one.
It also stores the SHA-256 of the data in the metadata under ``"rnnkit.data_sha256"``;
:func:`read_safetensors` checks it when present, so flipped bits in the weights are caught.
Every problem is reported as :class:`rnnkit.errors.LoadError` naming the file.

Dtypes: BOOL, U8, I8, U16, I16, U32, I32, U64, I64, F16, F32, F64 and C64 both ways, as NumPy's
bool, uint8 ... complex64. BF16 (bfloat16, which NumPy lacks) is read only, as float32 holding
the same values exactly (a bfloat16 is the upper half of a float32: ``f32 bits = bf16 bits << 16``).
The 8-bit and smaller float formats (F8_*, F6_*, F4) are refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from typing import Any, Mapping

import numpy as np

from .._files import atomic_write
from ..errors import LoadError, MissingFileError

DTYPES: dict[str, str] = {
    "BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2", "F16": "<f2",
    "U32": "<u4", "I32": "<i4", "F32": "<f4", "U64": "<u8", "I64": "<i8", "F64": "<f8", "C64": "<c8",
}
_CODES = {np.dtype(v).newbyteorder("=") if v[0] == "<" else np.dtype(v): k for k, v in DTYPES.items()}
MAX_HEADER = 100_000_000
MAX_DIMS = 64  # NumPy 2's limit on an array's number of axes
CHECKSUM_KEY = "rnnkit.data_sha256"


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` object hook: a key given twice is damage, not "the last one wins"."""
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _DuplicateKey(k)
        out[k] = v
    return out


def _code(a: np.ndarray, name: str) -> str:
    code = _CODES.get(a.dtype.newbyteorder("="))
    if code is None:
        hint = " Convert it with .astype(np.float32) (exact for bfloat16)." if a.dtype.name == "bfloat16" else ""
        raise TypeError(f"Expected tensors of dtype bool, int, uint, float16/32/64 or complex64, got {a.dtype} "
                        f"for '{name}'.{hint}")
    return code


def write_safetensors(path: str | os.PathLike, tensors: Mapping[str, Any],
                      metadata: Mapping[str, str] | None = None) -> None:
    """Write ``tensors`` (name -> array) and ``metadata`` (str -> str) to ``path``, atomically.

    Each tensor is written C-ordered and little-endian whatever its layout (Fortran order, strides,
    big-endian dtype); array-likes and tensors with ``.detach()`` (torch, also with requires_grad)
    are converted first. Raises TypeError for another container or dtype (see the module
    docstring), ValueError for names that are empty or ``"__metadata__"`` or ragged nested lists.
    """
    if not isinstance(tensors, Mapping):
        raise TypeError(f"Expected the tensors as a mapping name -> array (e.g. a dict), got {type(tensors).__name__}.")
    meta = dict(metadata or {})
    for k, v in meta.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise TypeError(f"Expected safetensors metadata str -> str, got {k!r}: {type(v).__name__}.")
    arrays = {}
    for name, a in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError(f"Expected non-empty tensor names other than '__metadata__', got {name!r}.")
        if hasattr(a, "detach") and hasattr(a, "numpy"):  # a torch tensor, perhaps with requires_grad
            if str(getattr(a, "dtype", "")) == "torch.bfloat16":
                raise TypeError(f"Expected tensors of dtype bool, int, uint, float16/32/64 or complex64, got "
                                f"torch.bfloat16 for '{name}'. Convert it with .float() (exact).")
            a = a.detach().cpu().numpy()
        try:
            arrays[name] = np.asarray(a)  # tobytes() below writes C order; 0-d arrays stay 0-d (shape [])
        except ValueError as exc:  # ragged nested lists
            raise ValueError(f"Expected tensor '{name}' to be a rectangular array, got {type(a).__name__}: "
                             f"{exc}") from None
        _code(arrays[name], name)
    # widest items first, so every tensor starts at a multiple of its item size
    layout = sorted(arrays, key=lambda k: -arrays[k].dtype.itemsize)
    header: dict[str, Any] = {}
    chunks, offset = [], 0
    for name in layout:
        a = arrays[name]
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _code(a, name), "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    data = b"".join(chunks)
    meta[CHECKSUM_KEY] = hashlib.sha256(data).hexdigest()
    ordered = {"__metadata__": meta, **{k: header[k] for k in arrays}}
    text = json.dumps(ordered, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    blob = len(text).to_bytes(8, "little") + text + data
    atomic_write(path, lambda f: f.write(blob))


def read_safetensors(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read ``path``; returns (tensors in header order, metadata). Raises LoadError on any problem:
    missing (MissingFileError), a folder, truncated, a header that is not JSON or names a key
    twice, offsets that overlap, leave gaps or run past the data, shapes that do not fit their
    offsets, BOOL bytes other than 0 and 1, a dtype other than those in the module docstring,
    "__metadata__" other than an object of strings (or null), a wrong checksum. Each tensor is a
    new, writable, C-contiguous array in native byte order; BF16 tensors come back as float32."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise LoadError(path, "it is a folder; expected the path of a file (add the file's name to the path).")
    if not os.path.isfile(path):
        raise MissingFileError(path)
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise LoadError(path, f"the file is {len(blob)} bytes long, too short for a safetensors header "
                              "(truncated, or not a safetensors file).")
    n = int.from_bytes(blob[:8], "little")
    if n > min(MAX_HEADER, len(blob) - 8):
        raise LoadError(path, f"the header claims {n} bytes but the file has {len(blob) - 8} after the length "
                              "field (truncated, or not a safetensors file).")
    try:
        header = json.loads(blob[8:8 + n].decode("utf-8"), object_pairs_hook=_no_duplicates)
    except _DuplicateKey as exc:
        raise LoadError(path, f"the header names the key {str(exc)!r} twice (corrupted or crafted header).") from None
    except ValueError as exc:  # not UTF-8, not JSON, or an integer of more than 4300 digits
        raise LoadError(path, f"the header is not valid JSON ({exc}); the file is corrupted or not a "
                              "safetensors file.") from None
    except RecursionError:
        raise LoadError(path, "the header is JSON nested too deeply to parse; the file is corrupted or "
                              "not a safetensors file.") from None
    if not isinstance(header, dict):
        raise LoadError(path, f"expected a JSON object as header, got {type(header).__name__}.")
    data = memoryview(blob)[8 + n:]
    meta = header.pop("__metadata__", None)  # optional, and null as in the safetensors package
    meta = {} if meta is None else meta
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise LoadError(path, f"expected '__metadata__' to map strings to strings, got {json.dumps(meta)[:100]}.")
    tensors, spans = {}, []
    for name, info in header.items():
        tensors[name] = _tensor(path, name, info, data)
        spans.append(tuple(info["data_offsets"]))
    end = 0
    for begin, stop in sorted(spans):
        if begin != end:
            raise LoadError(path, f"the tensors' data overlap or leave a gap at byte {end} (corrupted header).")
        end = stop
    if end != len(data):
        raise LoadError(path, f"the data section has {len(data)} bytes but the tensors use {end} "
                              f"({'truncated' if end > len(data) else 'trailing bytes'}).")
    if CHECKSUM_KEY in meta and hashlib.sha256(data).hexdigest() != meta[CHECKSUM_KEY]:
        raise LoadError(path, "the tensor data do not match their SHA-256 checksum (the file is corrupted).")
    return tensors, meta


def _tensor(path: str, name: str, info: Any, data: memoryview) -> np.ndarray:
    """One tensor from its header entry, validated against the data section."""
    ok = (isinstance(info, dict) and isinstance(info.get("dtype"), str) and isinstance(info.get("shape"), list)
          and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in info["shape"])
          and isinstance(info.get("data_offsets"), list) and len(info["data_offsets"]) == 2
          and all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in info["data_offsets"]))
    if not ok:
        raise LoadError(path, f"malformed header entry for tensor '{name}': {info!r:.200}.")
    if info["dtype"] not in DTYPES and info["dtype"] != "BF16":
        raise LoadError(path, f"tensor '{name}' has dtype {info['dtype']!r}; expected one of {', '.join(DTYPES)} "
                              "or BF16 (8-bit and smaller float formats cannot be read with NumPy).")
    if len(info["shape"]) > MAX_DIMS:
        raise LoadError(path, f"tensor '{name}' has {len(info['shape'])} dimensions; NumPy arrays have at most "
                              f"{MAX_DIMS} (corrupted or crafted header).")
    dtype = np.dtype("<u2" if info["dtype"] == "BF16" else DTYPES[info["dtype"]])
    begin, end = info["data_offsets"]
    count = math.prod(info["shape"])  # Python ints: no overflow, whatever the header claims
    if end - begin != count * dtype.itemsize:
        raise LoadError(path, f"tensor '{name}' of shape {info['shape']} and dtype {info['dtype']} needs "
                              f"{count * dtype.itemsize} bytes, its offsets [{begin}, {end}] give {end - begin}.")
    if end > len(data):
        raise LoadError(path, f"tensor '{name}' ends at byte {end} of the data but the file has only {len(data)} "
                              "(truncated).")
    try:
        a = np.frombuffer(data, dtype=dtype, count=count, offset=begin).reshape(info["shape"])
    except ValueError as exc:  # more axes than this NumPy allows (32 before NumPy 2)
        raise LoadError(path, f"tensor '{name}' cannot be an array: {exc} (corrupted or crafted header).") from None
    if info["dtype"] == "BF16":  # the float32 whose upper 16 bits these are: exact, NaN and inf included
        bits = a.astype(np.uint32)
        bits <<= 16  # in place: a 0-d array stays an array
        return bits.view(np.float32)
    if info["dtype"] == "BOOL" and a.view(np.uint8).max(initial=0) > 1:
        raise LoadError(path, f"tensor '{name}' of dtype BOOL holds bytes other than 0 and 1 (corrupted).")
    return a.astype(dtype.newbyteorder("="), copy=True)
