"""AliveAI's chats as a Hypothesis state machine with a reference model (contracts/models/chat.py), a property
module of the stateful layer (`run(session)`).

Each sequence makes a character, a persona and a chat for the run's user, then draws rules: send a message
(streamed, read to its end), regenerate a character message (only the latest one; any other: 409), select a
candidate, edit a candidate, delete a message and every one after it, create a persona (default or not), delete
a persona (one a chat uses, or the only one: 409), soft-delete the character. After every rule the chat and the
personas must be what the model says. Checks:

- `chat_model`: `GET /chats/{chatId}`: the messages in order, each with its candidates (ids and texts) and its
  selected one; a sent message and its reply are those `init` named, with the streamed text.
- `chat_regenerate_latest`: regenerating the latest character message streams a new, selected candidate; any
  other message is refused with 409 and the chat is unchanged.
- `chat_delete_from`: deleting a message removes it and every later one, nothing else.
- `chat_personas`: `GET /chat-personas` lists the model's personas with at most one default (the latest made
  default); deleting a persona a chat uses, or the user's only one, is refused with 409.
- `chat_soft_delete`: a deleted character is gone from `GET /chat-characters`, `GET /chat-characters/{id}` is
  204, and its chat keeps working.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from contracts.machines.common import Counted, Tally, either, explore
from contracts.models.chat import CHARACTER, ChatModel, Personas, chat_view
from contracts.protocols import streams
from contracts.session import Session
from contracts.wire.assets import Inspected

# on a virtual clock (replies take no wall time); 5 sequences missed a regenerate of an older reply on some seeds
SEQUENCES, STEPS = 10, 15
REAL_SEQUENCES, REAL_STEPS = 2, 5  # on a real clock every reply takes its paced time
EDITED = "An edited line of the conversation."
OPERATION = "POST /chats/{chatId}/messages"


def build(session: Session, tally: Tally, drive: Any) -> type[RuleBasedStateMachine]:
    key = session.target.key or ""
    api = Inspected(session, Counted(session, tally))  # character pictures are downloaded and judged too

    def fail(check: str, message: str, operation: str | None = None) -> None:
        tally.fail(check, message, session.transcript.text(), operation)

    def personas_listed() -> list[dict[str, Any]]:
        listed = api.send("GET", "/chat-personas", key=key).body
        return listed if isinstance(listed, list) else []

    class ChatMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            tally.sequence()
            session.transcript.clear()
            made = streams.make_chat(session, key)
            if made is None:
                fail("chat_model", "the server refused to make a character, persona or chat")
                return
            self.character, persona, self.chat_id = made
            self.character_deleted = False
            self.model = ChatModel.of(self.chat_id, streams.messages(session, self.chat_id, key) or [])
            self.personas = Personas({str(p.get("id")): bool(p.get("defaultPersona")) for p in personas_listed()})
            chats = api.send("GET", "/chats", key=key).body
            for chat in chats if isinstance(chats, list) else []:
                used = api.send("GET", f"/chat-personas/for-chat/{chat.get('chatId')}", key=key).field("id")
                self.personas.used.add(str(used))
            self.personas.used.add(persona)
            self.personas.create(persona, True)  # the chat's persona is made the default (streams.PERSONA)
            self.send()  # a reply besides the opening message: two character messages, one older

        # -- helpers ---------------------------------------------------------------------------------------
        def stream(self, message_id: str | None = None) -> streams.Stream | None:
            """A reply read to its end; None (after a finding) unless it completed."""
            with drive():
                if message_id is None:
                    got = streams.read(session, streams.SEND, f"/chats/{self.chat_id}/messages", key,
                                       {"userMessage": streams.SAID})
                else:
                    got = streams.read(session, streams.REGENERATE,
                                       f"/chats/{self.chat_id}/messages/{message_id}/regenerate", key)
            tally.answers[got.status] += 1
            return got

        def compare(self, check: str, what: str) -> None:
            tally.ran(check)
            shown = chat_view(streams.messages(session, self.chat_id, key))
            if shown != self.model.view():
                fail(check, f"after {what}, GET /chats/{self.chat_id} shows\n{streams.short(shown)}\n"
                            f"the model says\n{streams.short(self.model.view())}")

        def pick(self, index: int) -> Any:
            return self.model.messages[index % len(self.model.messages)]

        # -- rules -----------------------------------------------------------------------------------------
        @rule()
        def send(self) -> None:
            got = self.stream()
            terminal = got.terminal() if got else None
            if got is None or got.status != 200 or terminal is None or terminal.get("type") != "complete":
                fail("chat_model", f"a message sent to the chat answered {got.status if got else '-'} and ended "
                                   f"with {streams.short(terminal)}", OPERATION)
                return
            self.model.exchange(got.init(), streams.SAID, str(terminal.get("message")))
            self.compare("chat_model", "a message and its reply")

        @precondition(lambda self: any(message.kind == CHARACTER for message in self.model.messages))
        @rule(index=st.integers(0, 20))
        def regenerate(self, index: int) -> None:
            characters = [message for message in self.model.messages if message.kind == CHARACTER]
            message = characters[index % len(characters)]
            latest = message is self.model.latest_character()
            got = self.stream(message.message_id)
            expected = {200} if latest else {409}
            if got is None or got.status not in expected:
                fail("chat_regenerate_latest", f"regenerating {'the latest' if latest else 'an older'} character "
                                               f"message answered {got.status if got else '-'}, not "
                                               f"{either(expected)}", streams.REGENERATE)
                return
            terminal = got.terminal()
            if latest and terminal is not None and terminal.get("type") == "complete":
                self.model.regenerated(message, str(got.init().get("assistantCandidateId")),
                                       str(terminal.get("message")))
            self.compare("chat_regenerate_latest", f"regenerating message {message.message_id}")

        @precondition(lambda self: bool(self.model.messages))
        @rule(index=st.integers(0, 20), choice=st.integers(0, 5))
        def select(self, index: int, choice: int) -> None:
            message = self.pick(index)
            candidate = list(message.candidates)[choice % len(message.candidates)]
            reply = api.send("PUT", f"/chats/{self.chat_id}/messages/{message.message_id}", key=key,
                             params={"candidateId": candidate})
            if reply.status != 204:
                fail("chat_model", f"selecting a candidate of the message answered {reply.status}")
            message.selected = candidate
            self.compare("chat_model", f"selecting candidate {candidate}")

        @precondition(lambda self: bool(self.model.messages))
        @rule(index=st.integers(0, 20))
        def edit(self, index: int) -> None:
            message = self.pick(index)
            candidate = message.selected
            reply = api.send("PUT", f"/chats/{self.chat_id}/messages/{message.message_id}/candidates/{candidate}",
                             key=key, body={"message": EDITED})
            if reply.status != 204:
                fail("chat_model", f"editing a finished candidate answered {reply.status}")
            message.candidates[candidate] = EDITED
            self.compare("chat_model", f"editing candidate {candidate}")

        @precondition(lambda self: bool(self.model.messages))
        @rule(index=st.integers(0, 20))
        def delete_from(self, index: int) -> None:
            position = index % len(self.model.messages)
            message = self.model.messages[position]
            reply = api.send("DELETE", f"/chats/{self.chat_id}/messages/{message.message_id}", key=key)
            if reply.status != 204:
                fail("chat_delete_from", f"deleting message {position} answered {reply.status}")
            self.model.delete_from(position)
            self.compare("chat_delete_from", f"deleting message {position} of the chat and what follows")

        @rule(default=st.booleans())
        def create_persona(self, default: bool) -> None:
            reply = api.send("POST", "/chat-personas", key=key, body={"name": "Another", "isDefault": default})
            if reply.status != 200 or not reply.field("id"):
                fail("chat_personas", f"creating a persona answered {reply.status}")
            self.personas.create(str(reply.field("id")), default)
            self.compare_personas(f"creating a {'default ' if default else ''}persona")

        @rule(index=st.integers(0, 50))
        def delete_persona(self, index: int) -> None:
            known = list(self.personas.defaults)
            persona = known[index % len(known)]
            expected = 204 if self.personas.deletable(persona) else 409
            reply = api.send("DELETE", f"/chat-personas/{persona}", key=key)
            if reply.status != expected:
                used = "used by a chat" if persona in self.personas.used else f"one of {len(known)}"
                fail("chat_personas", f"deleting a persona {used} answered {reply.status}, not {expected}")
            if expected == 204:
                del self.personas.defaults[persona]
            self.compare_personas("deleting a persona")

        @precondition(lambda self: not self.character_deleted)
        @rule()
        def delete_character(self) -> None:
            reply = api.send("DELETE", f"/chat-characters/{self.character}", key=key)
            self.character_deleted = reply.status == 204
            listed = api.send("GET", "/chat-characters", key=key).body
            shown = api.send("GET", f"/chat-characters/{self.character}", key=key)
            if reply.status != 204 or shown.status != 204 or any(
                    isinstance(row, dict) and row.get("chatCharacterId") == self.character for row in listed or []):
                fail("chat_soft_delete", f"deleting the character answered {reply.status}; then GET "
                                         f"/chat-characters/{{id}} answered {shown.status} and the list "
                                         f"{'still' if listed and self.character in str(listed) else 'no longer'}"
                                         f" shows it")
            self.compare("chat_soft_delete", "deleting the chat's character")

        # -- invariants ------------------------------------------------------------------------------------
        def compare_personas(self, what: str) -> None:
            tally.ran("chat_personas")
            shown = {str(p.get("id")): bool(p.get("defaultPersona")) for p in personas_listed()}
            if shown != self.personas.defaults or sum(shown.values()) > 1:
                fail("chat_personas", f"after {what}, GET /chat-personas shows (id: default) {shown}; the model "
                                      f"says {self.personas.defaults}")

        @invariant()
        def chat_matches(self) -> None:
            if hasattr(self, "model"):
                self.compare("chat_model", "the last step")
                self.compare_personas("the last step")

    return ChatMachine


def run(session: Session, max_examples: int | None = None, steps: int | None = None) -> None:
    """The chat machine, a property module of AliveAI's stateful layer (a smaller budget on a real clock)."""
    tally = Tally()
    virtual = streams.virtual_clock(session)
    max_examples = max_examples or (SEQUENCES if virtual else REAL_SEQUENCES)
    steps = steps or (STEPS if virtual else REAL_STEPS)
    with streams.clock_driver(session) as drive:
        explore(session, build(session, tally, drive), tally, OPERATION, max_examples, steps, shrink=False)
