"""One on-disk cache for what the course computes once and reuses.

Segmenting the corpus, training Word2Vec and training a classifier take seconds to
minutes, and chapters 3-8 need the same results again. Each result is an *entry*,
a folder `<cache>/<kind>/<key>/`:
- the key is content-addressed: a hash of the inputs, the settings and the
  fingerprint of the code that computes the result (`code_fingerprint`), so a
  changed text, setting or function never reuses an old entry;
- writes are atomic: files go into a temporary folder renamed into place at the
  end, so a reader never sees half an entry;
- every entry carries a manifest with the SHA-256 of each file, checked on read:
  a damaged or partial entry is deleted and recomputed, never served.

The code fingerprint is derived from the import graph, not from a hand-kept list:
the source of a module and of every llmcourse module it imports, directly or not.
`$LLMCOURSE_CACHE_DIR` (default ~/.cache/llmcourse) holds the cache; `make
clean-cache` empties it. Taught in chapter 3 (segmentation cache) and chapter 5.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
import shutil
import sys
import warnings
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np

from llmcourse import profiling

try:  # POSIX (Linux, macOS, Colab); elsewhere entries are computed without the lock
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

CACHE_ENV = "LLMCOURSE_CACHE_DIR"
MANIFEST = "manifest.json"
FORMAT = "llmcourse.cache/1"
PACKAGE = "llmcourse"
PACKAGE_ROOT = Path(__file__).resolve().parent  # the folder whose sources are fingerprinted

T = TypeVar("T")


def cache_dir() -> Path:
    """The cache root: $LLMCOURSE_CACHE_DIR, or ~/.cache/llmcourse.

    Taught in chapter 3.
    """
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / PACKAGE)


# --------------------------------------------------------------------------- code fingerprint
def _source_path(module: str, root: Path) -> Path:
    """File of an llmcourse module: "llmcourse.deploy.cli" -> <root>/deploy/cli.py."""
    parts = module.split(".")[1:]
    package = root.joinpath(*parts, "__init__.py")
    if not parts or package.is_file():
        return package
    return root.joinpath(*parts[:-1], parts[-1] + ".py")


def imported_modules(module: str, root: Path = PACKAGE_ROOT) -> set[str]:
    """The llmcourse modules that `module` imports anywhere in its source (top level or inside functions).

    Taught in chapter 3.
    """
    tree = ast.parse(_source_path(module, root).read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:  # `from llmcourse import data`: data is a module, __version__ is not
                child = f"{node.module}.{alias.name}"
                found.add(child if _source_path(child, root).is_file() else node.module)
    found.discard(module)
    return found


def import_closure(module: str, root: Path = PACKAGE_ROOT) -> list[str]:
    """`module` and every llmcourse module it imports, directly or through others, sorted.

    Taught in chapter 3.
    """
    seen, todo = {module}, [module]
    while todo:
        for name in imported_modules(todo.pop(), root):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return sorted(seen)


@functools.lru_cache(maxsize=None)
def code_fingerprint(module: str, root: Path = PACKAGE_ROOT) -> str:
    """A hash of the source of `module` and of its whole llmcourse import closure.

    Taught in chapter 3.
    """
    digest = hashlib.sha256()
    for name in import_closure(module, root):
        digest.update(name.encode("utf-8") + b"\x00")
        digest.update(_source_path(name, root).read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- keys
def _feed(digest, part) -> None:
    """Add one part to a running hash, tagged by type so that different parts never collide."""
    if isinstance(part, np.ndarray):
        array = np.ascontiguousarray(part)
        digest.update(f"array:{array.dtype}:{array.shape}".encode("utf-8"))
        digest.update(array.tobytes())
    elif isinstance(part, (bytes, bytearray)):
        digest.update(b"bytes:" + bytes(part))
    elif isinstance(part, str):
        digest.update(b"str:" + part.encode("utf-8"))
    elif isinstance(part, (list, tuple)) and part and all(isinstance(p, (list, tuple)) for p in part):
        digest.update(f"seq:{len(part)}".encode("utf-8"))  # e.g. token lists: one part per list
        for item in part:
            _feed(digest, item)
    else:
        digest.update(b"json:" + json.dumps(part, sort_keys=True, default=str, ensure_ascii=False).encode("utf-8"))
    digest.update(b"\x1e")


def make_key(module: str, *parts) -> str:
    """The key of an entry computed by `module` from `parts` (texts, arrays, settings).

    Taught in chapter 3.
    """
    digest = hashlib.sha256(code_fingerprint(module).encode("ascii"))
    for part in parts:
        _feed(digest, part)
    return digest.hexdigest()[:32]


# --------------------------------------------------------------------------- entries
def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def _is_valid(folder: Path) -> bool:
    """True when the manifest is there and every file in it (and no other) has its recorded hash."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        recorded = manifest["files"]
        present = {p.relative_to(folder).as_posix(): p for p in _files(folder)}
        return (
            manifest.get("format") == FORMAT
            and set(recorded) == set(present)
            and all(_file_hash(present[name]) == digest for name, digest in recorded.items())
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def entry_path(kind: str, key: str, root: str | os.PathLike | None = None) -> Path:
    """Folder of the entry `key` of `kind` ("segments", "word2vec", "models").

    Taught in chapter 3.
    """
    return Path(root or cache_dir()) / kind / key


def read(kind: str, key: str, load: Callable[[Path], T], root: str | os.PathLike | None = None) -> T | None:
    """`load(folder)` of a valid entry, or None when there is none; a damaged entry is removed.

    Taught in chapter 3.
    """
    folder = entry_path(kind, key, root)
    if not folder.is_dir():
        return None
    with profiling.stage("cache-read"):  # checking the checksums and loading: one read
        if not _is_valid(folder):
            reason = "文件缺失或校验和不符"
        else:
            try:
                return load(folder)
            except Exception as err:  # noqa: BLE001  any failure to read means: compute it again
                reason = f"{type(err).__name__}: {err}"
    warnings.warn(f"缓存条目 {folder} 已损坏（{reason}），删除后重新计算", RuntimeWarning, stacklevel=2)
    shutil.rmtree(folder, ignore_errors=True)
    return None


def _fsync(path: Path) -> None:
    """Force a file's (or a folder's entries') bytes to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return True


def remove_stale_temporaries(parent: Path) -> int:
    """Delete the temporary folders of writers that died before renaming them; returns how many."""
    removed = 0
    for tmp in parent.glob("*.tmp*"):
        pid = tmp.name.rpartition(".tmp")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)
            removed += 1
    return removed


def write(kind: str, key: str, save: Callable[[Path], None], root: str | os.PathLike | None = None) -> Path:
    """Store an entry: `save(folder)` writes its files into a temporary folder renamed into place.

    Every file and the folder are fsynced before the rename, so a crash leaves either the
    whole entry or none; temporary folders that dead writers left behind are removed.
    Taught in chapter 3.
    """
    folder = entry_path(kind, key, root)
    folder.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder.parent)
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        save(tmp)
        files = {p.relative_to(tmp).as_posix(): _file_hash(p) for p in _files(tmp)}
        manifest = {"format": FORMAT, "files": files, "python": sys.version.split()[0]}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        for path in [*_files(tmp), tmp / MANIFEST, *(p for p in tmp.rglob("*") if p.is_dir()), tmp]:
            _fsync(path)
        if folder.exists():  # an invalid leftover, or a parallel writer's identical entry
            shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        _fsync(folder.parent)
    except OSError:
        if not _is_valid(folder):
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


LOCKS = ".locks"  # the folder of the cache root that holds one lock file per entry being computed


@contextlib.contextmanager
def computing(kind: str, key: str, root: str | os.PathLike | None = None):
    """Hold the entry's lock while computing it: a second process that needs the same entry waits, then reads it.

    Two chapters executed at the same time (`make book` runs two at once) often need the
    same model; without the lock both would train it. An advisory `flock` on
    `<cache>/.locks/<kind>-<key>.lock`, released by the system if the holder dies.
    Taught in chapter 3.
    """
    if fcntl is None:
        yield
        return
    folder = Path(root or cache_dir()) / LOCKS
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{kind}-{key}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached(
    kind: str,
    key: str,
    compute: Callable[[], T],
    save: Callable[[T, Path], None],
    load: Callable[[Path], T],
    root: str | os.PathLike | None = None,
    enabled: bool = True,
) -> tuple[T, bool]:
    """(`compute()` or the stored result, whether it came from the cache).

    Taught in chapter 3.
    """
    if not enabled:
        return compute(), False
    found = read(kind, key, load, root)
    if found is not None:
        return found, True
    with computing(kind, key, root):
        found = read(kind, key, load, root)  # written by another process while this one waited for the lock
        if found is not None:
            return found, True
        result = compute()
        write(kind, key, lambda folder: save(result, folder), root)
    return result, False
