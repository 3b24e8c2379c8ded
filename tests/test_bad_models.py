"""Damaged model directories: each is refused with one ModelLoadError that names the file and the field.

One table of damage cases, each applied to a fresh copy of a tiny saved model (a quick
LSTM or a TF-IDF character baseline); the command line turns a few of them into one
line and exit status 2; hypothesis throws random JSON at config.json and vocabulary.json.
"""

import json
import os
import re
import shutil
import types
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from llmcourse import baselines, saving, vectors
from llmcourse.deploy import cli


# --------------------------------------------------------------------------- the two undamaged models
@pytest.fixture(scope="module")
def lstm_dir(saved_quick_model):
    return saved_quick_model("lstm", 5)[0]


@pytest.fixture(scope="module")
def tfidf_dir(small_reviews, tmp_path_factory):
    classifier = baselines.TfidfClassifier("tfidf-char").fit(small_reviews.texts, small_reviews.labels)
    return saving.BaselineModel(classifier, {"kind": "tfidf-char"}).save(tmp_path_factory.mktemp("tfidf-model"))


@pytest.fixture(scope="module")
def keras_files(lstm_dir, tmp_path_factory):
    """Other .keras files to swap in: an unsafe Lambda layer, a foreign model, a classifier with a wider embedding."""
    import keras

    from llmcourse import models

    folder = tmp_path_factory.mktemp("keras-files")
    rows = len(vectors.Vocabulary.load(lstm_dir / saving.VOCAB_FILE))
    ids = keras.Input(shape=(None,), dtype="int32")
    embedded = keras.layers.Embedding(rows, 4)(ids)  # (批量大小, 时间步数, 4)
    unsafe = keras.layers.Lambda(lambda x: x[:, 0, :1])(embedded)  # a Python lambda: code in the file
    keras.Model(ids, unsafe).save(folder / "lambda.keras")
    three = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling1D()(embedded))
    keras.Model(ids, three).save(folder / "foreign.keras")
    models.build_classifier("lstm", rows + 5, 8, hidden_units=4).save(folder / "wider.keras")
    return folder


# --------------------------------------------------------------------------- ways to damage a directory
def edit_json(name, change):
    """Damage `name` by `change(state)`, which edits the parsed JSON in place (what it returns is ignored)."""

    def damage(d, ctx):
        path = d / name
        state = json.loads(path.read_text(encoding="utf-8"))
        change(state)
        path.write_text(json.dumps(state, ensure_ascii=False), encoding="utf-8")

    return damage


def write(name, content):
    """Damage `name` by replacing it with `content` (bytes, or a function of the old bytes)."""

    def damage(d, ctx):
        path = d / name
        path.write_bytes(content(path.read_bytes()) if callable(content) else content)

    return damage


def remove(name):
    return lambda d, ctx: (d / name).unlink()


def directory_instead(name):
    def damage(d, ctx):
        (d / name).unlink()
        (d / name).mkdir()

    return damage


def unreadable(name):
    """No read permission; root reads anything, so for root the refusal the kernel gives others is emulated."""

    def damage(d, ctx):
        target = d / name
        target.chmod(0)
        if os.geteuid() == 0:
            real_open = Path.open

            def guarded_open(self, *args, **kwargs):
                if self == target:
                    raise PermissionError(13, "Permission denied", str(self))
                return real_open(self, *args, **kwargs)

            ctx.monkeypatch.setattr(Path, "open", guarded_open)

    return damage


def swap_keras(file_name):
    return lambda d, ctx: shutil.copyfile(ctx.keras_files / file_name, d / saving.MODEL_FILE)


def rezip(member, change):
    """Rewrite model.keras with one archive member changed."""

    def damage(d, ctx):
        path = d / saving.MODEL_FILE
        with zipfile.ZipFile(path) as archive:
            contents = {info.filename: archive.read(info) for info in archive.infolist()}
        contents[member] = change(contents[member])
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in contents.items():
                archive.writestr(name, data)

    return damage


def replace_layer(new: bytes):
    """Change the embedding layer's class in model.keras's config.json to `new`."""

    def change(old: bytes) -> bytes:
        embedding = b'"module": "keras.layers", "class_name": "Embedding"'
        assert embedding in old
        return old.replace(embedding, new)

    return change


def set_field(name, field, value):
    return edit_json(name, lambda s: s.__setitem__(field, value))


