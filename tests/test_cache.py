"""llmcourse.cache: atomic, validated, content-addressed entries, and a code fingerprint from the import graph."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from llmcourse import cache

ROOT = Path(__file__).resolve().parents[1]


def save_text(value, folder):
    (folder / "value.txt").write_text(value, encoding="utf-8")


def load_text(folder):
    return (folder / "value.txt").read_text(encoding="utf-8")


def test_an_entry_is_computed_once_then_read(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return "结果"

    first = cache.cached("demo", "k1", compute, save_text, load_text, tmp_path)
    second = cache.cached("demo", "k1", compute, save_text, load_text, tmp_path)
    assert first == ("结果", False) and second == ("结果", True) and len(calls) == 1
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["k1"]  # no temporary folder left behind
    assert cache.cached("demo", "k1", compute, save_text, load_text, tmp_path, enabled=False) == ("结果", False)


# Each process marks that it has started, waits for the other, then asks for the same entry,
# whose computation takes a second and counts itself in computed.txt.
TWO_PROCESSES = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from llmcourse import cache
    root, me = Path(sys.argv[1]), sys.argv[2]
    (root / f"started-{me}").touch()
    while len(list(root.glob("started-*"))) < 2:
        time.sleep(0.01)
    def compute():
        with open(root / "computed.txt", "a") as log:
            log.write(me + "\\n")
        time.sleep(1.0)
        return "模型"
    save = lambda value, folder: (folder / "v.txt").write_text(value, encoding="utf-8")
    load = lambda folder: (folder / "v.txt").read_text(encoding="utf-8")
    value, from_cache = cache.cached("models", "shared", compute, save, load, root)
    print(value, from_cache)
    """
)


def test_two_processes_that_need_one_entry_compute_it_once(tmp_path):
    """Two chapters executed at once (tools/execute_book.py) wait for each other instead of training twice."""
    runs = [
        subprocess.Popen([sys.executable, "-c", TWO_PROCESSES, str(tmp_path), me], stdout=subprocess.PIPE, text=True)
        for me in ("a", "b")
    ]
    outputs = sorted(run.communicate(timeout=60)[0].strip() for run in runs)
    assert [run.returncode for run in runs] == [0, 0]
    assert outputs == ["模型 False", "模型 True"]  # one computed it, the other waited and read it
    assert len((tmp_path / "computed.txt").read_text().split()) == 1
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["shared"]


@pytest.mark.parametrize("damage", ["edit", "truncate", "extra file", "no manifest", "bad manifest"])
def test_a_damaged_entry_is_removed_and_recomputed(tmp_path, damage):
    folder = cache.write("demo", "k", lambda f: save_text("原始内容", f), tmp_path)
    if damage == "edit":
        (folder / "value.txt").write_text("被改过", encoding="utf-8")
    elif damage == "truncate":
        (folder / "value.txt").write_bytes(b"")
    elif damage == "extra file":
        (folder / "stray.bin").write_bytes(b"x")
    elif damage == "no manifest":
        (folder / cache.MANIFEST).unlink()
    else:
        (folder / cache.MANIFEST).write_text("[1, 2", encoding="utf-8")
    with pytest.warns(RuntimeWarning, match="缓存条目"):
        assert cache.read("demo", "k", load_text, tmp_path) is None
    assert not folder.exists()
    assert cache.cached("demo", "k", lambda: "重算", save_text, load_text, tmp_path) == ("重算", False)


def test_a_failing_loader_counts_as_damage(tmp_path):
    cache.write("demo", "k", lambda f: save_text("x", f), tmp_path)

    def broken(folder):
        raise ValueError("读不了")

    with pytest.warns(RuntimeWarning, match="读不了"):
        assert cache.read("demo", "k", broken, tmp_path) is None


def test_a_failed_write_leaves_no_entry(tmp_path):
    def fails(folder):
        (folder / "half.txt").write_text("一半")
        raise OSError("磁盘满了")

    with pytest.raises(OSError):
        cache.write("demo", "k", fails, tmp_path)
    assert not (tmp_path / "demo" / "k").exists() and list((tmp_path / "demo").iterdir()) == []


def test_keys_depend_on_every_part():
    base = cache.make_key("llmcourse.text", "设置", [["我", "喜欢"]])
    assert base == cache.make_key("llmcourse.text", "设置", [["我", "喜欢"]])
    assert base != cache.make_key("llmcourse.text", "设置", [["我喜欢"]])  # the same characters, cut elsewhere
    assert base != cache.make_key("llmcourse.text", "设置2", [["我", "喜欢"]])
    assert base != cache.make_key("llmcourse.vectors", "设置", [["我", "喜欢"]])  # another module's code


def test_the_fingerprint_follows_the_import_graph():
    closure = cache.import_closure("llmcourse.pipeline")
    for module in ("llmcourse.evaluation", "llmcourse.config", "llmcourse.training", "llmcourse.text"):
        assert module in closure
    assert "llmcourse.pipeline" not in cache.import_closure("llmcourse.evaluation")
    assert not any(m.startswith("llmcourse.deploy") for m in closure)


