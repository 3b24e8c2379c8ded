"""The HTTP service behind `llmcourse serve`: a FastAPI app around a loaded model.

    POST /predict   {"texts": ["...", ...]} -> {"predictions": [...], "model": kind}
    GET  /health    status, model kind, limits and library versions
    GET  /openapi.json, /docs   the API description FastAPI generates

Every error is a JSON object {"detail": "<中文说明>"} with a 4xx status:
400 bad JSON, 415 not JSON, 422 wrong shape or types or an empty list,
413 too many texts, a text too long or a body too large. Predictions run in
a thread pool of their own, so the event loop keeps accepting requests while
TensorFlow works, and several requests can be served at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib

import fastapi
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmcourse import __version__
from llmcourse.saving import library_versions

DEFAULT_MAX_TEXTS = 64
DEFAULT_MAX_CHARS = 2000
DEFAULT_THREADS = 4


# --------------------------------------------------------------------------- request and response models
class PredictRequest(BaseModel):
    """要预测的一批评论文本。

    Taught on the deployment page (book/deployment.md).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"texts": ["房间很干净，服务也很周到", "等了两个小时还没上菜"]}]},
    )
    texts: list[StrictStr] = Field(description="评论文本列表：每个元素是一条原始中文文本（不需要分词）；"
                                               "条数和每条的字数有上限，见 GET /health 的 limits")


class Prediction(BaseModel):
    """一条文本的预测结果。

    Taught on the deployment page (book/deployment.md).
    """

    text: str = Field(description="原样返回的输入文本")
    label: int = Field(description="预测标签：1 表示正面，0 表示负面（正面概率 ≥ 0.5 时为 1）")
    label_name: str = Field(description="标签的中文名：正面 或 负面")
    probability: float = Field(description="模型给出的正面概率，0 到 1 之间，保留 6 位小数")


class PredictResponse(BaseModel):
    """一批预测结果，顺序与请求中的 texts 相同。

    Taught on the deployment page (book/deployment.md).
    """

    predictions: list[Prediction] = Field(description="每条输入文本一个结果，顺序与输入相同")
    model: str = Field(description="提供预测的模型类型，例如 bilstm")


class Limits(BaseModel):
    """每个请求的上限。

    Taught on the deployment page (book/deployment.md).
    """

    max_texts: int = Field(description="每个请求最多的文本条数")
    max_chars: int = Field(description="每条文本最多的字符数")
    max_body_bytes: int = Field(description="请求体最多的字节数")


class Health(BaseModel):
    """服务状态。

    Taught on the deployment page (book/deployment.md).
    """

    status: str = Field(description="服务正常时为 ok")
    model: str = Field(description="已加载的模型类型")
    limits: Limits = Field(description="每个请求的上限")
    versions: dict[str, str] = Field(description="服务进程中 Python 和各个库的版本")
    model_versions: dict[str, str] = Field(description="训练并保存这个模型时的库版本")


class ErrorResponse(BaseModel):
    """出错时的响应体。

    Taught on the deployment page (book/deployment.md).
    """

    detail: str = Field(description="用中文说明哪里出了问题、应该怎样改")


