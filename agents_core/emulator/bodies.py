"""Request bodies of the emulated API, validated at the boundary.

Run creation follows the published contract strictly
(`../shared/reference/foundry-contract.md`, rules 1-5): an unknown field is
a 400 `unknown_parameter` naming it (`POST /threads/runs` has no
`additional_instructions` / `additional_messages`), token limits have a
minimum of 256, a function tool needs `parameters` and has no `strict`,
a `json_schema` format has only `name`, `description`, `schema`, and
`tool_choice` is `none`, `auto` or a named tool. Other bodies ignore
unknown fields. A wrong type or value is a 400 naming the parameter.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .api_errors import ApiError, bad_request

JSON = dict[str, Any]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Exact(BaseModel):
    """A body of the contract's run operations: every field is known."""

    model_config = ConfigDict(extra="forbid")


class TextPart(_Body):
    type: Literal["text"]
    text: str


class ImageUrl(_Body):
    url: str
    detail: str | None = None


class ImageUrlPart(_Body):
    type: Literal["image_url"]
    image_url: ImageUrl


class ImageFile(_Body):
    file_id: str
    detail: str | None = None


class ImageFilePart(_Body):
    type: Literal["image_file"]
    image_file: ImageFile


ContentPart = Annotated[TextPart | ImageUrlPart | ImageFilePart, Field(discriminator="type")]


class MessageIn(_Body):
    role: Literal["user", "assistant"]
    content: str | list[ContentPart]
    attachments: list[JSON] | None = None
    metadata: dict[str, str] | None = None


class ThreadIn(_Body):
    messages: list[MessageIn] | None = None
    tool_resources: JSON | None = None
    metadata: dict[str, str] | None = None


class FunctionIn(_Exact):
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: JSON


class ToolIn(BaseModel):
    """A tool definition; only function tools are interpreted, the rest are kept as given."""

    model_config = ConfigDict(extra="allow")
    type: str
    function: FunctionIn | None = None


class TruncationIn(_Body):
    type: Literal["auto", "last_messages"]
    last_messages: int | None = Field(default=None, ge=1)


class JsonSchemaIn(_Exact):
    name: str = Field(min_length=1)
    description: str | None = None
    schema_: JSON = Field(alias="schema")


class JsonSchemaFormatIn(_Exact):
    type: Literal["json_schema"]
    json_schema: JsonSchemaIn


class PlainFormatIn(_Exact):
    type: Literal["text", "json_object"]


ResponseFormatIn = Annotated[JsonSchemaFormatIn | PlainFormatIn, Field(discriminator="type")]


class NamedFunctionIn(_Exact):
    name: str = Field(min_length=1)


class NamedToolChoiceIn(_Exact):
    type: str = Field(min_length=1)
    function: NamedFunctionIn | None = None


class RunOptionsIn(_Exact):
    """The fields both run-creating operations share (rules 1-5 of the contract)."""

    assistant_id: str = Field(min_length=1)
    model: str | None = None
    instructions: str | None = None
    tools: list[ToolIn] | None = None
    tool_resources: JSON | None = None
    tool_choice: Literal["none", "auto"] | NamedToolChoiceIn | None = None
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_prompt_tokens: int | None = Field(default=None, ge=256)
    max_completion_tokens: int | None = Field(default=None, ge=256)
    truncation_strategy: TruncationIn | None = None
    response_format: Literal["auto", "none"] | ResponseFormatIn | None = None
    parallel_tool_calls: bool | None = None
    metadata: dict[str, str] | None = None

    def tool_choice_json(self) -> str | JSON | None:
        choice = self.tool_choice
        return choice.model_dump(exclude_none=True) if isinstance(choice, BaseModel) else choice

    def response_format_json(self) -> str | JSON | None:
        value = self.response_format
        if isinstance(value, BaseModel):
            return value.model_dump(exclude_none=True, by_alias=True)
        return value


class RunIn(RunOptionsIn):
    """`POST /threads/{t}/runs` (spec `CreateRunOptions`)."""

    additional_instructions: str | None = None
    additional_messages: list[MessageIn] | None = None


class ThreadAndRunIn(RunOptionsIn):
    """`POST /threads/runs` (spec `CreateAndRunThreadOptions`): no `additional_*` fields."""

    thread: ThreadIn | None = None


class ToolOutputIn(_Body):
    tool_call_id: str
    output: str


class SubmitToolOutputsIn(_Exact):
    tool_outputs: list[ToolOutputIn]
    stream: bool = False


class AssistantIn(_Body):
    model: str = Field(min_length=1)
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    tools: list[ToolIn] | None = None
    tool_resources: JSON | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    response_format: str | JSON | None = None
    metadata: dict[str, str] | None = None


B = TypeVar("B", bound=BaseModel)


def parse(model: type[B], body: Any, *, optional: bool = False) -> B:
    """Validate a parsed JSON body; `optional` accepts a missing body as `{}`.

    Raises `ApiError` 400 naming the first invalid parameter.
    """
    if body is None and optional:
        body = {}
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        # With unions, the deepest error is the one about what the caller meant to send.
        error = max(exc.errors(), key=lambda e: (len(e["loc"]), e["type"] == "extra_forbidden"))
        param = _param(error["loc"]) or None
        if error["type"] == "extra_forbidden":
            raise ApiError(
                400, "unknown_parameter", f"Unknown parameter: '{param}'.", param=param
            ) from exc
        raise bad_request(f"Invalid value for '{param}': {error['msg']}.", param) from exc


def _param(loc: tuple[int | str, ...]) -> str:
    """`tools[0].function.strict` from pydantic's location, union member names left out."""
    text = ""
    tag_follows = False
    for part in loc:
        if tag_follows:
            tag_follows = False
        elif isinstance(part, int):
            text += f"[{part}]"
        elif part.startswith("tagged-union["):
            tag_follows = True
        elif not ("[" in part or part == "str" or (part[0].isupper() and part.endswith("In"))):
            text += f".{part}" if text else part
    return text


def tool_json(tools: list[ToolIn]) -> list[JSON]:
    """Tool definitions as the service echoes them back."""
    return [tool.model_dump(exclude_none=True) for tool in tools]
