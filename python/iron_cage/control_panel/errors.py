"""One error shape for every 4xx/5xx: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from iron_cage._validation import describe_errors

log = logging.getLogger("iron_cage.control_panel")


class ApiError(Exception):
    """Raised by handlers; becomes a JSON error response. Messages say what was wrong and what to do."""

    def __init__(self, status: int, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def bad_request(message: str, **details: Any) -> ApiError:
    return ApiError(400, "invalid_request", message, **details)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def conflict(message: str, **details: Any) -> ApiError:
    return ApiError(409, "conflict", message, **details)


def forbidden(message: str = "your role may not do this") -> ApiError:
    return ApiError(403, "forbidden", message)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message)


def body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_req: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(body(exc.code, exc.message, exc.details), exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        problems = describe_errors(exc.errors(), limit=20)
        message = "invalid request: " + "; ".join(problems[:5])
        return JSONResponse(body("invalid_request", message, {"errors": problems}), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(body(code, str(exc.detail)), exc.status_code, headers=exc.headers)

    @app.exception_handler(IntegrityError)
    async def _integrity(_req: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error: %s", type(exc.orig).__name__)
        return JSONResponse(body("conflict", "conflicts with existing data (duplicate or in use)"), 409)

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _out_of_range(_req: Request, exc: Exception) -> JSONResponse:
        log.info("value out of range: %s", type(exc).__name__)
        return JSONResponse(body("invalid_request", "a value is out of range for its field"), 400)

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s in request", type(exc).__name__, exc_info=exc)
        return JSONResponse(body("internal_error", "internal error; see the server log"), 500)