def set_encoder(field, value):
    return edit_json(saving.CONFIG_FILE, lambda s: s["encoder"].__setitem__(field, value))


def drop_field(name, field):
    return edit_json(name, lambda s: s.pop(field))


def first_word_id(value):
    def change(state):
        state["vocabulary"][next(iter(state["vocabulary"]))] = value

    return change


def second_id_as_first(state):
    first, second = list(state["vocabulary"])[:2]
    state["vocabulary"][second] = state["vocabulary"][first]


def set_item(field, index, value):
    return lambda s: s[field].__setitem__(index, value)


CONFIG, VOCAB, MODEL, TFIDF = saving.CONFIG_FILE, saving.VOCAB_FILE, saving.MODEL_FILE, "tfidf.json"


def not_utf8(old):  # 不 in GBK inside a string
    return old.replace(b'"lstm"', b'"lstm\xb2\xbb"', 1)


def not_utf8_words(old):
    return old.replace(b'"words": [', b'"words": ["\xc4\xe3",', 1)


# (case id, model, damage, file, field or None, what the problem must say)
CASES = [
    # config.json
    ("config-a-list", "lstm", write(CONFIG, b'["llmcourse.model/1", "lstm"]'), CONFIG, None, "JSON 对象"),
    ("config-not-utf8", "lstm", write(CONFIG, not_utf8), CONFIG, None, "UTF-8"),
    ("config-truncated", "lstm", write(CONFIG, lambda old: old[: len(old) // 2]), CONFIG, None, "不是合法的 JSON"),
    ("config-nested-too-deep", "lstm", write(CONFIG, b"[" * 100_000), CONFIG, None, "嵌套太深"),
    ("config-5000-digit-integer", "lstm", write(CONFIG, b'{"format": ' + b"1" * 5000 + b"}"), CONFIG, None, "位数太多"),
    ("config-no-format", "lstm", drop_field(CONFIG, "format"), CONFIG, "format", "缺少"),
    ("config-wrong-format", "lstm", set_field(CONFIG, "format", "llmcourse.model/9"), CONFIG, "format", "应是"),
    ("config-unknown-kind", "lstm", set_field(CONFIG, "kind", "gpt"), CONFIG, "kind", "未知的模型种类"),
    ("config-kind-a-number", "lstm", set_field(CONFIG, "kind", 3), CONFIG, "kind", "应是字符串"),
    ("config-versions-a-list", "lstm", set_field(CONFIG, "versions", ["keras"]), CONFIG, "versions", "对象"),
    ("config-no-encoder", "lstm", drop_field(CONFIG, "encoder"), CONFIG, "encoder", "缺少"),
    ("config-encoder-a-list", "lstm", set_field(CONFIG, "encoder", [48]), CONFIG, "encoder", "对象"),
    ("max-len-1e9", "lstm", set_encoder("max_len", 1e9), CONFIG, "encoder.max_len", "应是整数"),
    ("max-len-10-to-the-9", "lstm", set_encoder("max_len", 10**9), CONFIG, "encoder.max_len", "1 到 10000"),
    ("max-len-zero", "lstm", set_encoder("max_len", 0), CONFIG, "encoder.max_len", "1 到 10000"),
    ("max-len-a-string", "lstm", set_encoder("max_len", "48"), CONFIG, "encoder.max_len", "应是整数"),
    ("max-len-true", "lstm", set_encoder("max_len", True), CONFIG, "encoder.max_len", "布尔值"),
    ("stopwords-a-string", "lstm", set_encoder("stopwords", "的了"), CONFIG, "encoder.stopwords", "字符串列表"),
    ("stopwords-a-number-inside", "lstm", set_encoder("stopwords", ["的", 3]), CONFIG, "encoder.stopwords", "第 2 项"),
    ("truncating-middle", "lstm", set_encoder("truncating", "middle"), CONFIG, "encoder.truncating", "'post'"),
    ("config-a-directory", "lstm", directory_instead(CONFIG), CONFIG, None, "目录"),
    ("config-unreadable", "lstm", unreadable(CONFIG), CONFIG, None, "没有读取权限"),
    # vocabulary.json
    ("vocabulary-truncated", "lstm", write(VOCAB, lambda old: old[: len(old) // 2]), VOCAB, None, "JSON"),
    ("vocabulary-a-list", "lstm", write(VOCAB, '["好", "差"]'.encode()), VOCAB, None, "JSON 对象"),
    ("vocabulary-not-utf8", "lstm", write(VOCAB, not_utf8_words), VOCAB, None, "UTF-8"),
    ("vocabulary-no-format", "lstm", drop_field(VOCAB, "format"), VOCAB, "format", "缺少"),
    (
        "vocabulary-duplicate-word",
        "lstm",
        edit_json(VOCAB, lambda s: s["words"].__setitem__(5, s["words"][3])),
        VOCAB,
        "words",
        "重复",
    ),
    ("vocabulary-words-abc", "lstm", set_field(VOCAB, "words", "abc"), VOCAB, "words", "字符串列表"),
    ("vocabulary-a-number-word", "lstm", edit_json(VOCAB, set_item("words", 0, -1)), VOCAB, "words", "第 1 项"),
    ("vocabulary-special-token", "lstm", edit_json(VOCAB, set_item("words", 0, "<unk>")), VOCAB, "words", "特殊符号"),
    (
        "vocabulary-negative-count",
        "lstm",
        edit_json(VOCAB, lambda s: s["counts"].__setitem__(s["words"][0], -1)),
        VOCAB,
        "counts",
        "非负整数",
    ),
    (
        "vocabulary-shrunk",
        "lstm",
        edit_json(VOCAB, lambda s: s["words"].__delitem__(slice(-10, None))),
        VOCAB,
        "words",
        "词嵌入有",
    ),
    (
        "vocabulary-grown",
        "lstm",
        edit_json(VOCAB, lambda s: s["words"].extend(["新词甲", "新词乙"])),
        VOCAB,
        "words",
        "词嵌入有",
    ),
    (
        "vocabulary-char-fallback-yes",
        "lstm",
        set_field(VOCAB, "char_fallback", "yes"),
        VOCAB,
        "char_fallback",
        "布尔值",
    ),
    ("vocabulary-char-fallback-1", "lstm", set_field(VOCAB, "char_fallback", 1), VOCAB, "char_fallback", "布尔值"),
    ("vocabulary-missing", "lstm", remove(VOCAB), VOCAB, None, "缺少这个文件"),
    ("vocabulary-unreadable", "lstm", unreadable(VOCAB), VOCAB, None, "没有读取权限"),
    # model.keras
    ("keras-garbage", "lstm", write(MODEL, b"this is not a zip archive"), MODEL, None, "zip"),
    ("keras-truncated", "lstm", write(MODEL, lambda old: old[: len(old) // 2]), MODEL, None, "截断"),
    ("keras-empty", "lstm", write(MODEL, b""), MODEL, None, "zip"),
    ("keras-missing", "lstm", remove(MODEL), MODEL, None, "缺少这个文件"),
    ("keras-a-directory", "lstm", directory_instead(MODEL), MODEL, None, "目录"),
    ("keras-unsafe-lambda", "lstm", swap_keras("lambda.keras"), MODEL, None, "安全模式拒绝加载"),
    ("keras-foreign-model", "lstm", swap_keras("foreign.keras"), MODEL, None, "不是情感分类模型"),
    ("keras-wider-embedding", "lstm", swap_keras("wider.keras"), VOCAB, "words", "词嵌入有"),
    ("keras-config-not-json", "lstm", rezip("config.json", lambda old: b"{not json"), MODEL, None, "无法加载"),
    ("keras-weights-truncated", "lstm", rezip("model.weights.h5", lambda old: old[:100]), MODEL, None, "无法加载"),
    (
        "keras-unknown-layer",
        "lstm",
        rezip("config.json", replace_layer(b'"class_name": "NotALayer"')),
        MODEL,
        None,
        "无法加载",
    ),
    (
        "keras-os-system-as-a-layer",
        "lstm",
        rezip("config.json", replace_layer(b'"module": "os", "class_name": "system"')),
        MODEL,
        None,
        "无法加载",
    ),
    # tfidf.json (and the baseline's config.json)
    ("tfidf-truncated", "tfidf", write(TFIDF, lambda old: old[: len(old) // 2]), TFIDF, None, "JSON"),
    ("tfidf-missing", "tfidf", remove(TFIDF), TFIDF, None, "缺少这个文件"),
    ("tfidf-no-format", "tfidf", drop_field(TFIDF, "format"), TFIDF, "format", "缺少"),
    ("tfidf-unknown-kind", "tfidf", set_field(TFIDF, "kind", "tfidf-xyz"), TFIDF, "kind", "未知的基线模型种类"),
    ("tfidf-kind-differs-from-config", "tfidf", set_field(CONFIG, "kind", "tfidf-word"), TFIDF, "kind", "不一致"),
    ("tfidf-C-a-string", "tfidf", set_field(TFIDF, "C", "4"), TFIDF, "C", "应是数"),
    ("tfidf-C-negative", "tfidf", set_field(TFIDF, "C", -1.0), TFIDF, "C", "正数"),
    ("tfidf-vocabulary-a-list", "tfidf", set_field(TFIDF, "vocabulary", ["好"]), TFIDF, "vocabulary", "对象"),
    ("tfidf-vocabulary-empty", "tfidf", set_field(TFIDF, "vocabulary", {}), TFIDF, "vocabulary", "空"),
    ("tfidf-id-minus-one", "tfidf", edit_json(TFIDF, first_word_id(-1)), TFIDF, "vocabulary", "编号却是 -1"),
    ("tfidf-id-out-of-range", "tfidf", edit_json(TFIDF, first_word_id(10**6)), TFIDF, "vocabulary", "1000000"),
    ("tfidf-id-a-string", "tfidf", edit_json(TFIDF, first_word_id("0")), TFIDF, "vocabulary", "'0'"),
    ("tfidf-id-twice", "tfidf", edit_json(TFIDF, second_id_as_first), TFIDF, "vocabulary", "重复"),
    ("tfidf-idf-short", "tfidf", edit_json(TFIDF, lambda s: s["idf"].pop()), TFIDF, "idf", "应有 \\d+ 个数"),
    ("tfidf-idf-nan", "tfidf", edit_json(TFIDF, set_item("idf", 0, float("nan"))), TFIDF, "idf", "NaN"),
    ("tfidf-idf-a-string", "tfidf", edit_json(TFIDF, set_item("idf", 2, "1.5")), TFIDF, "idf", "第 3 项"),
    ("tfidf-idf-zero", "tfidf", edit_json(TFIDF, set_item("idf", 1, 0)), TFIDF, "idf", "正数"),
    ("tfidf-coef-nan", "tfidf", edit_json(TFIDF, set_item("coef", 0, float("nan"))), TFIDF, "coef", "NaN"),
    ("tfidf-coef-infinite", "tfidf", edit_json(TFIDF, set_item("coef", 4, float("inf"))), TFIDF, "coef", "第 5 项"),
    ("tfidf-coef-huge-integer", "tfidf", edit_json(TFIDF, set_item("coef", 0, 10**400)), TFIDF, "coef", "有限数"),
    ("tfidf-coef-longer", "tfidf", edit_json(TFIDF, lambda s: s["coef"].append(0.5)), TFIDF, "coef", "应有 \\d+ 个数"),
    ("tfidf-intercept-a-list", "tfidf", set_field(TFIDF, "intercept", [0.1]), TFIDF, "intercept", "应是数"),
    ("tfidf-intercept-missing", "tfidf", drop_field(TFIDF, "intercept"), TFIDF, "intercept", "缺少"),
    ("tfidf-intercept-nan", "tfidf", set_field(TFIDF, "intercept", float("nan")), TFIDF, "intercept", "nan"),
    ("tfidf-a-directory", "tfidf", directory_instead(TFIDF), TFIDF, None, "目录"),
]


def message_pattern(file, field, problem) -> str:
    """The message names the file, then (when given) the field, then says the problem after the colon."""
    where = rf"{re.escape(file)}(?: 第 \d+ 行)?" + (rf" 字段 {re.escape(field)}" if field else "")
    return rf"{where}：.*{problem}"


@pytest.fixture
def damaged(lstm_dir, tfidf_dir, keras_files, tmp_path, monkeypatch):
    """damaged(case) -> a copy of the case's model directory with the case's damage done."""
    ctx = types.SimpleNamespace(monkeypatch=monkeypatch, keras_files=keras_files)

    def make(case):
        _, base, damage, *_ = case
        directory = tmp_path / "model"
        shutil.copytree(lstm_dir if base == "lstm" else tfidf_dir, directory)
        damage(directory, ctx)
        return directory

    return make


def test_the_table_is_large_and_each_case_is_named_once():
    names = [case[0] for case in CASES]
    assert len(names) == len(set(names)) and len(names) >= 30


def test_the_undamaged_models_load(lstm_dir, tfidf_dir):
    assert isinstance(saving.load_model(lstm_dir), saving.SentimentModel)
    assert isinstance(saving.load_model(tfidf_dir), saving.BaselineModel)


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_a_damaged_model_directory_is_refused_naming_file_and_field(case, damaged):
    directory = damaged(case)
    _, _, _, file, field, problem = case
    with pytest.raises(saving.ModelLoadError, match=message_pattern(file, field, problem)) as info:
        saving.load_model(directory)
    message = str(info.value)
    assert "\n" not in message and "safe_mode" not in message
    assert info.value.path.endswith(file) and info.value.field == field


CLI_CASES = [
    "config-a-list",
    "max-len-1e9",
    "vocabulary-words-abc",
    "keras-truncated",
    "keras-unsafe-lambda",
    "tfidf-intercept-a-list",
    "tfidf-coef-nan",
]


@pytest.mark.parametrize("name", CLI_CASES)
def test_the_command_line_prints_one_line_and_exits_2(name, damaged, capsys):
    case = next(c for c in CASES if c[0] == name)
    directory = damaged(case)
    code = cli.main(["predict", "--model", str(directory), "很好"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and "safe_mode" not in err
    assert re.search(message_pattern(*case[3:]), err)


# --------------------------------------------------------------------------- random JSON
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=10,
)


def field_replaced(state: dict, nested: str | None = None):
    """The saved state with one of its fields (or of state[nested]'s fields) replaced by a random JSON value."""
    inner = state if nested is None else state[nested]
    return st.tuples(st.sampled_from(sorted(inner)), JSON_VALUES).map(
        lambda kv: {**state, kv[0]: kv[1]} if nested is None else {**state, nested: {**inner, kv[0]: kv[1]}}
    )


@pytest.fixture(scope="module")
def fuzz_dir(lstm_dir, tmp_path_factory):
    directory = tmp_path_factory.mktemp("fuzz") / "model"
    shutil.copytree(lstm_dir, directory)
    return directory


@pytest.fixture(scope="module")
def fuzz_contents(fuzz_dir):
    """For config.json and vocabulary.json: a strategy of damaged file contents (bytes)."""
    config = json.loads((fuzz_dir / CONFIG).read_text(encoding="utf-8"))
    vocab = json.loads((fuzz_dir / VOCAB).read_text(encoding="utf-8"))
    vocab = {**vocab, "words": vocab["words"][:50]}  # small enough to print when an example fails
    encoded = lambda states: states.map(lambda s: json.dumps(s, ensure_ascii=False).encode())  # noqa: E731
    return st.one_of(
        st.tuples(st.just(CONFIG), encoded(JSON_VALUES | field_replaced(config) | field_replaced(config, "encoder"))),
        st.tuples(st.just(VOCAB), encoded(JSON_VALUES | field_replaced(vocab))),
        st.tuples(st.sampled_from([CONFIG, VOCAB]), st.binary(max_size=40)),
    )


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_random_json_in_config_or_vocabulary_raises_only_model_load_errors(data, fuzz_dir, fuzz_contents):
    name, content = data.draw(fuzz_contents)
    original = (fuzz_dir / name).read_bytes()
    (fuzz_dir / name).write_bytes(content)
    try:
        saving.load_model(fuzz_dir)
        event(f"{name}: loaded")
    except saving.ModelLoadError as err:  # it names a file of the directory (a changed kind may point elsewhere)
        assert "\n" not in str(err) and err.path is not None and err.path.startswith(str(fuzz_dir))
        event(f"{name}: refused, {Path(err.path).name} {err.field or ''}".rstrip())
    finally:
        (fuzz_dir / name).write_bytes(original)


def test_a_loaded_model_reads_only_what_the_files_say(lstm_dir):
    """The checked values are the ones used: max_len, stopwords and truncating reach the encoder."""
    model = saving.load_model(lstm_dir)
    config = json.loads((lstm_dir / CONFIG).read_text(encoding="utf-8"))["encoder"]
    assert model.encoder.config() == config
    assert np.all(model.predict_proba(["很好", ""]) >= 0)