class ApiError(Exception):
    """A client error with a status code and a Chinese message.

    Taught on the deployment page (book/deployment.md).
    """

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _error(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


EXAMPLE = '{"texts": ["很好"]}'


def _describe_validation_error(err: dict) -> tuple[int, str]:
    """One pydantic/FastAPI validation error -> (status, Chinese message)."""
    kind, loc = err.get("type", ""), tuple(err.get("loc", ()))
    where = loc[1:] if loc[:1] == ("body",) else loc
    if kind == "json_invalid":
        pos = f"第 {where[0] + 1} 个字符附近" if where and isinstance(where[0], int) else ""
        reason = (err.get("ctx") or {}).get("error", "")
        return 400, f"请求体不是合法的 JSON（{pos}{'：' + reason if reason else ''}）；正确的格式如 {EXAMPLE}"
    if not where:
        if kind == "missing":
            return 422, f"缺少请求体：需要一个 JSON 对象，例如 {EXAMPLE}"
        return 422, f"请求体必须是 JSON 对象，例如 {EXAMPLE}，而不是 {type(err.get('input')).__name__}"
    field = where[0]
    if kind == "missing":
        return 422, f"缺少字段 {field}：请求体应为 {EXAMPLE}"
    if kind == "extra_forbidden":
        return 422, f"未知字段 {field!r}：请求体只接受 texts 一个字段，例如 {EXAMPLE}"
    if field == "texts" and len(where) == 1:
        return 422, f"texts 必须是字符串列表，例如 {EXAMPLE}，而不是 {type(err.get('input')).__name__}"
    if field == "texts" and len(where) == 2:
        return 422, f"texts 的第 {where[1]} 个元素不是字符串：{err.get('input')!r}"
    return 422, f"请求格式不对：{'.'.join(map(str, where))}：{err.get('msg', '')}"


def _is_json_request(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    return media == "" or media == "application/json" or media.endswith("+json")


class _BodySizeLimit:
    """Pure ASGI middleware: refuse a declared Content-Length above the limit before reading the body."""

    def __init__(self, app, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            for name, value in scope.get("headers", ()):
                if name == b"content-length":
                    try:
                        size = int(value)
                    except ValueError:
                        size = -1
                    if size > self.max_body_bytes:
                        response = _error(413, f"请求体有 {size} 字节，超过上限 {self.max_body_bytes} 字节；"
                                               "请把文本分成几个请求发送")
                        await response(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


# --------------------------------------------------------------------------- the app
APP_TITLE = "llmcourse 中文评论情感分析服务"
APP_DESCRIPTION = ("对中文评论做情感分类（正面 / 负面）。POST /predict 一次提交一批原始文本，"
                   "服务内部完成 jieba 分词、编码和模型推理；GET /health 查看状态、上限和版本。"
                   "所有错误都以 JSON 对象 {\"detail\": \"中文说明\"} 返回，状态码为 4xx。")
ERROR_RESPONSES = {
    400: {"model": ErrorResponse, "description": "请求体不是合法的 JSON"},
    413: {"model": ErrorResponse, "description": "文本条数、单条字数或请求体大小超过上限"},
    415: {"model": ErrorResponse, "description": "Content-Type 不是 application/json"},
    422: {"model": ErrorResponse, "description": "字段缺失、类型不对（texts 不是字符串列表）或 texts 为空"},
}


def create_app(
    model,
    max_texts: int = DEFAULT_MAX_TEXTS,
    max_chars: int = DEFAULT_MAX_CHARS,
    threads: int = DEFAULT_THREADS,
    max_body_bytes: int | None = None,
) -> FastAPI:
    """A FastAPI app serving `model` (a saving.SentimentModel or BaselineModel).

    max_texts / max_chars: limits per request and per text. threads: size of
    the thread pool that runs predictions. max_body_bytes (default: enough for
    max_texts texts of max_chars characters, even \\u-escaped) bounds the body.

    Taught on the deployment page (book/deployment.md).
    """
    if max_texts < 1 or max_chars < 1 or threads < 1:
        raise ValueError("max_texts、max_chars 和 threads 都必须是正整数")
    if max_body_bytes is None:
        max_body_bytes = max_texts * (max_chars * 12 + 16) + 4096  # 12 bytes: a surrogate pair as \ud83d\ude00
    model.predict(["预热"])  # load jieba's dictionary and trace the TF graph before requests run in parallel
    limits = Limits(max_texts=max_texts, max_chars=max_chars, max_body_bytes=max_body_bytes)
    executor = concurrent.futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="llmcourse-predict")
    app = FastAPI(title=APP_TITLE, description=APP_DESCRIPTION, version=__version__,
                  lifespan=_shutdown_on_exit(executor))
    _add_exception_handlers(app)
    _add_predict_route(app, model, executor, limits)
    _add_health_route(app, _health_payload(model, limits))
    app.add_middleware(_BodySizeLimit, max_body_bytes=max_body_bytes)
    return app


def _shutdown_on_exit(executor: concurrent.futures.Executor):
    """A FastAPI lifespan that stops the prediction thread pool when the app shuts down."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        try:
            yield
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

    return lifespan


# --------------------------------------------------------------------------- errors as {"detail": "<中文说明>"}
def _add_exception_handlers(app: FastAPI) -> None:
    """Make every error a JSON object {"detail": "<中文说明>"} with its 4xx status."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """415 for a body that is not JSON, 400 for broken JSON, otherwise 422 with up to five reasons."""
    if not _is_json_request(request):
        return _error(415, f"Content-Type 必须是 application/json，收到的是 {request.headers.get('content-type')!r}")
    described = [_describe_validation_error(e) for e in exc.errors()]
    status = 400 if any(s == 400 for s, _ in described) else 422
    messages = list(dict.fromkeys(m for s, m in described if s == status))
    return _error(status, "；".join(messages[:5]))


async def _on_api_error(request: Request, exc: ApiError) -> JSONResponse:
    """An ApiError raised by an endpoint: its own status and Chinese message."""
    return _error(exc.status, exc.detail)


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Unknown paths (404) and wrong methods (405) get a message that names the real endpoints."""
    if exc.status_code == 404:
        detail = f"没有这个地址：{request.url.path}；可用的接口是 POST /predict 和 GET /health"
    elif exc.status_code == 405:
        detail = f"{request.url.path} 不接受 {request.method} 请求；预测请用 POST /predict，状态请用 GET /health"
    else:
        detail = str(exc.detail)
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))


# --------------------------------------------------------------------------- the endpoints
def _check_texts(texts: list[str], max_texts: int, max_chars: int) -> None:
    """Raise ApiError (422 or 413) when `texts` is empty or over the limits."""
    if not texts:
        raise ApiError(422, f"texts 不能是空列表：至少提供一条文本，例如 {EXAMPLE}")
    if len(texts) > max_texts:
        raise ApiError(413, f"一次最多预测 {max_texts} 条文本，这个请求有 {len(texts)} 条；请分成几个请求发送")
    for i, text in enumerate(texts):
        if len(text) > max_chars:
            raise ApiError(413, f"texts 的第 {i} 条文本有 {len(text)} 个字符，超过每条 {max_chars} 个字符的上限")


def _add_predict_route(app: FastAPI, model, executor: concurrent.futures.Executor, limits: Limits) -> None:
    """POST /predict: check the limits, then run model.predict in the thread pool."""

    @app.post("/predict", response_model=PredictResponse, responses=ERROR_RESPONSES,
              summary="预测一批文本的情感", tags=["预测"])
    async def predict(body: PredictRequest) -> PredictResponse:
        """对 texts 中的每条文本给出标签（1 正面 / 0 负面）和正面概率，顺序与输入相同。"""
        _check_texts(body.texts, limits.max_texts, limits.max_chars)
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(executor, model.predict, body.texts)
        return PredictResponse(predictions=[Prediction(**r) for r in results], model=model.kind)


def _health_payload(model, limits: Limits) -> Health:
    """What GET /health answers: model kind, limits, and the versions of the service and of the model."""
    versions = {**library_versions(), "fastapi": fastapi.__version__, "uvicorn": uvicorn.__version__}
    model_versions = {k: str(v) for k, v in model.config.get("versions", {}).items()}
    return Health(status="ok", model=model.kind, limits=limits, versions=versions, model_versions=model_versions)


def _add_health_route(app: FastAPI, payload: Health) -> None:
    """GET /health: always the same payload, built once when the app is created."""

    @app.get("/health", response_model=Health, summary="服务状态、上限和版本", tags=["状态"])
    async def health() -> Health:
        """服务正常时 status 为 ok，并给出已加载的模型类型、每个请求的上限和库版本。"""
        return payload
