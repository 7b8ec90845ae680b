"""Chat text without a model: replies, character cards and image scenes from a small phrase grammar, and the
split of a reply into the tokens it is streamed as, on a schedule.

Every choice is drawn from a hash of what the text is made from (the character's bio, the persona, the
conversation and a variant), so one conversation always gets the same reply and another variant (a
regeneration) almost always another one. The phrases are family-safe; the only words taken from the
conversation are short noun phrases ("the old lighthouse" -> "old lighthouse"), kept as written.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

# a word (with its apostrophes) or one other mark, each with the whitespace before it; trailing whitespace alone
TOKEN = re.compile(r"\s*(?:[\w']+|[^\w\s])|\s+")
WORDS = re.compile(r"[^\W\d_][\w'-]*|[^\w\s]")
MAX_TOPIC_WORDS = 3
MAX_TOPIC_CHARACTERS = 40
MAX_SCENE_CHARACTERS = 1500  # CreatePromptRequest.appearance
HISTORY_LINES = 8  # the latest lines a reply is drawn from

ARTICLES = {"a", "an", "the"}  # kept with the phrase they lead
LEADS = {"a", "an", "the", "my", "your", "his", "her", "their", "our", "this", "that", "these", "those", "some",
         "of", "about"}
STOP = {
    "i", "you", "he", "she", "it", "we", "they", "me", "him", "them", "us", "who", "whom", "which", "what", "where",
    "when", "why", "how", "is", "are", "was", "were", "be", "been", "being", "am", "have", "has", "had", "do", "does",
    "did", "will", "would", "can", "could", "should", "shall", "may", "might", "must", "and", "or", "but", "so", "if",
    "then", "than", "because", "while", "with", "to", "in", "on", "at", "for", "from", "by", "into", "over", "under",
    "after", "before", "as", "like", "near", "not", "no", "yes", "just", "very", "too", "also", "there", "here",
    "really", "one", "ones", "thing", "things", "lot", "bit", "way", *LEADS,
}

GREETINGS = ("Oh, hello there, {you}. I was hoping you would stop by.",
             "Welcome, {you}. Come in and make yourself comfortable.",
             "There you are, {you}. I have been waiting for you.",
             "Good to see you again, {you}. It has been far too quiet without you.")
ANSWERS = ("That is a fair question, {you}.", "A good question. Let me think about it for a moment.",
           "You always ask the questions nobody else dares to, {you}.", "Hmm, I have wondered about that myself.")
REACTIONS = ("I hear you, {you}.", "You always know how to surprise me, {you}.",
             "Well, that is not what I expected to hear today.", "Is that so? Go on, I am listening.",
             "That makes me smile, {you}.")
ACTIONS = ("*{name} smiles warmly.*", "*{name} laughs softly.*", "*{name} leans back and thinks for a moment.*",
           "*{name} nods slowly.*", "*{name} raises an eyebrow, clearly curious.*")
TOPIC_LINES = ("All this talk of {topic} makes me curious.", "I have been thinking about {topic} all day.",
               "Tell me everything about {topic}.", "Talk of {topic} always brings back memories.",
               "Nobody here understands {topic} quite the way you do.")
BIO_LINES = ("It reminds me of {bio}, and of home.", "Sometimes I still dream about {bio}.",
             "You know how much {bio} matters to me.", "Nothing compares to {bio}, if you ask me.",
             "Back when I first learned about {bio}, I was much younger.")
EARLIER_LINES = ("Earlier you mentioned {earlier}, and I have not stopped thinking about it.",
                 "I still remember what you said about {earlier}.")
PERSONA_LINES = ("I have not forgotten what you told me about {persona}.",
                 "For someone who knows about {persona}, you ask the most interesting things.")
CLOSERS = ("What brings you here today, {you}?", "What would you like to do next?", "Will you stay a little longer?",
           "Tell me, what is on your mind?", "Shall we take a walk while we talk?")

TRAITS = ("warm", "curious", "witty", "loyal", "calm", "playful", "proud", "thoughtful", "brave", "gentle",
          "teasing", "honest", "patient", "adventurous")
SCENARIOS = ("A quiet cafe on a rainy afternoon", "A lantern-lit market at dusk", "A sunny rooftop garden",
             "A cosy library after closing time", "A seaside boardwalk in early summer",
             "A mountain cabin during the first snow")
SIGHTS = ("a person standing in a sunlit room", "a smiling person outdoors in a park",
          "a person posing against a plain wall", "a person sitting at a cafe table",
          "a figure walking along a city street")
TAGS = ("original", "slice of life", "friendly", "adventure", "romance", "mystery", "comedy", "drama")
CARD_GREETINGS = ("*{name} looks up and smiles.* Oh, hello! I did not expect company today.",
                  "*{name} waves you over.* Come, sit with me. Tell me about your day.",
                  "Hi there. I am {name}. You look like someone with a story to tell.")
SETTINGS = ("in warm candlelight", "in soft morning light", "at golden hour", "in a cosy interior",
            "outdoors on a bright day")
MAKE = re.compile(r"^\s*(?:please\s+)?make\s+(?:her|him|them|it|the character)\s+(?P<trait>.+?)[.!]*\s*$", re.I)
PLACE = re.compile(r"\b(?:change|set|move)\s+(?:the\s+)?(?:setting|scene|scenario|location|place)\s+to\s+"
                   r"(?P<place>.+?)[.!]*\s*$", re.I)


def tokens(text: str) -> list[str]:
    """The pieces a reply is streamed as: each word or mark with the whitespace before it. They join to `text`."""
    return TOKEN.findall(text)


@dataclass(frozen=True)
class Schedule:
    """When each token of a reply is due: the first `first` seconds after `start`, then one every `each`."""

    start: float
    first: float
    each: float
    count: int

    def due(self, index: int) -> float:
        return self.start + self.first + index * self.each

    @property
    def end(self) -> float:
        """When the last token is due (the reply is complete)."""
        return self.due(max(0, self.count - 1))

    def due_by(self, now: float, limit: int | None = None) -> int:
        """How many tokens are due at `now` (at most `limit`)."""
        limit = self.count if limit is None else min(limit, self.count)
        if limit <= 0 or now < self.due(0):
            return 0
        count = limit if self.each <= 0 else min(limit, int((now - self.start - self.first) / self.each) + 1)
        while count < limit and self.due(count) <= now:  # the division can be a float's hair off
            count += 1
        while count > 0 and self.due(count - 1) > now:
            count -= 1
        return count


class Draw:
    """Deterministic choices: each one hashes the seed with its own counter."""

    def __init__(self, *parts: Any) -> None:
        text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
        self._seed = hashlib.blake2b(text.encode(), digest_size=16).digest()
        self._count = 0

    def number(self, size: int) -> int:
        self._count += 1
        digest = hashlib.blake2b(self._seed + self._count.to_bytes(4, "big"), digest_size=8).digest()
        return int.from_bytes(digest, "big") % size

    def pick(self, options: Sequence[str]) -> str:
        return options[self.number(len(options))]

    def chance(self, percent: int) -> bool:
        return self.number(100) < percent

    def some(self, options: Sequence[str], count: int) -> list[str]:
        """`count` of the options, in an order drawn from the seed."""
        return sorted(options, key=lambda option: hashlib.blake2b(self._seed + option.encode()).digest())[:count]


def topics(text: str, limit: int = 4) -> list[str]:
    """Short noun phrases of a text (up to three words after an article, a possessive, "of" or "about"; with the
    article), in the order they appear; else its longest uncommon words."""
    words = WORDS.findall(text)
    found: list[str] = []
    for index, word in enumerate(words):
        if word.lower() not in LEADS:
            continue
        phrase = []
        for following in words[index + 1:index + 1 + MAX_TOPIC_WORDS]:
            if not following[0].isalpha() or following.lower() in STOP:
                break
            phrase.append(following)
        text_of = " ".join([word.lower()] * (word.lower() in ARTICLES) + phrase)
        if phrase and len(text_of) <= MAX_TOPIC_CHARACTERS:
            found.append(text_of)
    if not found:
        uncommon = {word for word in words if len(word) >= 5 and word.lower() not in STOP}
        found = sorted(uncommon, key=lambda word: (-len(word), word))
    return list(dict.fromkeys(found))[:limit]


def clause(text: str) -> str:
    """Words as a clause: one line, no final full stop, a lower-case start (unless an acronym or a name)."""
    text = re.sub(r"(?<=\w)\.$", "", re.sub(r"\s+", " ", text).strip())
    if text[:1].isupper() and not text[1:2].isupper() and text.split(" ", 1)[0].lower() in LEADS:
        text = text[0].lower() + text[1:]
    return text


def sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?", "*")) else ".")


# -- replies ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Persona:
    name: str
    bio: str = ""


@dataclass(frozen=True)
class Line:
    """One message of the conversation: who said it and what."""

    by_user: bool
    text: str


def reply(name: str, bio: str, persona: Persona | None, history: Sequence[Line], variant: str) -> str:
    """The character's next message after `history` (the user's last line, if it ends the history, is what it
    answers; otherwise it greets). `variant` makes one candidate differ from another."""
    recent = list(history)[-HISTORY_LINES:]
    draw = Draw("reply", name, bio, persona, [(line.by_user, line.text) for line in recent], variant)
    asked = recent[-1].text if recent and recent[-1].by_user else None
    earlier = [topic for line in recent[:-1] if line.by_user for topic in topics(line.text)]
    slots = {"name": name, "you": persona.name if persona else "friend"}
    lines = []
    if asked is None:
        lines.append(draw.pick(GREETINGS))
    else:
        lines.append(draw.pick(ANSWERS if asked.rstrip().endswith("?") else REACTIONS))
    if draw.chance(40):
        lines.append(draw.pick(ACTIONS))
    if asked is not None and topics(asked):
        slots["topic"] = draw.pick(topics(asked))
        lines.append(draw.pick(TOPIC_LINES))
    if topics(bio):
        slots["bio"] = draw.pick(topics(bio))
        lines.append(draw.pick(BIO_LINES))
    if earlier and draw.chance(50):
        slots["earlier"] = draw.pick(earlier)
        lines.append(draw.pick(EARLIER_LINES))
    if persona is not None and topics(persona.bio) and draw.chance(50):
        slots["persona"] = draw.pick(topics(persona.bio))
        lines.append(draw.pick(PERSONA_LINES))
    lines.append(draw.pick(CLOSERS))
    return " ".join(sentence(line.format(**slots)) for line in lines)


def scene(name: str, short_bio: str, lines: Sequence[str], variant: str) -> str:
    """What a chat image shows: the character, a topic of the latest messages, a setting."""
    draw = Draw("scene", name, short_bio, list(lines)[-4:], variant)
    topic = next((found[0] for line in reversed(lines[-4:]) if (found := topics(line))), None)
    parts = [f"{name}, {clause(short_bio)}", f"with {topic}" if topic else "", draw.pick(SETTINGS)]
    return ", ".join(part for part in parts if part)[:MAX_SCENE_CHARACTERS]


# -- character cards ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    name: str
    description: str
    personality: str
    scenario: str
    first_message: str
    tags: tuple[str, ...]


def sight(variant: str) -> str:
    """What an image nothing is known of shows, drawn from `variant` (e.g. its URL)."""
    return Draw("sight", variant).pick(SIGHTS)


def card(name: str, seen: str, variant: str) -> Card:
    """A character card for `name` from what its image shows."""
    draw = Draw("card", name, seen, variant)
    tags = [*draw.some(TAGS, 2), *(topic.split(" ", 1)[-1] if topic.split(" ", 1)[0] in ARTICLES else topic
                                    for topic in topics(seen, 1))]
    return Card(name=name, description=sentence(f"{name} appears as {clause(seen)}"),
                personality=", ".join(draw.some(TRAITS, 3)), scenario=draw.pick(SCENARIOS),
                first_message=draw.pick(CARD_GREETINGS).format(name=name), tags=tuple(dict.fromkeys(tags)))


def refine(current: Card, update: str) -> Card:
    """The card changed as `update` asks: "make her <trait>" adds to the personality, "change the setting to
    <place>" replaces the scenario, anything else is added to the description; a new first message."""
    draw = Draw("refine", current, update)
    trait, place = MAKE.match(update), PLACE.search(update)
    changed = current
    if trait and clause(trait["trait"]):
        changed = replace(current, personality=", ".join(filter(None, [current.personality, clause(trait["trait"])])))
    elif place and clause(place["place"]):
        changed = replace(current, scenario=sentence(clause(place["place"])).rstrip("."))
    elif clause(update):
        changed = replace(current, description=" ".join(filter(None, [current.description, sentence(update)])))
    return replace(changed, first_message=draw.pick(CARD_GREETINGS).format(name=current.name))