def copy_package(tmp_path: Path) -> Path:
    """A copy of the package to edit, importable through PYTHONPATH ahead of the installed one."""
    shutil.copytree(ROOT / "llmcourse", tmp_path / "src" / "llmcourse", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path / "src"


TRAIN_SCRIPT = textwrap.dedent("""
    import dataclasses
    import llmcourse
    from llmcourse import config, data, pipeline
    assert llmcourse.__file__.startswith(%r), llmcourse.__file__
    sizes = dataclasses.replace(config.sizes("quick"), max_reviews=200, extra_w2v_sentences=0)
    prepared = pipeline.prepare(data.load_reviews(), sizes, progress=False)
    trained = pipeline.train_baseline(prepared, "tfidf-char", cache=True)
    print("from_cache", trained.from_cache)
""")


def test_a_changed_metric_is_never_served_from_an_old_entry(tmp_path):
    """Train a cached model, change a function in `evaluation`: the next run trains again."""
    src = copy_package(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(src), LLMCOURSE_CACHE_DIR=str(tmp_path / "cache"), TF_CPP_MIN_LOG_LEVEL="3")

    def run() -> str:
        out = subprocess.run(
            [sys.executable, "-c", TRAIN_SCRIPT % str(src)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout.split()[-1]

    assert run() == "False"
    assert run() == "True"  # the same code: read back
    evaluation = src / "llmcourse" / "evaluation.py"
    source = evaluation.read_text(encoding="utf-8")
    marker = "def compute_metrics("
    assert marker in source
    evaluation.write_text(source.replace(marker, "# a changed metric\n" + marker), encoding="utf-8")
    assert run() == "False"  # evaluation's code changed: trained anew


# --------------------------------------------------------------------------- damage in the real entries
def test_writes_are_fsynced_before_the_rename(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    cache.write("demo", "k", lambda f: save_text("内容", f), tmp_path)
    assert len(synced) >= 3  # the file, the manifest, the folder (and then its parent)


def test_temporaries_of_dead_writers_are_removed(tmp_path):
    parent = tmp_path / "demo"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    orphan = parent / f"abc.tmp{dead.stdout.strip()}"  # a process that has exited
    (orphan / "half").mkdir(parents=True)
    mine = parent / f"def.tmp{os.getpid()}"  # our own is left to us
    mine.mkdir()
    cache.write("demo", "k", lambda f: save_text("内容", f), tmp_path)
    assert not orphan.exists() and mine.exists()


def damage_every_file(folder: Path, how: str) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and path.name != cache.MANIFEST:
            path.write_bytes(b"" if how == "empty" else path.read_bytes()[: max(1, path.stat().st_size // 2)])


@pytest.mark.parametrize("how", ["empty", "truncated"])
def test_a_damaged_segmentation_is_recomputed(tmp_path, how):
    from llmcourse import text

    texts = ["房间很干净", "服务太差了"]
    first = text.segment_corpus(texts, directory=tmp_path, progress=False)
    damage_every_file(tmp_path / "segments", how)
    with pytest.warns(RuntimeWarning, match="缓存条目"):
        again = text.segment_corpus(texts, directory=tmp_path, progress=False)
    assert again == first
    assert text.segment_corpus(texts, directory=tmp_path, progress=False) == first  # stored again, read quietly


@pytest.mark.parametrize("how", ["empty", "truncated"])
def test_damaged_word_vectors_are_trained_again(tmp_path, how):
    from llmcourse import vectors

    tokens = [["房间", "干净"], ["服务", "差"]] * 20
    first, hit = vectors.cached_word2vec(tokens, directory=tmp_path, vector_size=8, epochs=1, min_count=1)
    damage_every_file(tmp_path / "word2vec", how)
    with pytest.warns(RuntimeWarning, match="缓存条目"):
        again, hit_again = vectors.cached_word2vec(tokens, directory=tmp_path, vector_size=8, epochs=1, min_count=1)
    assert not hit and not hit_again and again.index_to_key == first.index_to_key


def test_a_damaged_trained_model_is_trained_again(tmp_path, monkeypatch, reviews):
    import dataclasses

    from llmcourse import config, pipeline

    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    sizes = dataclasses.replace(config.sizes("quick"), max_reviews=200, extra_w2v_sentences=0)
    prepared = pipeline.prepare(reviews, sizes, progress=False)
    first = pipeline.train_baseline(prepared, "tfidf-char", cache=True)
    (entry,) = (tmp_path / "models").iterdir()
    (entry / "model" / "tfidf.json").write_text("{", encoding="utf-8")
    with pytest.warns(RuntimeWarning, match="缓存条目"):
        again = pipeline.train_baseline(prepared, "tfidf-char", cache=True)
    assert not first.from_cache and not again.from_cache and again.test.as_dict() == first.test.as_dict()
