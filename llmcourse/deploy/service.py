"""The HTTP service behind `llmcourse serve`: a FastAPI app around a loaded model.

    POST /predict       {"texts": ["...", ...]} -> {"predictions": [...], "model": kind}
    GET  /health        status, model kind, limits and library versions
    GET  /openapi.json  the API description FastAPI generates (no /docs or /redoc:
                        those pages load their scripts from a CDN and are blank offline)

Every error is a JSON object {"detail": "<one Chinese line>"} with a 4xx status:
400 a body that is not UTF-8 or not JSON, 404 / 405 a wrong path or method,
413 too many texts, a text too long or a body too large (counted while it is
read, chunked or not), 415 not JSON, 422 wrong shape or types, an empty list
or a text with a lone surrogate. An expected failure from the package
(`CourseError`) is a 422 with its own line; only a bug is a 500. Predictions
run in a thread pool of their own, so the event loop keeps accepting requests
while TensorFlow works, and several requests can be served at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json

import fastapi
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from llmcourse import __version__, data
from llmcourse.errors import CourseError
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
    texts: list[StrictStr] = Field(
        description="评论文本列表：每个元素是一条原始中文文本（不需要分词）；"
        "条数和每条的字数有上限，见 GET /health 的 limits"
    )


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


class ApiError(CourseError):
    """A client error with a status code and a Chinese message.

    Taught on the deployment page (book/deployment.md).
    """

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _error(status: int, detail: str) -> JSONResponse:
    # A lone surrogate copied from the request into the message would make the response itself fail.
    return JSONResponse({"detail": detail.encode("utf-8", "backslashreplace").decode("utf-8")}, status_code=status)


EXAMPLE = '{"texts": ["很好"]}'


def _json_type(value) -> str:
    """The JSON name of a parsed value's type, in Chinese."""
    if isinstance(value, bool):
        return "布尔值"
    names = {dict: "对象", list: "数组", str: "字符串", int: "数字", float: "数字", type(None): "空值 null"}
    return names.get(type(value), type(value).__name__)


def _show(value, limit: int = 60) -> str:
    """A value as JSON for a message, cut to `limit` characters."""
    shown = json.dumps(value, ensure_ascii=False)
    return shown if len(shown) <= limit else shown[:limit] + "……"


def _describe_validation_error(err: dict) -> str:
    """One pydantic/FastAPI validation error -> its Chinese message (the status is 422)."""
    kind, loc = err.get("type", ""), tuple(err.get("loc", ()))
    where = loc[1:] if loc[:1] == ("body",) else loc
    if not where:
        if kind == "missing":
            return f"缺少请求体：需要一个 JSON 对象，例如 {EXAMPLE}"
        return f"请求体必须是 JSON 对象，例如 {EXAMPLE}，而不是{_json_type(err.get('input'))}"
    field = where[0]
    if kind == "missing":
        return f"缺少字段 texts：请求体应为 {EXAMPLE}"
    if field == "texts" and len(where) == 1:
        return f"texts 必须是字符串列表，例如 {EXAMPLE}，而不是{_json_type(err.get('input'))}"
    if field == "texts" and len(where) == 2:
        value = err.get("input")
        return f"texts[{where[1]}] 不是字符串，而是{_json_type(value)}" + ("" if value is None else f"：{_show(value)}")
    return f"请求格式不对（位置 {'.'.join(map(str, where))}）：请求体应为 {EXAMPLE}"


# --------------------------------------------------------------------------- reading the body
_JSON_REASONS = {  # the messages of Python's json module -> Chinese
    "Expecting value": "这里应该是一个值（字符串、数字、数组、对象、true、false 或 null）",
    "Expecting property name": "这里应该是用双引号括起来的键名（JSON 不接受单引号，最后一项后面也不能有逗号）",
    "Expecting ':'": "键名后面缺少冒号",
    "Expecting ','": "缺少逗号，或者括号没有配对",
    "Illegal trailing comma": "最后一项后面多了一个逗号",
    "Unterminated string": "字符串缺少结尾的双引号",
    "Invalid control character": "字符串里有未转义的控制字符（换行要写成 \\n，制表符写成 \\t）",
    "Invalid \\uXXXX": "无效的 \\uXXXX 转义（\\u 后面要有 4 个十六进制数字）",
    "Invalid \\escape": "无效的转义序列（反斜杠本身要写成 \\\\）",
    "Extra data": "一个完整的 JSON 值之后还有多余的内容",
}


def _refuse_constant(name: str):
    raise ApiError(400, f"请求体不是合法的 JSON：{name} 不是 JSON 的值（JSON 里没有 NaN 和 Infinity）")


def _refuse_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    value = dict(pairs)
    if len(value) < len(pairs):
        seen = set()
        key = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ApiError(
            422, f"JSON 对象里的键 {_show(key)} 出现了不止一次：每个键只能出现一次，否则前面的值会被悄悄丢掉"
        )
    return value


