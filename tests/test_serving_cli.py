"""Saved model directories, prediction on awkward inputs, baselines and the command line."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from llmcourse import baselines, config, evaluation, pipeline, registry, saving
from llmcourse.deploy import cli

EDGE_CASES = ["", "😀😀😀", "這個產品很好，物流也快", "zzqxj qwrtp", "我非常喜欢这个产品", "   "]


@pytest.fixture(scope="module")
def prepared(reviews):
    sizes = dataclasses.replace(config.sizes("quick"), max_reviews=600, extra_w2v_sentences=0)
    return pipeline.prepare(reviews, sizes, seed=1, progress=False)


@pytest.fixture(scope="module")
def saved_lstm(prepared, tmp_path_factory):
    trained = pipeline.train_neural(prepared, "lstm", epochs=1, verbose=0)
    directory = tmp_path_factory.mktemp("model")
    trained.model.save(directory)
    return trained, directory


def test_saved_directory_is_self_contained(saved_lstm):
    _, directory = saved_lstm
    assert sorted(p.name for p in directory.iterdir()) == ["config.json", "model.keras", "vocabulary.json"]
    cfg = json.loads((directory / "config.json").read_text("utf-8"))
    assert cfg["format"] == saving.FORMAT and cfg["kind"] == "lstm"
    assert set(cfg["versions"]) >= {"python", "tensorflow", "jieba", "gensim"}
    assert {"validation", "test"} <= set(cfg["metrics"]) and "accuracy" in cfg["metrics"]["test"]
    assert cfg["model"]["hidden_units"] > 0 and cfg["encoder"]["max_len"] > 0


def test_save_then_load_gives_identical_predictions(saved_lstm, prepared):
    trained, directory = saved_lstm
    loaded = saving.load_model(directory)
    texts = prepared.splits.test.texts[:50] + EDGE_CASES
    np.testing.assert_allclose(loaded.predict_proba(texts), trained.model.predict_proba(texts), rtol=0, atol=1e-6)


def test_edge_case_strings_get_probabilities(saved_lstm):
    results = saving.load_model(saved_lstm[1]).predict(EDGE_CASES)
    assert [r["text"] for r in results] == EDGE_CASES
    for r in results:
        assert 0.0 <= r["probability"] <= 1.0 and r["label"] in (0, 1) and r["label_name"] in ("正面", "负面")
    assert saving.load_model(saved_lstm[1]).predict([]) == []


def test_predict_rejects_a_bare_string(saved_lstm):
    with pytest.raises(TypeError, match="文本列表"):
        saved_lstm[0].model.predict("很好")


def test_loading_refuses_missing_or_foreign_directories(tmp_path, saved_lstm):
    with pytest.raises(saving.ModelLoadError, match="找不到模型目录"):
        saving.load_model(tmp_path / "missing")
    with pytest.raises(saving.ModelLoadError, match="config.json"):
        saving.load_model(tmp_path)
    (tmp_path / "config.json").write_text('{"format": "llmcourse.model/1", "kind": "lstm"}', "utf-8")
    with pytest.raises(saving.ModelLoadError, match="model.keras"):
        saving.load_model(tmp_path)


@pytest.mark.parametrize("kind", registry.BASELINE_KINDS)
def test_baselines_learn_and_round_trip_through_json(kind, reviews, tmp_path):
    part = reviews.sample(1500, seed=2)
    train_t, train_y = part.texts[:1200], part.labels[:1200]
    test_t, test_y = part.texts[1200:], part.labels[1200:]
    model = saving.BaselineModel(baselines.TfidfClassifier(kind).fit(train_t, train_y), {"kind": kind})
    assert model.evaluate(test_t, test_y).accuracy > 0.7
    model.save(tmp_path)
    loaded = saving.load_model(tmp_path)
    assert isinstance(loaded, saving.BaselineModel)
    np.testing.assert_allclose(loaded.predict_proba(test_t + EDGE_CASES), model.predict_proba(test_t + EDGE_CASES))


def test_metrics_on_a_known_example():
    m = evaluation.compute_metrics([1, 1, 0, 0, 1], [0.9, 0.4, 0.2, 0.7, 0.8])
    assert m.accuracy == pytest.approx(0.6) and m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(2 / 3) and m.confusion == [[1, 1], [1, 2]]
    assert m.roc_auc == pytest.approx(5 / 6)  # 5 of the 6 (pos, neg) pairs are ranked right
    table = evaluation.misclassified(["a", "b", "c", "d", "e"], [1, 1, 0, 0, 1], [0.9, 0.4, 0.2, 0.7, 0.8], k=5)
    assert table["文本"].tolist() == ["d", "b"]  # most confident mistake first


# --------------------------------------------------------------------------- command line
def write_csv(path, rows, header="text,label"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_predict_and_evaluate(saved_lstm, capsys, tmp_path):
    directory = str(saved_lstm[1])
    code, out, _ = run_cli(capsys, "predict", "--model", directory, "很好", "")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [r["text"] for r in lines] == ["很好", ""]
    f = write_csv(tmp_path / "eval.csv", ['"房间很大，很干净",1', "服务太差了,0", "还会再来,pos", "不推荐,neg"])
    code, out, _ = run_cli(capsys, "evaluate", "--model", directory, "--data", str(f))
    result = json.loads(out)
    assert code == 0 and result["n"] == 4
    assert {"accuracy", "f1", "precision", "recall", "roc_auc"} <= set(result)


def test_cli_predict_reads_stdin(saved_lstm, monkeypatch, capsys):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("好评\n\n差评\n"))
    code, out, _ = run_cli(capsys, "predict", "--model", str(saved_lstm[1]))
    assert code == 0 and [json.loads(x)["text"] for x in out.splitlines()] == ["好评", "差评"]


@pytest.mark.parametrize(
    "make_args, fragment",
    [
        (lambda d, m: ["predict", "--model", str(d / "no-such-model"), "好"], "找不到模型目录"),
        (lambda d, m: ["evaluate", "--model", m, "--data", str(d / "missing.csv")], "missing.csv"),
        (
            lambda d, m: ["evaluate", "--model", m, "--data", str(write_csv(d / "bad.csv", ["好,1", "差,maybe"]))],
            "第 3 行",
        ),
        (
            lambda d, m: [
                "evaluate",
                "--model",
                m,
                "--data",
                str(write_csv(d / "cols.csv", ["好,1"])),
                "--text-col",
                "review",
            ],
            "'review'",
        ),
        (
            lambda d, m: [
                "train",
                "--out",
                str(d / "o"),
                "--data",
                str(write_csv(d / "t.csv", ["好,1"])),
                "--label-col",
                "y",
            ],
            "'y'",
        ),
    ],
)
def test_cli_errors_exit_2_with_one_line(make_args, fragment, saved_lstm, tmp_path, capsys):
    code, out, err = run_cli(capsys, *make_args(tmp_path, str(saved_lstm[1])))
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and fragment in err and "Traceback" not in err


def test_cli_trains_a_baseline_on_a_user_file(reviews, tmp_path, capsys):
    part = reviews.sample(300, seed=4)
    rows = ['"' + t.replace('"', '""') + '",' + ("正面" if y else "负面") for t, y in zip(part.texts, part.labels)]
    f = write_csv(tmp_path / "mine.csv", rows, header="评论,情感")
    code, out, err = run_cli(
        capsys,
        "train",
        "--out",
        str(tmp_path / "m"),
        "--model",
        "tfidf-char",
        "--data",
        str(f),
        "--text-col",
        "评论",
        "--label-col",
        "情感",
    )
    assert code == 0 and "测试集" in out and (tmp_path / "m" / "tfidf.json").is_file()


def test_console_entry_point_runs_as_a_module(tmp_path):
    env = dict(os.environ, LLMCOURSE_PROFILE="quick")
    out = subprocess.run(
        [sys.executable, "-m", "llmcourse", "predict", "--model", str(tmp_path / "none"), "好"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert out.returncode == 2 and out.stderr.startswith("llmcourse: 错误：") and "Traceback" not in out.stderr


def test_baseline_chooses_C_on_validation_only(reviews):
    part = reviews.sample(1500, seed=5)
    clf = baselines.TfidfClassifier("tfidf-char").fit(
        part.texts[:1000], part.labels[:1000], part.texts[1000:1250], part.labels[1000:1250]
    )
    assert set(clf.validation_scores) == set(baselines.C_GRID)
    assert clf.validation_scores[clf.C] == max(clf.validation_scores.values())
    assert clf.pipeline.named_steps["logreg"].C == clf.C


def test_cli_trains_the_pretrained_bilstm_by_default(reviews, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LLMCOURSE_PROFILE", "quick")
    part = reviews.sample(300, seed=6)
    rows = ['"' + t.replace('"', '""') + '",' + str(y) for t, y in zip(part.texts, part.labels)]
    f = write_csv(tmp_path / "mine.csv", rows)
    code, out, err = run_cli(capsys, "train", "--out", str(tmp_path / "pre"), "--data", str(f), "--verbose", "0")
    saved = json.loads((tmp_path / "pre" / "config.json").read_text(encoding="utf-8"))
    assert code == 0 and "语言模型预训练" in err and saved["kind"] == "bilstm"
    assert saved["training"]["language_model_pretraining"]["epochs"] == config.sizes("quick").pretrain_epochs
    assert saved["model"]["word_dropout"] == registry.RECIPES["default"].word_dropout
    assert saved["model"]["ensemble"] == 1 and saved["training"]["ensemble_members"] is None  # one fine-tune
    assert saved["training"]["learning_rate"] == registry.RECIPES["default"].learning_rate
    code, out, err = run_cli(  # --ensemble N: N fine-tunes of the pretrained encoder, averaged, and the CLI says so
        capsys, "train", "--out", str(tmp_path / "avg"), "--data", str(f), "--verbose", "0", "--ensemble", "2"
    )
    saved = json.loads((tmp_path / "avg" / "config.json").read_text(encoding="utf-8"))
    assert code == 0 and "--ensemble 1" in err and len(saved["training"]["ensemble_members"]) == 2
    code, out, err = run_cli(
        capsys, "train", "--out", str(tmp_path / "plain"), "--data", str(f), "--verbose", "0", "--no-pretrain"
    )
    saved = json.loads((tmp_path / "plain" / "config.json").read_text(encoding="utf-8"))
    assert code == 0 and saved["training"]["language_model_pretraining"] is None
    assert saved["model"]["word_dropout"] == 0.0 and saved["model"]["ensemble"] == 1
    with pytest.raises(SystemExit) as exit_info:  # argparse: usage line and status 2
        cli.main(["train", "--out", str(tmp_path / "x"), "--ensemble", "0"])
    assert exit_info.value.code == 2 and "--ensemble" in capsys.readouterr().err
    code, out, err = run_cli(  # chapter 5's two variants of the default recipe
        capsys, "train", "--out", str(tmp_path / "var"), "--data", str(f), "--verbose", "0", "--length-balance",
        "--char-fallback",
    )  # fmt: skip
    saved = json.loads((tmp_path / "var" / "config.json").read_text(encoding="utf-8"))
    vocabulary = json.loads((tmp_path / "var" / saving.VOCAB_FILE).read_text(encoding="utf-8"))
    assert code == 0 and "--char-fallback" in err
    assert saved["training"]["length_balance"] is True and vocabulary["char_fallback"] is True
    code, out, err = run_cli(capsys, "predict", "--model", str(tmp_path / "var"), "一台从没见过的平板电脑")
    assert code == 0 and len(out.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exit_info:  # the TF-IDF baselines have no such option
        cli.main(["train", "--out", str(tmp_path / "y"), "--model", "tfidf-char", "--length-balance"])
    assert exit_info.value.code == 2 and "只适用于神经网络模型" in capsys.readouterr().err
