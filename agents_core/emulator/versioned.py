"""The state behind the versioned-agents surface: agents, conversations, responses, their engine."""

from __future__ import annotations

from .api_errors import ApiError
from .conversations import Conversations
from .options import Knobs
from .prompt_agents import PromptAgents
from .response_engine import ResponseEngine
from .response_state import ResponseState


class Foundry:
    """One emulator instance's versioned agents, conversations and responses (in memory)."""

    def __init__(self, knobs: Knobs) -> None:
        self.agents = PromptAgents()
        self.conversations = Conversations()
        self.responses: dict[str, ResponseState] = {}
        self.engine = ResponseEngine(knobs)

    def response(self, response_id: str, param: str = "response_id") -> ResponseState:
        """A stored response, or a 404 naming `param`."""
        response = self.responses.get(response_id)
        if response is None:
            raise ApiError(
                404, "not_found", f"Response with id '{response_id}' not found.", param=param
            )
        return response
