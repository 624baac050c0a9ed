"""Names that become paths stay inside their folder.

Any text a node (or a workflow file, or a user) gives that Embody turns into a file path must resolve inside the
folder it belongs to (models/embody/motion, output/, a cache folder): otherwise a graph posted to the server could
write or read anywhere the server can (``../../x``, ``/etc/x``, ``C:\\x``, a symlink that points out of the folder).

Use :func:`resolve_inside` for every such name, for reading and for writing, and for each side file derived from it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# "C:\x", "C:/x", "C:x" (drive-relative) and UNC "\\server\share": absolute on Windows, so refused on every OS.
_WINDOWS_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:|[\\/]{2})")


def resolve_inside(folder: str | os.PathLike[str], name: str, *, input_name: str) -> Path:
    """Resolve ``name`` inside ``folder`` or raise a ValueError that names the input and the fix.

    Args:
        folder: the folder the name belongs to (need not exist yet).
        name: a relative file name; sub-folders are allowed ("people/anna" -> folder/people/anna). Leading and
            trailing whitespace is stripped.
        input_name: what the user typed it into (e.g. "output_name"), quoted in the error.
    Returns:
        The absolute, symlink-resolved path, guaranteed to lie under the resolved ``folder`` (it may not exist yet).
    Raises:
        ValueError: empty name, an absolute path (posix "/x" or Windows "C:\\x", "\\\\server\\x" on any OS), a NUL
        byte, or a name that leaves the folder through ".." or a symlink.
    """
    text = str(name).strip()
    where = f"a name inside {os.fspath(folder)!r}"
    if not text:
        raise ValueError(f"{input_name} is empty: give {where}, e.g. 'my_model' or 'people/anna'.")
    if "\x00" in text:
        raise ValueError(f"{input_name} {text!r} contains a NUL character: give {where}.")
    if os.path.isabs(text) or _WINDOWS_ABSOLUTE.match(text) or text.startswith(("/", "\\")):
        raise ValueError(
            f"{input_name} {text!r} is an absolute path; Embody only writes and reads {where}. Give a relative name "
            f"such as 'my_model' or 'people/anna'."
        )
    root = Path(folder).resolve()
    # Treat backslashes as separators everywhere so "a\\..\\..\\x" cannot slip through on posix.
    target = (root / text.replace("\\", "/")).resolve()
    if target == root or not target.is_relative_to(root):
        raise ValueError(
            f"{input_name} {text!r} points outside its folder {str(root)!r} (through '..' or a symbolic link); "
            f"give {where}, e.g. 'my_model' or 'people/anna'."
        )
    return target
