"""Conversations: ordered item lists that responses read from and append to.

A conversation is `{id: "conv_…", object: "conversation", created_at,
metadata}`; its items are stored input and output items (see `items`).
At most one response is in progress per conversation (`active_response`),
so turns never interleave.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .api_errors import ApiError
from .bodies import JSON
from .objects import new_id, now


@dataclass(frozen=True)
class Item:
    """A stored item, listable by `store.paginate`."""

    id: str
    data: JSON

    def to_json(self) -> JSON:
        return self.data


@dataclass
class Conversation:
    id: str
    metadata: dict[str, str] = field(default_factory=dict)
    created_at: int = field(default_factory=now)
    items: list[Item] = field(default_factory=list)
    item_pos: dict[str, int] = field(default_factory=dict)
    active_response: str | None = None

    def append(self, items: list[JSON]) -> None:
        for data in items:
            item = Item(str(data["id"]), data)
            self.item_pos[item.id] = len(self.items)
            self.items.append(item)

    def item_data(self) -> list[JSON]:
        return [item.data for item in self.items]

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "object": "conversation",
            "created_at": self.created_at,
            "metadata": self.metadata,
        }


class Conversations:
    def __init__(self) -> None:
        self._by_id: dict[str, Conversation] = {}

    def create(self, items: list[JSON], metadata: dict[str, str] | None) -> Conversation:
        conversation = Conversation(new_id("conv"), metadata or {})
        conversation.append(items)
        self._by_id[conversation.id] = conversation
        return conversation

    def get(self, conversation_id: str) -> Conversation:
        """The conversation, or a 404 naming the `conversation` parameter."""
        conversation = self._by_id.get(conversation_id)
        if conversation is None:
            raise ApiError(
                404,
                "not_found",
                f"Conversation with id '{conversation_id}' not found.",
                param="conversation",
            )
        return conversation

    def all(self) -> list[Conversation]:
        return list(self._by_id.values())

    def delete(self, conversation_id: str) -> Conversation:
        conversation = self.get(conversation_id)
        del self._by_id[conversation_id]
        return conversation
