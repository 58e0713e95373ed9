"""The model file: a ZIP of a JSON header and .npy arrays (never pickle), written atomically.

The container reads and writes the file; a registry of *kinds* says how each object is
turned into a JSON config and named arrays, and back (see ``docs/model-format.md``).
"""

from deltaprop.files.container import (
    ArrayStore,
    FileHeader,
    ModelFileError,
    check_keys,
    decode_float,
    dump_nested,
    encode_float,
    get_field,
    get_number,
    load,
    load_nested,
    nest_state,
    read_arrays,
    read_header,
    register_kind,
    save,
    temporary_files,
    write_atomically,
)

__all__ = [
    "ArrayStore",
    "FileHeader",
    "ModelFileError",
    "check_keys",
    "decode_float",
    "dump_nested",
    "encode_float",
    "get_field",
    "get_number",
    "load",
    "load_nested",
    "nest_state",
    "read_arrays",
    "read_header",
    "register_kind",
    "save",
    "temporary_files",
    "write_atomically",
]
