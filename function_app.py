"""Azure Functions entry point: the adapter's handlers as HTTP triggers.

Importing the FastAPI HTTP extension switches the app to streamed
responses; every route therefore takes its `Request` and returns a Starlette
`Response`. API routes also take `OPTIONS`, so CORS preflights reach the
adapter's own CORS handling (`CORS_ALLOW_ORIGINS`). Wiring only: the logic
lives in `agents_core`.
"""

import azure.functions as func
from azurefunctions.extensions.http.fastapi import Request, Response

from agents_core.http import Handlers
from agents_core.playground import FUNCTIONS_ROOT_ROUTE
from agents_core.runtime import Runtime

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
handlers = Handlers(Runtime.build)


@app.route(route="v1/chat/completions", methods=["POST", "OPTIONS"])
async def chat_completions(req: Request) -> Response:
    return await handlers.chat_completions(req)


@app.route(route="v1/responses", methods=["POST", "OPTIONS"])
async def responses_create(req: Request) -> Response:
    return await handlers.responses_create(req)


@app.route(route="v1/responses/{response_id}", methods=["GET", "OPTIONS"])
async def responses_get(req: Request) -> Response:
    return await handlers.responses_get(req)


@app.route(route="v1/responses/{response_id}/cancel", methods=["POST", "OPTIONS"])
async def responses_cancel(req: Request) -> Response:
    return await handlers.responses_cancel(req)


@app.route(route="v1/models", methods=["GET", "OPTIONS"])
async def list_models(req: Request) -> Response:
    return await handlers.list_models(req)


@app.route(route="v1/models/{*model}", methods=["GET", "OPTIONS"])
async def get_model(req: Request) -> Response:
    return await handlers.get_model(req)


@app.route(route="v1/files/{file_id}/content", methods=["GET", "OPTIONS"])
async def file_content(req: Request) -> Response:
    return await handlers.file_content(req)


@app.route(route="a2a/{agent}", methods=["POST", "OPTIONS"])
async def a2a_rpc(req: Request) -> Response:
    return await handlers.a2a_rpc(req)


@app.route(route="v1/a2a/{agent}/message/send", methods=["POST", "OPTIONS"])
async def a2a_message_send(req: Request) -> Response:
    return await handlers.a2a_rpc(req)


@app.route(route="a2a/{agent}/.well-known/agent-card.json", methods=["GET", "OPTIONS"])
async def a2a_agent_card(req: Request) -> Response:
    return await handlers.a2a_card(req)


@app.route(route="a2a/{agent}/.well-known/agent.json", methods=["GET", "OPTIONS"])
async def a2a_agent_card_legacy(req: Request) -> Response:
    return await handlers.a2a_card(req)


@app.route(route=".well-known/agent-card.json", methods=["GET", "OPTIONS"])
async def a2a_default_agent_card(req: Request) -> Response:
    return await handlers.a2a_root_card(req)


@app.route(route=".well-known/agent.json", methods=["GET", "OPTIONS"])
async def a2a_default_agent_card_legacy(req: Request) -> Response:
    return await handlers.a2a_root_card(req)


@app.route(route=FUNCTIONS_ROOT_ROUTE, methods=["GET"])
async def playground_root(req: Request) -> Response:
    return await handlers.playground_page(req)


@app.route(route="playground", methods=["GET"])
async def playground_page(req: Request) -> Response:
    return await handlers.playground_page(req)


@app.route(route="playground/{asset}", methods=["GET"])
async def playground_asset(req: Request) -> Response:
    return await handlers.playground_asset(req)


@app.timer_trigger(schedule="0 17 * * * *", arg_name="timer", run_on_startup=False)
async def thread_cleanup(timer: func.TimerRequest) -> None:
    """Hourly: delete adapter-created threads idle beyond THREAD_RETENTION_DAYS (bounded)."""
    from agents_core.retention import scheduled_cleanup

    await scheduled_cleanup(handlers.runtime)
