"""Extract `.tar(.gz|.bz2|.xz)` and `.zip` archives without writing outside the target.

A downloaded preset or a SageMaker `model.tar.gz` is untrusted input: a member named
`../../.bashrc` or `/etc/cron.d/x`, or a symlink pointing out of the target followed by a
member written through it, would overwrite files anywhere the process can write
("tar slip" / "zip slip", CVE-2007-4559). `safe_extract` checks every member before it
writes anything and refuses the whole archive if one member is unsafe, so a refused archive
leaves the target untouched.

Refused: absolute names, names that resolve outside the target (`..`), symlinks and hard
links whose target resolves outside it, device files, FIFOs. Where Python offers the
`"data"` extraction filter (3.11.4+, 3.12) it is applied as well (it also drops setuid bits
and unsafe permissions).

Use it wherever the package unpacks an archive (today nothing in keras-electra does: presets
are directories, SageMaker unpacks `model.tar.gz` itself; a future `from_preset("x.tar.gz")` or
a SageMaker model-loading helper must call this instead of `extractall`).

Example:
```python
import io, tarfile, tempfile
from keras_electra.utils.safe_extract import UnsafeArchiveError, safe_extract

with tempfile.TemporaryDirectory() as tmp:
    archive = f"{tmp}/preset.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"{}"
        info = tarfile.TarInfo("preset/config.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    print(safe_extract(archive, f"{tmp}/out"))  # ['preset/config.json']
```
"""

import os
import tarfile
import zipfile

from keras_electra.utils.errors import UserError


class UnsafeArchiveError(UserError, ValueError):
    """An archive member would be written outside the extraction directory (or is a device)."""


def _inside(root, path):
    root = os.path.realpath(root)
    path = os.path.realpath(path)
    return path == root or path.startswith(root + os.sep)


def _check_name(archive, root, name):
    if not name or name.startswith(("/", "\\")) or os.path.isabs(name) or (
            len(name) > 1 and name[1] == ":"):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path; refusing "
                                 "to extract an archive that writes outside its target.")
    if not _inside(root, os.path.join(root, name)):
        raise UnsafeArchiveError(f"{archive}: member {name!r} resolves outside {root}; "
                                 "refusing to extract (path traversal).")


def _check_tar(archive, root, tar):
    members = tar.getmembers()
    for member in members:
        _check_name(archive, root, member.name)
        if member.isdev() or member.isfifo():
            raise UnsafeArchiveError(f"{archive}: member {member.name!r} is a device or FIFO; "
                                     "refusing to extract.")
        if member.issym():
            base = os.path.dirname(os.path.join(root, member.name))
            if os.path.isabs(member.linkname) or not _inside(
                    root, os.path.join(base, member.linkname)):
                raise UnsafeArchiveError(
                    f"{archive}: symlink {member.name!r} -> {member.linkname!r} points outside "
                    f"{root}; refusing to extract.")
        if member.islnk():
            if os.path.isabs(member.linkname) or not _inside(
                    root, os.path.join(root, member.linkname)):
                raise UnsafeArchiveError(
                    f"{archive}: hard link {member.name!r} -> {member.linkname!r} points outside "
                    f"{root}; refusing to extract.")
    return members


def safe_extract(archive, target_dir):
    """Extract a tar or zip archive into `target_dir`, refusing unsafe members.

    Args:
        archive: path of a `.tar`, `.tar.gz`/`.tgz`, `.tar.bz2`, `.tar.xz` or `.zip` file.
        target_dir: directory to extract into (created if missing).

    Returns:
        The member names extracted, in archive order.

    Raises:
        UnsafeArchiveError: a member is absolute, escapes `target_dir` (`..`, or through a
            symlink / hard link), or is a device/FIFO. Nothing is extracted in that case.
        ValueError: `archive` is neither a tar nor a zip file.
    """
    archive = os.fspath(archive)
    root = os.path.realpath(os.fspath(target_dir))
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            for name in names:
                _check_name(archive, root, name)
            os.makedirs(root, exist_ok=True)
            zf.extractall(root)
        return names
    if not tarfile.is_tarfile(archive):
        raise ValueError(f"{archive}: not a tar or zip archive.")
    with tarfile.open(archive) as tar:
        members = _check_tar(archive, root, tar)
        os.makedirs(root, exist_ok=True)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(root, members=members, filter="data")
        else:  # pragma: no cover - Python < 3.11.4; the checks above still apply
            tar.extractall(root, members=members)
    return [m.name for m in members]
