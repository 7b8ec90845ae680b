"""The reference model of one AliveAI chat and a user's personas: what `GET /chats/{chatId}` and
`GET /chat-personas` must show after each step of the chat state machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

USER, CHARACTER = "USER", "CHARACTER"


@dataclass
class Message:
    message_id: str
    kind: str  # USER, CHARACTER (MEDIA: not made by the machine)
    candidates: dict[str, str]  # candidate id -> text, in creation order
    selected: str

    def view(self) -> tuple[str, str, list[tuple[str, str]], str]:
        return self.message_id, self.kind, list(self.candidates.items()), self.selected


@dataclass
class ChatModel:
    chat_id: str
    messages: list[Message] = field(default_factory=list)

    @staticmethod
    def of(chat_id: str, listed: list[dict[str, Any]]) -> ChatModel:
        """A model that starts where the server's chat is (its opening message)."""
        model = ChatModel(chat_id)
        for message in listed:
            candidates = {str(c.get("candidateId")): str(c.get("message")) for c in message.get("candidates", [])}
            model.messages.append(Message(str(message.get("messageId")), str(message.get("messageType")), candidates,
                                          str(message.get("selectedCandidateId"))))
        return model

    def view(self) -> list[tuple[str, str, list[tuple[str, str]], str]]:
        return [message.view() for message in self.messages]

    def exchange(self, init: dict[str, Any], said: str, reply: str) -> None:
        """A sent message and its reply, as `init` named them."""
        self.messages.append(Message(init["userMessageId"], USER, {init["userCandidateId"]: said},
                                     init["userCandidateId"]))
        self.messages.append(Message(init["assistantMessageId"], CHARACTER, {init["assistantCandidateId"]: reply},
                                     init["assistantCandidateId"]))

    def latest_character(self) -> Message | None:
        return next((message for message in reversed(self.messages) if message.kind == CHARACTER), None)

    def regenerated(self, message: Message, candidate_id: str, reply: str) -> None:
        message.candidates[candidate_id] = reply
        message.selected = candidate_id

    def delete_from(self, index: int) -> None:
        del self.messages[index:]


def chat_view(listed: list[dict[str, Any]] | None) -> list[tuple[str, str, list[tuple[str, str]], str]] | None:
    """The server's chat in the model's terms."""
    return None if listed is None else ChatModel.of("", listed).view()


@dataclass
class Personas:
    """A user's personas: id -> whether it is the default; and those a chat uses."""

    defaults: dict[str, bool] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    def create(self, persona_id: str, default: bool) -> None:
        if default:
            self.defaults = dict.fromkeys(self.defaults, False)
        self.defaults[persona_id] = default

    def deletable(self, persona_id: str) -> bool:
        """The documented refusals (409): a persona a chat uses, the user's only persona."""
        return persona_id not in self.used and len(self.defaults) > 1
