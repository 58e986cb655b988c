"""The error answers of the API as documented schemas, added to every operation of the OpenAPI.

Every error body is ``{"detail": …}``: a message (400, 401, 403, 404, 409, 413, 429, 501, 503,
and 422 raised by gridmap's own validation, e.g. a plan edit that breaks a rule) or, for 422
from request parsing, a list of ``{loc, msg, type}`` (the offending input is never echoed).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field


class ErrorMessage(BaseModel):
    """An error meant for the user: one line."""

    detail: str = Field(description="what went wrong and what to do")


class InputProblem(BaseModel):
    """One problem with the request's parameters or body."""

    loc: list[str | int] = Field(description="where: path, query, body … and the field")
    msg: str
    type: str


class OgcException(BaseModel):
    """An OGC API – Features exception (``/ogc`` answers errors in this form)."""

    code: str
    description: str


class Unprocessable(BaseModel):
    """422: the request is well-formed but refused: a rule message, or the list of input problems."""

    detail: str | list[InputProblem]


#: status → (schema, description) added to every operation that does not document it itself
ERROR_RESPONSES: dict[str, tuple[type[BaseModel], str]] = {
    "400": (ErrorMessage, "bad input (an empty or malformed parameter, an unknown filter value …)"),
    "401": (ErrorMessage, "sign in first (or the token expired)"),
    "403": (ErrorMessage, "the role may not do this"),
    "404": (ErrorMessage, "no such object, or not one the caller may see"),
    "413": (ErrorMessage, "answer or upload larger than the role's cap: narrow the request"),
    "422": (Unprocessable, "refused: a rule message, or the list of input problems"),
    "429": (ErrorMessage, "too many requests: slow down (see Retry-After)"),
    "501": (ErrorMessage, "a capability not part of this build"),
    "503": (ErrorMessage, "the database is unavailable; try again (see Retry-After)"),
}


#: a string with something in it and no control characters (api.limits refuses the rest with 400)
NOT_BLANK = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"


def _not_blank(schema: dict[str, Any]) -> None:
    """String query parameters may not be empty or blank (api.limits answers 400): say so."""
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string" and "enum" not in option:
            option.setdefault("minLength", 1)
            option.setdefault("pattern", NOT_BLANK)


def install(app: FastAPI) -> None:
    """Replace ``app.openapi`` by one that documents :data:`ERROR_RESPONSES` on every operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (ErrorMessage, InputProblem, Unprocessable, OgcException):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in model_schema.pop("$defs", {}).items():
                components[name] = sub
            components[model.__name__] = model_schema
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        components["OgcError"] = {
            "anyOf": [
                {"$ref": "#/components/schemas/OgcException"},
                {"$ref": "#/components/schemas/ErrorMessage"},
            ]
        }
        for path, path_item in schema.get("paths", {}).items():
            ogc = path.startswith("/ogc")
            for operation in path_item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "query":
                        _not_blank(parameter.get("schema", {}))
                responses = operation["responses"]
                ok = responses.get("200", {}).get("content")
                if ogc and ok is not None and "application/json" in ok and path != "/ogc/api":
                    ok.setdefault("text/html", {"schema": {"type": "string"}})  # ?f=html
                for code, (model, description) in ERROR_RESPONSES.items():
                    name = "OgcError" if ogc and code != "422" else model.__name__
                    ref = {"$ref": f"#/components/schemas/{name}"}
                    if code == "422" or code not in responses:
                        responses[code] = {
                            "description": description,
                            "content": {"application/json": {"schema": ref}},
                        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
