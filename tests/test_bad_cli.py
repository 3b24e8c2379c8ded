"""The command line against bad arguments, bad text and a failing environment: one line, the right exit status.

Table-driven: each case is (arguments, stdin bytes, expected exit status, a pattern the
last line of stderr must match). Every refusal happens before any training starts
(`pipeline.prepare` is made to fail if it is reached), and no case prints a traceback.
"""

import io
import json
import os
import re
import socket
import sys

import pytest

from llmcourse import pipeline, saving
from llmcourse.deploy import cli

GBK_GOOD = "很好\r\n\r\n一般般\n".encode("gbk")


def write(path, content: bytes | str):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def rows(pairs):
    return "text,label\n" + "".join(f"{t},{y}\n" for t, y in pairs)


@pytest.fixture(scope="module")
def model_dir(saved_quick_model):
    return str(saved_quick_model("lstm", 3)[0])


@pytest.fixture
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("training started although the input should have been refused")

    monkeypatch.setattr(pipeline, "prepare", refuse)


def run(capsys, monkeypatch, argv, stdin: bytes = b""):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    try:
        code = cli.main(argv)
    except SystemExit as exit_:  # argparse refuses a bad option itself
        code = exit_.code
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


# (id, argv built from (tmp_path, model_dir), stdin, exit status, pattern of the last stderr line)
CASES = [
    ("model-missing", lambda d, m: ["predict", "--model", str(d / "none"), "好"], b"", 2, "找不到模型目录"),
    ("model-is-a-file", lambda d, m: ["predict", "--model", write(d / "f.txt", "x"), "好"], b"", 2, "f.txt"),
    (
        "argv-invalid-utf8",
        lambda d, m: ["predict", "--model", m, os.fsdecode(b"\xff\xe5\xa5\xbd")],
        b"",
        2,
        "命令行的第 1 个文本.*无法解码",
    ),
    (
        "argv-second-invalid",
        lambda d, m: ["predict", "--model", m, "好", os.fsdecode(b"\x80")],
        b"",
        2,
        "命令行的第 2 个文本",
    ),
    ("stdin-invalid", lambda d, m: ["predict", "--model", m], "好".encode() + b"\xff\xfe\n", 2, "标准输入.*无法解码"),
    ("stdin-garbage", lambda d, m: ["predict", "--model", m], b"\xff\xff\xff", 2, "标准输入"),
    ("epochs-zero", lambda d, m: ["train", "--out", str(d / "o"), "--epochs", "0"], b"", 2, None),
    ("ensemble-zero", lambda d, m: ["train", "--out", str(d / "o"), "--ensemble", "0"], b"", 2, None),
    ("pretrain-negative", lambda d, m: ["train", "--out", str(d / "o"), "--pretrain-epochs", "-1"], b"", 2, None),
    ("unknown-kind", lambda d, m: ["train", "--out", str(d / "o"), "--model", "cnn"], b"", 2, None),
    ("epochs-not-a-number", lambda d, m: ["train", "--out", str(d / "o"), "--epochs", "五"], b"", 2, None),
    ("no-command", lambda d, m: [], b"", 2, None),
    (
        "out-is-a-file",
        lambda d, m: ["train", "--out", write(d / "taken.txt", "x")],
        b"",
        2,
        "taken.txt：已存在，而且不是目录",
    ),
    (
        "out-nonempty-dir",
        lambda d, m: ["train", "--out", os.path.dirname(write(d / "mine" / "notes.txt", "x"))],
        b"",
        2,
        "mine：不是空目录",
    ),
    ("out-unwritable", lambda d, m: ["train", "--out", "/proc/llmcourse-model"], b"", 2, "无法在这里写入模型"),
    (
        "data-missing",
        lambda d, m: ["train", "--out", str(d / "o"), "--data", str(d / "missing.csv")],
        b"",
        2,
        "missing.csv",
    ),
    ("data-is-a-dir", lambda d, m: ["train", "--out", str(d / "o"), "--data", str(d)], b"", 2, "目录"),
    (
        "data-one-class",
        lambda d, m: [
            "train",
            "--out",
            str(d / "o"),
            "--data",
            write(d / "one.csv", rows([(f"好评{i}", 1) for i in range(40)])),
        ],
        b"",
        2,
        "one.csv",
    ),
    (
        "data-all-conflicting",
        lambda d, m: [
            "train",
            "--out",
            str(d / "o"),
            "--data",
            write(d / "c.csv", rows([(f"评论{i}", y) for i in range(20) for y in (0, 1)])),
        ],
        b"",
        2,
        "c.csv",
    ),
    (
        "data-too-few-after-dedup",
        lambda d, m: [
            "train",
            "--out",
            str(d / "o"),
            "--data",
            write(d / "few.csv", rows([(f"评论{i % 9}", i % 9 % 2) for i in range(30)])),
        ],
        b"",
        2,
        "去重后只剩 9 条",
    ),
    (
        "data-unquoted-comma",
        lambda d, m: ["train", "--out", str(d / "o"), "--data", write(d / "lt.csv", "label,text\n1,房间大,干净\n")],
        b"",
        2,
        "第 2 行",
    ),
    (
        "evaluate-missing-data",
        lambda d, m: ["evaluate", "--model", m, "--data", str(d / "none.csv")],
        b"",
        2,
        "none.csv",
    ),
    (
        "evaluate-wrong-column",
        lambda d, m: [
            "evaluate",
            "--model",
            m,
            "--data",
            write(d / "e.csv", rows([("好", 1), ("差", 0)])),
            "--text-col",
            "评论",
        ],
        b"",
        2,
        "评论",
    ),
    (
        "evaluate-bad-label",
        lambda d, m: ["evaluate", "--model", m, "--data", write(d / "e.csv", rows([("好", "也许")]))],
        b"",
        2,
        "第 2 行",
    ),
    ("serve-bad-port", lambda d, m: ["serve", "--model", m, "--port", "70000"], b"", 2, "端口号 70000 无效"),
    ("serve-zero-texts", lambda d, m: ["serve", "--model", m, "--max-texts", "0"], b"", 2, "--max-texts"),
    ("serve-zero-threads", lambda d, m: ["serve", "--model", m, "--threads", "0"], b"", 2, "--threads"),
    (
        "serve-bad-host",
        lambda d, m: ["serve", "--model", m, "--host", "no-such-host.invalid", "--port", "0"],
        b"",
        2,
        "无法在 no-such-host.invalid",
    ),
]


