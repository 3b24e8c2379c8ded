"""Command line: `llmcourse train | evaluate | predict | serve | generate` (also `python -m llmcourse`).

A thin shell over the functions the notebooks call, with one error boundary
(`main`): an expected failure (`errors.CourseError`: a bad file, a damaged model
directory, a wrong argument, an output path that cannot be written, undecodable
text) prints one Chinese line that names the file and, where it applies, the line
or field, and exits with status 2. Anything else is a bug in the course: one line
that says so and exit status 1; `--debug` (or LLMCOURSE_DEBUG=1) shows the traceback.
Text from the arguments and from stdin is decoded by `data.decode_bytes`, the
decoder the file readers use.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported: no C++ log lines

from llmcourse import config, data, evaluation, registry, saving  # noqa: E402  (none imports TensorFlow)
from llmcourse.errors import CourseError, UsageError  # noqa: E402

EXIT_USAGE = 2  # an expected failure: bad input, arguments or environment
EXIT_BUG = 1  # an unexpected exception: a bug in the course
DEBUG_ENV = "LLMCOURSE_DEBUG"


def _err(message: str) -> None:
    print(f"llmcourse: 错误：{message}", file=sys.stderr)


def _check_out_dir(out: str) -> Path:
    """Refuse an output path that cannot hold a model directory, before any training starts."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise UsageError("已存在，而且不是目录：--out 应指向一个新目录或已有的模型目录", path)
    if path.is_dir() and any(path.iterdir()) and not (path / saving.CONFIG_FILE).is_file():
        raise UsageError("不是空目录，也不是 llmcourse 模型目录：为了不覆盖其中的文件，请换一个 --out", path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        raise UsageError(f"无法在这里写入模型（{err.strerror or err}）", path) from err
    return path


def _argument_texts(texts: Sequence[str]) -> list[str]:
    """Texts given as arguments, decoded from the bytes the shell passed (invalid UTF-8 is refused)."""
    return [data.decode_bytes(os.fsencode(t), f"命令行的第 {i} 个文本")[0] for i, t in enumerate(texts, start=1)]


def _stdin_texts() -> list[str]:
    """One text per line of stdin, decoded like a file; blank lines are skipped and counted."""
    stream = getattr(sys.stdin, "buffer", None)  # a text-only stdin (a notebook, a test) has no bytes below it
    raw = stream.read() if stream is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
    content, _ = data.decode_bytes(raw, "标准输入")
    lines = [line.removesuffix("\r") for line in content.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    texts = [line for line in lines if line.strip()]
    if len(texts) < len(lines):
        print(f"标准输入：跳过 {len(lines) - len(texts)} 个空行", file=sys.stderr)
    return texts


def _load_data(args):
    if args.data is None:
        return data.load_reviews()
    return data.read_labeled_file(args.data, text_col=args.text_col, label_col=args.label_col)


def cmd_train(args) -> int:
    """`llmcourse train`: prepare the data, train a kind by the default (or plain) recipe, save it.

    Taught in chapter 5 and on the deployment page.
    """
    from llmcourse import pipeline  # deferred: it imports TensorFlow, which the other commands may not need

    out = _check_out_dir(args.out)
    dataset = data.check_trainable(_load_data(args), source=args.data or "随包发布的评论语料")
    print(dataset.report, file=sys.stderr)  # what was read, what de-duplication removed, what is left
    sizes = config.sizes()
    seed = config.resolve_seed(args.seed)
    recipe = registry.recipe(registry.DEFAULT_RECIPE if args.pretrain else "plain")
    print(
        f"运行规模：{sizes.profile}；模型：{args.model}；训练方案：{recipe.name}（{recipe.description}）；"
        f"随机种子：{seed}",
        file=sys.stderr,
    )
    prepared = pipeline.prepare(dataset, sizes, seed=seed, progress=True)
    if args.char_fallback:
        prepared = pipeline.with_char_fallback(prepared)
        print("没见过的词拆成单字读入（--char-fallback）", file=sys.stderr)
    print(prepared.splits, file=sys.stderr)
    overrides = {
        name: value
        for name, value in (
            ("pretrain_epochs", args.pretrain_epochs),
            ("epochs", args.epochs),
            ("ensemble", args.ensemble),
            ("length_balance", args.length_balance or None),
        )
        if value is not None
    }
    if registry.KINDS[args.model].family == registry.BASELINE:
        trained = pipeline.train_baseline(prepared, args.model)
    else:
        settings = pipeline.recipe_settings(args.model, recipe.name, sizes, **overrides)
        if settings.get("pretrain_epochs"):
            print(
                f"先把编码器当作语言模型预训练 {settings['pretrain_epochs']} 轮（--no-pretrain 可跳过）",
                file=sys.stderr,
            )
        if settings.get("ensemble", 1) > 1:
            print(
                f"微调 {settings['ensemble']} 次（不同的随机种子），取它们 logit 的平均作为预测（--ensemble 1 只训练一个）",
                file=sys.stderr,
            )
        trained = pipeline.train_neural(prepared, args.model, verbose=args.verbose, **settings)
    directory = trained.model.save(out)
    print(f"验证集：{trained.val}")
    print(f"测试集：{trained.test}")
    print(f"训练用时 {trained.train_seconds:.1f} 秒；模型已保存到 {directory}")
    return 0


def cmd_evaluate(args) -> int:
    """`llmcourse evaluate`: metrics of a saved model on a labelled file, as one JSON object.

    Taught in chapter 5 and on the deployment page.
    """
    # the file first: a wrong column or a bad line is reported before TensorFlow is even imported
    labelled = data.read_labeled_file(args.data, text_col=args.text_col, label_col=args.label_col)
    model = saving.load_model(args.model)
    metrics = evaluation.json_metrics(model.evaluate(labelled.texts, labelled.labels))
    print(json.dumps(metrics, ensure_ascii=False, allow_nan=False))
    return 0


def cmd_predict(args) -> int:
    """`llmcourse predict`: one JSON line per text (from the arguments, or stdin line by line).

    Taught in chapter 5 and on the deployment page.
    """
    texts = _argument_texts(args.texts) if args.texts else _stdin_texts()
    model = saving.load_model(args.model)
    for result in model.predict(texts):
        print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_serve(args) -> int:
    """`llmcourse serve`: the HTTP service on a socket bound here, so a busy port is one clear line.

    Taught on the deployment page (book/deployment.md).
    """
    for name in ("max_texts", "max_chars", "threads"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} 必须是正整数")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"端口号 {args.port} 无效：应在 0 到 65535 之间")
    model = saving.load_model(args.model)
    # deferred: FastAPI and uvicorn are the optional "serve" dependencies, needed by this command only
    import uvicorn

    from llmcourse.deploy.service import create_app

    app = create_app(model, max_texts=args.max_texts, max_chars=args.max_chars, threads=args.threads)
    # Bind here, so a busy port or a bad address is one line and exit status 2, not a uvicorn traceback.
    sock = None
    try:
        family, _, _, _, address = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as err:
        if sock is not None:
            sock.close()
        raise UsageError(f"无法在 {args.host}:{args.port} 上监听：{err.strerror or err}") from err
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(
        f"llmcourse：模型 {model.kind} 已加载；服务地址 http://{shown}:{port}"
        f"（POST /predict，GET /health，接口说明 GET /openapi.json）；按 Ctrl+C 结束",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(app, log_level=args.log_level, access_log=args.access_log)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _add_train(sub) -> None:
    train = sub.add_parser("train", help="训练一个模型并保存为目录")
    train.add_argument("--out", required=True, help="保存模型的目录（新目录，或已有的模型目录）")
    train.add_argument(
        "--model",
        choices=tuple(registry.KINDS),
        default=registry.DEFAULT_KIND,
        help=f"模型类型（默认 {registry.DEFAULT_KIND}）",
    )
    train.add_argument("--epochs", type=int, default=None, help="最多训练轮数（默认取运行规模的设置）")
    train.add_argument("--seed", type=int, default=None, help="随机种子（默认取环境变量 LLMCOURSE_SEED，没有时为 42）")
    train.add_argument(
        "--pretrain",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="循环网络先做语言模型预训练，再用词级 dropout 和 AdamW 微调（默认开启）",
    )
    train.add_argument("--pretrain-epochs", type=int, default=None, help="语言模型预训练的轮数（默认取运行规模的设置）")
    train.add_argument(
        "--ensemble",
        type=int,
        default=None,
        help="训练几个模型并平均它们的 logit（默认 1；预训练时它们从同一个预训练编码器出发）",
    )
    train.add_argument(
        "--length-balance",
        action="store_true",
        help="按长度平衡样本权重：每个长度档里好评与差评的总权重相等，长度本身不再能预测标签（神经网络模型；见第 5 章）",
    )
    train.add_argument(
        "--char-fallback",
        action="store_true",
        help="训练时没见过的词拆成单字读入，词表也收下单字（神经网络模型；见第 5 章）",
    )
    train.add_argument("--data", default=None, help="带标签的 CSV/TSV/JSONL 文件（默认用随包发布的评论语料）")
    train.add_argument("--text-col", default="text", help="文本列名")
    train.add_argument("--label-col", default="label", help="标签列名")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="Keras 的进度显示方式")
    train.set_defaults(func=cmd_train)


def _add_evaluate_and_predict(sub) -> None:
    evaluate = sub.add_parser("evaluate", help="在带标签的文件上评估已保存的模型，输出一个 JSON 对象")
    evaluate.add_argument("--model", required=True, help="模型目录")
    evaluate.add_argument("--data", required=True, help="带标签的 CSV/TSV/JSONL 文件")
    evaluate.add_argument("--text-col", default="text")
    evaluate.add_argument("--label-col", default="label")
    evaluate.set_defaults(func=cmd_evaluate)

    predict = sub.add_parser("predict", help="对文本做预测，每条输出一行 JSON")
    predict.add_argument("--model", required=True, help="模型目录")
    predict.add_argument("texts", nargs="*", help="要预测的文本；省略时从标准输入每行读一条")
    predict.set_defaults(func=cmd_predict)


MAX_GENERATE_TOKENS = 10000


def cmd_generate(args) -> int:
    """`llmcourse generate`: continue a beginning with a saved language model, one line on stdout.

    The settings are checked before the model is loaded; a beginning longer than the
    model's context is refused. Taught in chapter 8.
    """
    prompt = _argument_texts([args.prompt])[0]
    if not math.isfinite(args.temperature) or args.temperature < 0:
        raise UsageError(f"--temperature 必须是非负的有限数（0 表示每次取最可能的词元），实际是 {args.temperature}")
    if args.top_k is not None and args.top_k < 1:
        raise UsageError(f"--top-k 必须是正整数，实际是 {args.top_k}")
    if not 1 <= args.max_tokens <= MAX_GENERATE_TOKENS:
        raise UsageError(f"--max-tokens 应在 1 到 {MAX_GENERATE_TOKENS} 之间，实际是 {args.max_tokens}")
    from llmcourse import gpt  # deferred: it imports TensorFlow, which the other commands may not need

    model = gpt.load_lm(args.model)
    read = len(model.tokenizer.prompt_ids(prompt)) - 1
    if read >= model.config.context - 1:
        raise UsageError(f"开头有 {read} 个词元，这个模型最多读 {model.config.context - 2} 个再续写")
    print(model.generate(prompt, args.max_tokens, args.temperature, args.top_k, config.resolve_seed(args.seed)))
    return 0


def _add_generate(sub) -> None:
    generate = sub.add_parser("generate", help="用保存的语言模型（第 8 章的小 GPT）续写一段开头")
    generate.add_argument("--model", required=True, help="语言模型目录")
    generate.add_argument("--temperature", type=float, default=0.8, help="温度（默认 0.8；0 表示每次取最可能的词元）")
    generate.add_argument("--top-k", type=int, default=None, help="只在概率最高的 k 个词元中抽样（默认不限）")
    generate.add_argument("--max-tokens", type=int, default=50, help="最多续写的词元数（默认 50）")
    generate.add_argument(
        "--seed", type=int, default=None, help="随机种子（默认取环境变量 LLMCOURSE_SEED，没有时为 42）"
    )
    generate.add_argument("prompt", help="开头的文字（可以是空字符串）")
    generate.set_defaults(func=cmd_generate)


def _add_serve(sub) -> None:
    serve = sub.add_parser("serve", help="启动 HTTP 预测服务（POST /predict，GET /health）")
    serve.add_argument("--model", required=True, help="模型目录")
    serve.add_argument("--host", default="127.0.0.1", help="监听地址（默认 127.0.0.1，只接受本机连接）")
    serve.add_argument("--port", type=int, default=8000, help="端口（默认 8000；0 表示任选一个空闲端口）")
    serve.add_argument("--max-texts", type=int, default=64, help="每个请求最多的文本条数（默认 64）")
    serve.add_argument("--max-chars", type=int, default=2000, help="每条文本最多的字符数（默认 2000）")
    serve.add_argument("--threads", type=int, default=4, help="做预测的线程数（默认 4）")
    serve.add_argument(
        "--log-level",
        default="info",
        choices=("critical", "error", "warning", "info", "debug"),
        help="uvicorn 的日志级别",
    )
    serve.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="是否逐条记录请求（--no-access-log 关闭，压测时用）",
    )
    serve.set_defaults(func=cmd_serve)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand; model kinds come from `registry.KINDS`.

    Taught in chapter 5 and on the deployment page.
    """
    parser = argparse.ArgumentParser(
        prog="llmcourse", description="中文评论情感分析：训练、评估、预测、提供 HTTP 服务；用小 GPT 续写文字"
    )
    parser.add_argument(
        "--debug", action="store_true", help=f"出现意外错误时显示完整的调用栈（也可以设置环境变量 {DEBUG_ENV}=1）"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_evaluate_and_predict(sub)
    _add_serve(sub)
    _add_generate(sub)
    return parser


def _check_arguments(parser: argparse.ArgumentParser, args) -> None:
    if getattr(args, "epochs", None) is not None and args.epochs < 1:
        parser.error("--epochs 必须是正整数")
    if getattr(args, "pretrain_epochs", None) is not None and args.pretrain_epochs < 0:
        parser.error("--pretrain-epochs 不能为负数")
    if getattr(args, "ensemble", None) is not None and args.ensemble < 1:
        parser.error("--ensemble 必须是正整数")
    if getattr(args, "model", None) in registry.BASELINE_KINDS:
        used = [
            flag
            for flag, on in (("--length-balance", args.length_balance), ("--char-fallback", args.char_fallback))
            if on
        ]
        if used:
            parser.error(f"{' 和 '.join(used)} 只适用于神经网络模型，{args.model} 是 TF-IDF 基线")
    try:  # the environment variables every command reads: a bad value is a usage error, said before any work
        config.active_profile()
        config.resolve_seed(getattr(args, "seed", None))
    except ValueError as err:
        parser.error(str(err))


def _os_error_line(err: OSError) -> str:
    """An operating-system failure (disk full, permission) as one line naming the file."""
    where = f"{err.filename}：" if err.filename else ""
    return f"{where}{err.strerror or err}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; an expected failure is one Chinese line on stderr and exit status 2.

    An unexpected exception is a bug: one line that says so (exit status 1), or the
    whole traceback with --debug or LLMCOURSE_DEBUG=1. Taught in chapter 5 and on the deployment page.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_arguments(parser, args)
    debug = args.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        return args.func(args)
    except CourseError as err:
        _err(str(err))
        return EXIT_USAGE
    except OSError as err:  # the environment (a full disk, a permission), not the input
        _err(_os_error_line(err))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("已中断")
        return 130
    except Exception as err:  # noqa: BLE001  the boundary: a bug, said in one line unless debugging
        if debug:
            traceback.print_exc()
        else:
            _err(
                f"内部错误（这是 llmcourse 的缺陷，请报告）：{type(err).__name__}: {err}；"
                f"加 --debug 或设置 {DEBUG_ENV}=1 可以看到完整的调用栈"
            )
        return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
