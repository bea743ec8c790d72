"""Rewrite an .ort file's kernel-type table in a fixed layout, so the same model gives the same bytes anywhere.

ONNX Runtime's converter builds that table (KernelTypeStrResolver: which input or output each kernel type string
binds, per operator) last, at the front of the file, creating its entries in hash-map order, which follows the
process's memory layout. The entries read back sorted, so every layout means the same, but where each lies, and so
the file's first few kB, change with whatever moves that memory layout: address-space randomisation, PYTHONPATH,
the Python install's path, what the process imported first, the machine. Here the table is built again
with flatbuffers' own Builder from the entries as they read back, in that order, before the rest of the file
(the model, built first and so lying after the table, self-contained), which is kept byte for byte; then the root
table. A file laid out otherwise than ORT 1.3x lays it out is left as it is (`canonical_ort` returns False).
"""

from __future__ import annotations

import struct
from pathlib import Path

import flatbuffers
import onnxruntime.tools.ort_format_model  # noqa: F401  (puts ORT's flatbuffers classes on sys.path)
from ort_flatbuffers_py.fbs import (
    ArgTypeAndIndex,
    InferenceSession,
    KernelTypeStrArgsEntry,
    KernelTypeStrResolver,
    OpIdKernelTypeStrArgsEntry,
)

FILE_IDENTIFIER = b"ORTM"
ALIGNMENT = 64  # bytes: a multiple of the widest alignment an .ort field needs (the converter's files: 8)


def _vtable(buffer: bytes, table: int) -> int:
    return table - struct.unpack_from("<i", buffer, table)[0]


def _string_position(table, slot: int) -> int | None:
    offset = table.Offset(slot)
    return table.Indirect(table.Pos + offset) if offset else None


def _resolver_positions(resolver) -> list[int]:
    """Where the table's entries, their key strings and their argument tables lie."""
    positions = [resolver._tab.Pos]
    for i in range(resolver.OpKernelTypeStrArgsLength()):
        entry = resolver.OpKernelTypeStrArgs(i)
        positions += [entry._tab.Pos, _string_position(entry._tab, 4)]
        for j in range(entry.KernelTypeStrArgsLength()):
            kernel_type = entry.KernelTypeStrArgs(j)
            positions += [kernel_type._tab.Pos, _string_position(kernel_type._tab, 4)]
            positions += [kernel_type.Args(a)._tab.Pos for a in range(kernel_type.ArgsLength())]
    return [p for p in positions if p is not None]


def _build_resolver(builder: flatbuffers.Builder, resolver) -> int:
    """The kernel-type table in `builder`, entries in the order they read back (sorted by key, as ORT looks them up)."""
    entries = []
    for i in range(resolver.OpKernelTypeStrArgsLength()):
        entry = resolver.OpKernelTypeStrArgs(i)
        kernel_types = []
        for j in range(entry.KernelTypeStrArgsLength()):
            kernel_type = entry.KernelTypeStrArgs(j)
            args = []
            for a in range(kernel_type.ArgsLength()):
                arg = kernel_type.Args(a)
                ArgTypeAndIndex.Start(builder)
                ArgTypeAndIndex.AddArgType(builder, arg.ArgType())
                ArgTypeAndIndex.AddIndex(builder, arg.Index())
                args.append(ArgTypeAndIndex.End(builder))
            args_vector = _vector(builder, KernelTypeStrArgsEntry.StartArgsVector, args)
            kernel_types.append(_keyed_table(builder, KernelTypeStrArgsEntry, kernel_type.KernelTypeStr(),
                                             KernelTypeStrArgsEntry.AddKernelTypeStr, KernelTypeStrArgsEntry.AddArgs,
                                             args_vector))  # fmt: skip
        kernel_types_vector = _vector(builder, OpIdKernelTypeStrArgsEntry.StartKernelTypeStrArgsVector, kernel_types)
        op_entry = OpIdKernelTypeStrArgsEntry
        entries.append(_keyed_table(builder, op_entry, entry.OpId(), op_entry.AddOpId, op_entry.AddKernelTypeStrArgs,
                                    kernel_types_vector))  # fmt: skip
    entries_vector = _vector(builder, KernelTypeStrResolver.StartOpKernelTypeStrArgsVector, entries)
    KernelTypeStrResolver.Start(builder)
    KernelTypeStrResolver.AddOpKernelTypeStrArgs(builder, entries_vector)
    return KernelTypeStrResolver.End(builder)


def _keyed_table(builder: flatbuffers.Builder, table, key: bytes, add_key, add_children, children: int) -> int:
    """A table of the generated module `table` holding its key string and its children's vector."""
    name = builder.CreateString(key)
    table.Start(builder)
    add_key(builder, name)
    add_children(builder, children)
    return table.End(builder)


def _vector(builder: flatbuffers.Builder, start, offsets: list[int]) -> int:
    start(builder, len(offsets))
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def canonical_ort(path: Path) -> bool:
    """Rewrite the .ort file at `path` with its kernel-type table in the fixed layout; False (the file untouched)
    when its layout is not the one this expects: the model after the table, the version string after the model."""
    laid_out = ort_laid_out(path.read_bytes(), ALIGNMENT)
    if laid_out is None:
        return False
    path.write_bytes(laid_out)
    return True


def ort_laid_out(buffer: bytes, alignment: int) -> bytes | None:
    """The same .ort content with the kernel-type table rebuilt before the model and the length a multiple of
    `alignment` (a power of two); None when `buffer` is not laid out as canonical_ort expects."""
    session = InferenceSession.InferenceSession.GetRootAs(buffer, 0)
    model, resolver = session.Model(), session.KernelTypeStrResolver()
    version = _string_position(session._tab, 4)
    if model is None or resolver is None or version is None:
        return None
    model_start = min(model._tab.Pos, _vtable(buffer, model._tab.Pos))
    if max(_resolver_positions(resolver)) >= model_start or version < model_start:
        return None
    rest = buffer[model_start:]  # the model and the version string; their offsets are relative, so it moves whole
    builder = flatbuffers.Builder(len(buffer))
    builder.Prep(1, len(rest))  # room at the end, no padding: each byte keeps its distance from the end
    builder.head -= len(rest)
    builder.Bytes[builder.head : builder.head + len(rest)] = rest
    from_end = len(buffer)  # a position in `buffer` as the builder counts offsets: bytes from the end
    resolver_offset = _build_resolver(builder, resolver)
    InferenceSession.Start(builder)
    InferenceSession.AddOrtVersion(builder, from_end - version)
    InferenceSession.AddModel(builder, from_end - model._tab.Pos)
    InferenceSession.AddKernelTypeStrResolver(builder, resolver_offset)
    root = InferenceSession.End(builder)
    # The model keeps its distance from the file's end, and the converter's length was a multiple of every
    # alignment the model's fields need; a length that is a multiple of `alignment` keeps each of them as aligned from
    # the file's start as it was. canonical_ort gives a fixed figure, not the converter's length's own: that length
    # moves with the layout, and one that happened to be a multiple of 64 in one process and of 8 in another gave
    # two files.
    builder.minalign = max(builder.minalign, alignment)
    builder.Finish(root, file_identifier=FILE_IDENTIFIER)
    return bytes(builder.Output())