@pytest.mark.parametrize("name, make_argv, stdin, status, pattern", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_the_right_status(
    name, make_argv, stdin, status, pattern, tmp_path, model_dir, capsys, monkeypatch, no_training
):
    code, _, err = run(capsys, monkeypatch, make_argv(tmp_path, model_dir), stdin)
    assert code == status
    last = err.strip().splitlines()[-1]
    if pattern is not None:  # our own refusals: "llmcourse: 错误：..." (argparse writes its own usage line)
        assert last.startswith("llmcourse: 错误：")
        assert re.search(pattern, last), last


def test_a_busy_port_is_one_line(model_dir, capsys, monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run(capsys, monkeypatch, ["serve", "--model", model_dir, "--port", str(port)])
    assert code == 2 and f"无法在 127.0.0.1:{port} 上监听" in err


def test_stdin_is_decoded_like_a_file(model_dir, capsys, monkeypatch):
    """GBK bytes are read as GBK, \\r is dropped, blank lines are skipped and counted."""
    code, out, err = run(capsys, monkeypatch, ["predict", "--model", model_dir], GBK_GOOD)
    assert code == 0 and [json.loads(line)["text"] for line in out.splitlines()] == ["很好", "一般般"]
    assert "跳过 1 个空行" in err


def test_empty_stdin_predicts_nothing(model_dir, capsys, monkeypatch):
    code, out, _ = run(capsys, monkeypatch, ["predict", "--model", model_dir], b"")
    assert code == 0 and out == ""


def test_a_one_class_file_gives_strict_json_with_null_and_a_reason(model_dir, tmp_path, capsys, monkeypatch):
    data = write(tmp_path / "pos.csv", rows([("房间很好", 1), ("服务热情", 1), ("还会再来", 1)]))
    code, out, _ = run(capsys, monkeypatch, ["evaluate", "--model", model_dir, "--data", data])
    result = json.loads(out, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    assert code == 0 and result["roc_auc"] is None and "一个类别" in result["undefined"]["roc_auc"]


def test_an_unexpected_exception_is_one_line_that_says_bug(model_dir, capsys, monkeypatch):
    def broken(directory):
        raise RuntimeError("出乎意料")

    monkeypatch.setattr(saving, "load_model", broken)
    code, _, err = run(capsys, monkeypatch, ["predict", "--model", model_dir, "好"])
    assert code == cli.EXIT_BUG and len(err.strip().splitlines()) == 1
    assert "内部错误" in err and "RuntimeError: 出乎意料" in err and "--debug" in err


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_debug_shows_the_traceback(how, model_dir, capsys, monkeypatch):
    def broken(directory):
        raise RuntimeError("出乎意料")

    monkeypatch.setattr(saving, "load_model", broken)
    argv = ["predict", "--model", model_dir, "好"]
    if how == "flag":
        argv.insert(0, "--debug")
    else:
        monkeypatch.setenv(cli.DEBUG_ENV, "1")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert cli.main(argv) == cli.EXIT_BUG
    assert "Traceback" in capsys.readouterr().err


def test_a_full_disk_is_one_line_naming_the_file(model_dir, capsys, monkeypatch):
    def full(directory):
        raise OSError(28, "No space left on device", str(directory))

    monkeypatch.setattr(saving, "load_model", full)
    code, _, err = run(capsys, monkeypatch, ["predict", "--model", model_dir, "好"])
    assert code == 2 and f"{model_dir}：No space left on device" in err


def test_interrupt_is_said(model_dir, capsys, monkeypatch):
    def interrupted(directory):
        raise KeyboardInterrupt

    monkeypatch.setattr(saving, "load_model", interrupted)
    code, _, err = run(capsys, monkeypatch, ["predict", "--model", model_dir, "好"])
    assert code == 130 and "已中断" in err


@pytest.mark.parametrize(
    "variable, value, pattern",
    [
        ("LLMCOURSE_SEED", "abc", "LLMCOURSE_SEED='abc' 无效"),
        ("LLMCOURSE_SEED", "-1", "LLMCOURSE_SEED='-1' 无效"),
        ("LLMCOURSE_PROFILE", "huge", "LLMCOURSE_PROFILE='huge' 无效"),
    ],
)
def test_a_bad_environment_variable_is_one_line_before_any_work(
    variable, value, pattern, tmp_path, capsys, monkeypatch, no_training
):
    monkeypatch.setenv(variable, value)
    code, _, err = run(capsys, monkeypatch, ["train", "--out", str(tmp_path / "o")])
    assert code == 2
    assert re.search(pattern, err.strip().splitlines()[-1])
