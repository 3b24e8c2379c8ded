"""Command line: `llmcourse train | evaluate | predict | serve` (also `python -m llmcourse`).

A thin shell over the functions the notebooks call. Expected failures (a bad
file, a missing model directory, a wrong column name) print one line that
names the file and, where it applies, the line, and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from typing import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported: no C++ log lines

from llmcourse import config, data, registry, saving  # noqa: E402  (none of them imports TensorFlow)

EXIT_USAGE = 2


class CliError(Exception):
    """An expected, user-facing failure: one line, exit status 2.

    Taught in chapter 5 and on the deployment page.
    """


def _err(message: str) -> None:
    print(f"llmcourse: 错误：{message}", file=sys.stderr)


def _load_data(args):
    if args.data is None:
        return data.load_reviews()
    return data.read_labeled_file(args.data, text_col=args.text_col, label_col=args.label_col)


def cmd_train(args) -> int:
    """`llmcourse train`: prepare the data, train a kind by the default (or plain) recipe, save it.

    Taught in chapter 5 and on the deployment page.
    """
    from llmcourse import pipeline  # deferred: it imports TensorFlow, which the other commands may not need

    dataset = _load_data(args)
    print(dataset.report, file=sys.stderr)
    sizes = config.sizes()
    if len(dataset) < 20:
        raise CliError(f"数据太少（{len(dataset)} 条），至少需要 20 条才能划分训练、验证和测试集")
    recipe = registry.recipe(registry.DEFAULT_RECIPE if args.pretrain else "plain")
    print(f"运行规模：{sizes.profile}；模型：{args.model}；训练方案：{recipe.name}（{recipe.description}）；"
          f"随机种子：{args.seed}", file=sys.stderr)
    prepared = pipeline.prepare(dataset, sizes, seed=args.seed, progress=True)
    print(prepared.splits, file=sys.stderr)
    overrides = {name: value for name, value in (("pretrain_epochs", args.pretrain_epochs), ("epochs", args.epochs),
                                                 ("ensemble", args.ensemble)) if value is not None}
    if registry.KINDS[args.model].family == registry.BASELINE:
        trained = pipeline.train_baseline(prepared, args.model)
    else:
        settings = pipeline.recipe_settings(args.model, recipe.name, sizes, **overrides)
        if settings.get("pretrain_epochs"):
            print(f"先把编码器当作语言模型预训练 {settings['pretrain_epochs']} 轮（--no-pretrain 可跳过）",
                  file=sys.stderr)
        if settings.get("ensemble", 1) > 1:
            print(f"微调 {settings['ensemble']} 次（不同的随机种子），取它们 logit 的平均作为预测（--ensemble 1 只训练一个）",
                  file=sys.stderr)
        trained = pipeline.train_neural(prepared, args.model, verbose=args.verbose, **settings)
    directory = trained.model.save(args.out)
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
    metrics = model.evaluate(labelled.texts, labelled.labels).as_dict()
    print(json.dumps(metrics, ensure_ascii=False))
    return 0


def cmd_predict(args) -> int:
    """`llmcourse predict`: one JSON line per text (from the arguments, or stdin line by line).

    Taught in chapter 5 and on the deployment page.
    """
    model = saving.load_model(args.model)
    texts = list(args.texts) if args.texts else [line.rstrip("\n") for line in sys.stdin if line.strip()]
    for result in model.predict(texts):
        print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_serve(args) -> int:
    """`llmcourse serve`: the HTTP service on a socket bound here, so a busy port is one clear line.

    Taught on the deployment page (book/deployment.md).
    """
    for name in ("max_texts", "max_chars", "threads"):
        if getattr(args, name) < 1:
            raise CliError(f"--{name.replace('_', '-')} 必须是正整数")
    if not 0 <= args.port <= 65535:
        raise CliError(f"端口号 {args.port} 无效：应在 0 到 65535 之间")
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
        raise CliError(f"无法在 {args.host}:{args.port} 上监听：{err.strerror or err}") from err
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"llmcourse：模型 {model.kind} 已加载；服务地址 http://{shown}:{port}"
          f"（POST /predict，GET /health，文档 /docs）；按 Ctrl+C 结束", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level=args.log_level, access_log=args.access_log)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand; model kinds come from `registry.KINDS`.

    Taught in chapter 5 and on the deployment page.
    """
    parser = argparse.ArgumentParser(prog="llmcourse", description="中文评论情感分析：训练、评估、预测、提供 HTTP 服务")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="训练一个模型并保存为目录")
    train.add_argument("--out", required=True, help="保存模型的目录")
    train.add_argument("--model", choices=tuple(registry.KINDS), default=registry.DEFAULT_KIND,
                       help=f"模型类型（默认 {registry.DEFAULT_KIND}）")
    train.add_argument("--epochs", type=int, default=None, help="最多训练轮数（默认取运行规模的设置）")
    train.add_argument("--seed", type=int, default=42, help="随机种子")
    train.add_argument("--pretrain", action=argparse.BooleanOptionalAction, default=True,
                       help="循环网络先做语言模型预训练，再用词级 dropout 和 AdamW 微调（默认开启）")
    train.add_argument("--pretrain-epochs", type=int, default=None,
                       help="语言模型预训练的轮数（默认取运行规模的设置）")
    train.add_argument("--ensemble", type=int, default=None,
                       help="训练几个模型并平均它们的 logit（默认：预训练时取运行规模的设置，否则 1）")
    train.add_argument("--data", default=None, help="带标签的 CSV/TSV/JSONL 文件（默认用随包发布的评论语料）")
    train.add_argument("--text-col", default="text", help="文本列名")
    train.add_argument("--label-col", default="label", help="标签列名")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=1, help="Keras 的进度显示方式")
    train.set_defaults(func=cmd_train)

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

    serve = sub.add_parser("serve", help="启动 HTTP 预测服务（POST /predict，GET /health）")
    serve.add_argument("--model", required=True, help="模型目录")
    serve.add_argument("--host", default="127.0.0.1", help="监听地址（默认 127.0.0.1，只接受本机连接）")
    serve.add_argument("--port", type=int, default=8000, help="端口（默认 8000；0 表示任选一个空闲端口）")
    serve.add_argument("--max-texts", type=int, default=64, help="每个请求最多的文本条数（默认 64）")
    serve.add_argument("--max-chars", type=int, default=2000, help="每条文本最多的字符数（默认 2000）")
    serve.add_argument("--threads", type=int, default=4, help="做预测的线程数（默认 4）")
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                       help="uvicorn 的日志级别")
    serve.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True,
                       help="是否逐条记录请求（--no-access-log 关闭，压测时用）")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; an expected failure is one Chinese line on stderr and exit status 2.

    Taught in chapter 5 and on the deployment page.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "epochs", None) is not None and args.epochs < 1:
        parser.error("--epochs 必须是正整数")
    if getattr(args, "pretrain_epochs", None) is not None and args.pretrain_epochs < 0:
        parser.error("--pretrain-epochs 不能为负数")
    if getattr(args, "ensemble", None) is not None and args.ensemble < 1:
        parser.error("--ensemble 必须是正整数")
    try:
        return args.func(args)
    except (data.DataFormatError, saving.ModelLoadError, CliError, FileNotFoundError) as err:
        _err(str(err))
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("已中断")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