def _parse_json(body: bytes):
    """The JSON value in `body` (UTF-8, a BOM allowed), or ApiError 400 saying in Chinese what and where."""
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        raise ApiError(
            400,
            f"请求体不是合法的 UTF-8：第 {err.start + 1} 个字节（0x{body[err.start]:02X}）无法解码；"
            "JSON 请求体必须用 UTF-8 编码",
        ) from err
    try:
        return json.loads(text, object_pairs_hook=_refuse_duplicate_keys, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        reason = next((r for prefix, r in _JSON_REASONS.items() if err.msg.startswith(prefix)), "语法错误")
        raise ApiError(
            400, f"请求体不是合法的 JSON：第 {err.lineno} 行第 {err.colno} 列，{reason}；正确的格式如 {EXAMPLE}"
        ) from err
    except RecursionError as err:
        raise ApiError(400, f"请求体的 JSON 嵌套太深，无法解析；正确的格式如 {EXAMPLE}") from err
    except ValueError as err:  # an integer with more digits than Python converts (sys.get_int_max_str_digits)
        raise ApiError(400, f"请求体里有一个位数太多的数字，无法解析；正确的格式如 {EXAMPLE}") from err


def _check_content_type(value: str | None) -> None:
    """ApiError 415 unless `value` is application/json (or */*+json) with no charset other than UTF-8."""
    if not value:
        raise ApiError(415, "请求缺少 Content-Type：请加上请求头 Content-Type: application/json")
    media, *params = [part.strip() for part in value.split(";")]
    media = media.lower()
    if media != "application/json" and not (media.startswith("application/") and media.endswith("+json")):
        raise ApiError(415, f"Content-Type 必须是 application/json，收到的是 {value!r}")
    for param in params:
        name, _, charset = param.partition("=")
        charset = charset.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise ApiError(415, f"请求体必须用 UTF-8 编码，Content-Type 却声明了 charset={charset}")


def _check_shape(value, max_texts: int) -> None:
    """Refuse unknown fields and too many texts before pydantic, which would build one error for each of them."""
    if not isinstance(value, dict):
        return
    unknown = [key for key in value if key != "texts"]
    if unknown:
        missing = "" if "texts" in value else "缺少字段 texts；"
        names = "、".join(map(_show, unknown[:3])) + ("等" if len(unknown) > 3 else "")
        raise ApiError(422, f"{missing}未知字段 {names}：请求体只接受 texts 一个字段，例如 {EXAMPLE}")
    if isinstance(value.get("texts"), list):
        _check_count(len(value["texts"]), max_texts)


def _check_count(count: int, max_texts: int) -> None:
    if count > max_texts:
        raise ApiError(413, f"一次最多预测 {max_texts} 条文本，这个请求有 {count} 条；请分成几个请求发送")


class _ParsedJsonRequest(Request):
    """A request whose JSON body `_JsonBodyRoute` has already parsed; FastAPI reads the value from here."""

    parsed: object = None

    async def json(self):
        return self.parsed


class _JsonBodyRoute(APIRoute):
    """A route that reads its JSON body by the rules above before FastAPI validates it.

    FastAPI's own parser accepts lone surrogates as raw bytes, UTF-16, duplicate keys and
    NaN, and answers some broken bodies in English; here each of those is a Chinese 4xx.
    """

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def parse_then_handle(request: Request):
            parsed_request = _ParsedJsonRequest(request.scope, request.receive)
            body = await parsed_request.body()
            if body:  # an empty body is FastAPI's "missing" error: 422 缺少请求体
                _check_content_type(request.headers.get("content-type"))
                parsed_request.parsed = _parse_json(body)
                _check_shape(parsed_request.parsed, request.app.state.limits.max_texts)
            return await handler(parsed_request)

        return parse_then_handle


class _BodySizeLimit:
    """Pure ASGI middleware: the body is counted as it arrives, chunked or not, and refused (413) as soon
    as it passes the limit, without reading further; a declared Content-Length above it is refused at once.

    The body, at most max_body_bytes of it, is read here and handed to the app in one message.
    """

    def __init__(self, app, max_body_bytes: int):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await _error(
                413, f"请求体有 {declared} 字节，超过上限 {self.max_body_bytes} 字节；请把文本分成几个请求发送"
            )(scope, receive, send)
            return
        body, size = await self._read_limited(receive)
        if size > self.max_body_bytes:
            await _error(
                413, f"请求体超过上限 {self.max_body_bytes} 字节（读到第 {size} 字节时停止）；请把文本分成几个请求发送"
            )(scope, receive, send)
        elif body is not None:  # None: the client went away before the end of the body
            await self.app(scope, _replay(body, receive), send)

    async def _read_limited(self, receive) -> tuple[bytes | None, int]:
        """(the whole body, its size); the body is None once the size passes the limit or the client leaves."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None, size
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None, size
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), size


def _declared_length(scope) -> int | None:
    """The request's Content-Length as a number, None when absent or not a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.strip().isdigit() else None
    return None


def _replay(body: bytes, receive):
    """An ASGI receive that gives the body already read, then whatever `receive` says (a disconnect)."""
    given = False

    async def replay():
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


# --------------------------------------------------------------------------- the app
APP_TITLE = "llmcourse 中文评论情感分析服务"
APP_DESCRIPTION = (
    "对中文评论做情感分类（正面 / 负面）。POST /predict 一次提交一批原始文本，"
    "服务内部完成 jieba 分词、编码和模型推理；GET /health 查看状态、上限和版本。"
    '所有错误都以 JSON 对象 {"detail": "中文说明"} 返回，状态码为 4xx。'
    "这份说明就是 GET /openapi.json；服务不提供 /docs 网页（它要从网上加载脚本，离线时是空白的）。"
)
ERROR_RESPONSES = {
    400: {"model": ErrorResponse, "description": "请求体不是合法的 UTF-8 或不是合法的 JSON"},
    413: {"model": ErrorResponse, "description": "文本条数、单条字数或请求体大小超过上限"},
    415: {"model": ErrorResponse, "description": "Content-Type 不是 application/json，或声明了 UTF-8 以外的字符集"},
    422: {
        "model": ErrorResponse,
        "description": "字段缺失或多余、类型不对（texts 不是字符串列表）、texts 为空，"
        "或文本里有孤立的代理码位（\\ud800-\\udfff）",
    },
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
    # No /docs or /redoc: their pages load scripts from a CDN and stay blank offline; /openapi.json remains.
    app = FastAPI(
        title=APP_TITLE,
        description=APP_DESCRIPTION,
        version=__version__,
        lifespan=_shutdown_on_exit(executor),
        docs_url=None,
        redoc_url=None,
    )
    app.state.limits = limits
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
    app.add_exception_handler(CourseError, _on_course_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_bug)


async def _on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with up to five reasons, each in Chinese."""
    messages = list(dict.fromkeys(map(_describe_validation_error, exc.errors())))
    return _error(422, "；".join(messages[:5]))


async def _on_api_error(request: Request, exc: ApiError) -> JSONResponse:
    """An ApiError raised while reading the body or by an endpoint: its own status and Chinese message."""
    return _error(exc.status, exc.detail)


async def _on_course_error(request: Request, exc: CourseError) -> JSONResponse:
    """Any other expected failure of the package (for example a text the model refuses): 422 with its line."""
    return _error(422, str(exc))


async def _on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Unknown paths (404) and wrong methods (405) get a message that names the real endpoints."""
    endpoints = "POST /predict、GET /health 和 GET /openapi.json（接口说明）"
    if exc.status_code == 404:
        detail = f"没有这个地址：{request.url.path}；可用的接口是 {endpoints}"
    elif exc.status_code == 405:
        detail = f"{request.url.path} 不接受 {request.method} 请求；可用的接口是 {endpoints}"
    else:
        detail = f"请求无法处理（HTTP {exc.status_code}）；可用的接口是 {endpoints}"
    response = _error(exc.status_code, detail)
    response.headers.update(getattr(exc, "headers", None) or {})
    return response


async def _on_bug(request: Request, exc: Exception) -> JSONResponse:
    """An unexpected exception is a bug: 500 with one Chinese line (the traceback goes to the server log)."""
    return _error(500, f"服务内部错误（这是 llmcourse 的缺陷，请报告）：{type(exc).__name__}；完整的调用栈在服务日志里")


# --------------------------------------------------------------------------- the endpoints
def _check_texts(texts: list[str], max_texts: int, max_chars: int) -> None:
    """Raise ApiError when `texts` is empty (422), over the limits (413) or has a lone surrogate (422)."""
    if not texts:
        raise ApiError(422, f"texts 不能是空列表：至少提供一条文本，例如 {EXAMPLE}")
    _check_count(len(texts), max_texts)
    for i, text in enumerate(texts):
        if len(text) > max_chars:
            raise ApiError(413, f"texts[{i}] 有 {len(text)} 个字符，超过每条 {max_chars} 个字符的上限")
        lone = data.find_surrogate(text)
        if lone is not None:
            raise ApiError(
                422,
                f"texts[{i}] 的第 {lone + 1} 个字符是孤立的代理码位 U+{ord(text[lone]):04X}，"
                "不是合法的 Unicode 字符：JSON 里的 \\ud800-\\udfff 转义必须成对出现",
            )


def _add_predict_route(app: FastAPI, model, executor: concurrent.futures.Executor, limits: Limits) -> None:
    """POST /predict: read the body by the service's rules, check the limits, then run model.predict in the pool."""
    router = APIRouter(route_class=_JsonBodyRoute)

    @router.post(
        "/predict",
        response_model=PredictResponse,
        responses=ERROR_RESPONSES,
        summary="预测一批文本的情感",
        tags=["预测"],
    )
    async def predict(body: PredictRequest) -> PredictResponse:
        """对 texts 中的每条文本给出标签（1 正面 / 0 负面）和正面概率，顺序与输入相同。"""
        _check_texts(body.texts, limits.max_texts, limits.max_chars)
        loop = asyncio.get_running_loop()
        results = await loop.run_in_executor(executor, model.predict, body.texts)
        return PredictResponse(predictions=[Prediction(**r) for r in results], model=model.kind)

    app.include_router(router)


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
