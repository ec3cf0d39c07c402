"""Request bodies of the emulated API, validated at the boundary.

Unknown fields are ignored, as the service does; a wrong type or value is a
400 naming the offending parameter.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import bad_request

JSON = dict[str, Any]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


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


class FunctionIn(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str = Field(min_length=1)
    description: str | None = None
    parameters: JSON | None = None


class ToolIn(BaseModel):
    """A tool definition; only function tools are interpreted, the rest are kept as given."""

    model_config = ConfigDict(extra="allow")
    type: str
    function: FunctionIn | None = None


class TruncationIn(_Body):
    type: Literal["auto", "last_messages"]
    last_messages: int | None = Field(default=None, ge=1)


class RunIn(_Body):
    assistant_id: str = Field(min_length=1)
    model: str | None = None
    instructions: str | None = None
    additional_instructions: str | None = None
    additional_messages: list[MessageIn] | None = None
    tools: list[ToolIn] | None = None
    tool_resources: JSON | None = None
    tool_choice: str | JSON | None = None
    stream: bool = False
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_prompt_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    truncation_strategy: TruncationIn | None = None
    response_format: str | JSON | None = None
    parallel_tool_calls: bool | None = None
    metadata: dict[str, str] | None = None


class ThreadAndRunIn(RunIn):
    thread: ThreadIn | None = None


class ToolOutputIn(_Body):
    tool_call_id: str
    output: str


class SubmitToolOutputsIn(_Body):
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
        first = exc.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        raise bad_request(f"Invalid value for '{param}': {first['msg']}.", param) from exc


def tool_json(tools: list[ToolIn]) -> list[JSON]:
    """Tool definitions as the service echoes them back."""
    return [tool.model_dump(exclude_none=True) for tool in tools]
