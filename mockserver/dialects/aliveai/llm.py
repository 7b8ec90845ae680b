"""AliveAI's `/llm/*` text helpers, without a model: each answer is English sentences assembled from phrase
banks, every choice drawn from a hash of the request, so the same request always gets the same text and a
different one (almost always) another. The phrases are family-safe; the caller's own words are kept as given.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any

from starlette.responses import Response

from mockserver.dialects.aliveai.catalogue import clothes_view, find_profile
from mockserver.dialects.aliveai.errors import bad_request, not_found
from mockserver.dialects.aliveai.lookups import own_media, own_prompt
from mockserver.engine.assets import MP4, Asset
from mockserver.routing import Call, Handler, json_response

ATTRIBUTE_KEY_LENGTH = (2, 250)  # documented for LlmBuilderPromptRequest.attributes
AUDIO_MODELS = {"AUDIO", "GROK", "SEEDANCE"}  # VideoModels that make sound

LIGHTING = ("soft golden-hour light", "diffused window light", "bright overcast daylight",
            "warm studio lighting with a gentle rim light", "cool blue-hour light", "dappled sunlight through leaves")
CAMERA = ("shot on a 50 mm lens with a shallow depth of field", "shot as a wide establishing shot",
          "framed as a medium close-up at eye level", "seen in a three-quarter view from slightly below",
          "captured from a candid over-the-shoulder angle")
MOOD = ("a calm, confident mood", "a cheerful, playful mood", "a quiet, reflective mood", "an adventurous mood",
        "a warm, friendly mood")
DETAIL = ("crisp focus and natural textures", "rich colours and fine detail", "subtle film grain",
          "a clean composition and a softly blurred background")
IMAGE_STYLE = {"DEFAULT": "A detailed, vivid image of", "REALISM": "A photorealistic photograph of",
               "ANIME": "An anime-style illustration of", "TEMPORARY": "A dreamy, softly lit realistic image of",
               "CHARACTER_CREATOR": "A character portrait of", "ANIMA": "A hand-drawn manga-style artwork of",
               "GROK": "A realistic, high-detail image of"}
BUILDER_STYLE = {"QWEN3_235B": "A richly detailed character portrait of", "QWEN3_8B": "A character portrait of",
                 "GROK": "A vivid, realistic portrait of", "MISTRAL": "An expressive character study of"}
TRAIT_FORMS = {"hairColor": "{} hair", "hairStyle": "{a} {} hairstyle", "hairLength": "{} hair", "eyeColor": "{} eyes",
               "bodyShape": "{a} {} build", "skinTone": "{} skin", "age": "an age of {}", "ethnicity": "{} heritage",
               "outfit": "{a} {} outfit", "clothes": "{} clothes"}
FABRIC = ("soft, breathable fabric", "crisp woven cotton", "a fine knit with a gentle texture", "a smooth satin finish",
          "sturdy, well-stitched material")
FIT = ("a comfortable, relaxed fit", "a tailored fit", "an easy, flattering drape", "a neat, structured silhouette")
SHOWN = ("on a neutral studio backdrop", "in natural daylight", "in a full-length view", "from a slight angle")
CAMERA_MOTION = ("The camera slowly pushes in", "The camera orbits gently around the subject",
                 "The camera holds steady at eye level", "The camera tracks smoothly to the side",
                 "A smooth handheld shot follows the movement")
PACE = ("with natural, fluid motion", "with gentle, unhurried movement", "with lively but steady motion")
SOUND = ("Soft ambient room tone and light footsteps.", "A gentle breeze and distant birdsong.",
         "Quiet city ambience in the background.", "Warm background music at a low volume.")
NEGATIVE = ("blurry", "low quality", "jittery motion", "flickering", "distorted hands", "warped faces", "watermark",
            "text overlay", "frozen frames", "overexposed")
SCENES = ("a person standing in a sunlit room", "a smiling person outdoors in a park",
          "a person posing against a plain wall", "a person sitting at a cafe table",
          "a figure walking along a city street")


class Phrases:
    """Deterministic choices: each pick reads the next bytes of a hash of what it was made from."""

    def __init__(self, *parts: Any) -> None:
        text = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
        self._digest = hashlib.sha256(text.encode()).digest()
        self._at = 0

    def pick(self, options: Sequence[str]) -> str:
        value = int.from_bytes(self._digest[self._at:self._at + 2], "big")
        self._at = (self._at + 2) % (len(self._digest) - 1)
        return options[value % len(options)]

    def some(self, options: Sequence[str], count: int) -> list[str]:
        """`count` of the options, shuffled by the hash."""
        def rank(option: str) -> bytes:
            return hashlib.sha256(self._digest + option.encode()).digest()
        return sorted(options, key=rank)[:count]


def clause(text: str) -> str:
    """The caller's words as a clause: one line, no final full stop, a lower-case start (unless an acronym)."""
    text = re.sub(r"(?<=\w)\.$", "", re.sub(r"\s+", " ", text).strip())
    if text[:1].isupper() and not text[1:2].isupper():
        text = text[0].lower() + text[1:]
    return text


def sentence(*parts: str) -> str:
    """The parts as one sentence: capitalised, with a full stop ("" when there are no words)."""
    text = " ".join(part for part in parts if part).strip()
    if not text:
        return ""
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def sentences(*texts: str) -> str:
    return " ".join(text for text in texts if text)


def join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _value(value: str) -> str:
    value = clause(value)
    return value.replace("_", " ").lower() if value.isupper() else value


def _words(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).replace("_", " ").lower()


def traits(attributes: dict[str, str]) -> list[str]:
    """The attributes as phrases ("blonde hair", "an athletic build"), in key order; blank values are skipped."""
    found = []
    for key in sorted(attributes):
        value = _value(attributes[key])
        form = TRAIT_FORMS.get(key)
        if value:
            found.append(form.format(value, a=article(value)) if form else f"{value} {_words(key)}")
    return found


def _bad_attribute(call: Call, attributes: dict[str, str], field: str) -> Response | None:
    low, high = ATTRIBUTE_KEY_LENGTH
    for key in attributes:
        if not low <= len(key) <= high:
            return bad_request(call.request, field, f"attribute names must be between {low} and {high} characters "
                                                    f"long ({key!r} has {len(key)})")
    return None


def builder_text(model: str, attributes: dict[str, str], phrases: Phrases) -> str:
    found = traits(attributes)
    if model == "RAW":
        return sentence(", ".join(found) or "an original character")
    subject = f"an original character with {join(found)}" if found else "an original character"
    return sentences(sentence(BUILDER_STYLE[model], subject),
                     sentence(phrases.pick(CAMERA), "in", phrases.pick(LIGHTING)),
                     sentence("The character has", phrases.pick(MOOD), "with", phrases.pick(DETAIL)))


def prompt_text(text: str) -> Response:
    return json_response(200, {"promptText": text})


async def generate_prompt(call: Call) -> Response:
    body = call.body
    phrases = Phrases("prompt", body["model"], body["inputPrompt"])
    return prompt_text(sentence(IMAGE_STYLE[body["model"]], clause(body["inputPrompt"]) + ",",
                                phrases.pick(LIGHTING) + ",", phrases.pick(CAMERA) + ", with",
                                phrases.pick(MOOD), "and", phrases.pick(DETAIL)))


async def generate_character_builder_prompt(call: Call) -> Response:
    attributes = call.body.get("attributes", {})
    refusal = _bad_attribute(call, attributes, "attributes")
    if refusal is not None:
        return refusal
    return prompt_text(builder_text(call.body["model"], attributes, Phrases("builder", call.body)))


async def generate_update_prompt(call: Call) -> Response:
    body = call.body
    attributes = body["newRequest"].get("attributes", {})
    refusal = _bad_attribute(call, attributes, "newRequest.attributes")
    if refusal is not None:
        return refusal
    old, found = clause(body["oldRequest"]), traits(attributes)
    phrases = Phrases("update", body)
    if not old:
        return prompt_text(builder_text(body["model"], attributes, phrases))
    if not found:
        return prompt_text(sentence(old))
    if body["model"] == "RAW":
        return prompt_text(sentence(old + ",", ", ".join(found)))
    update = sentence("Updated to have", join(found) + ",", "keeping the rest of the look unchanged, in",
                      phrases.pick(LIGHTING))
    return prompt_text(sentences(sentence(old), update))


async def generate_character_prompt(call: Call) -> Response:
    body = call.body
    profile = find_profile(call.principal, body["profileId"])
    if profile is None:
        return not_found(call.request, "Profile not found")
    phrases = Phrases("character", body, profile.id)
    theme, outfit, details = (clause(body.get(key, "")) for key in ("theme", "outfit", "additionalDetails"))
    scene = [f"in {article(theme)} {theme} setting" if theme else "", f"wearing {outfit}" if outfit else "", details]
    return prompt_text(sentences(sentence(profile.name, ", ".join(part for part in scene if part)),
                                 sentence(phrases.pick(CAMERA), "in", phrases.pick(LIGHTING) + ",", "with",
                                          phrases.pick(MOOD))))


async def get_clothes_description(call: Call) -> Response:
    clothes = clothes_view(call, call.path["clothesId"])
    if clothes is None:
        return not_found(call.request, "Clothes not found")
    phrases = Phrases("clothes", clothes["clothesId"], clothes["clothesPrompt"])
    return prompt_text(sentences(sentence("An outfit of", clause(clothes["clothesPrompt"])),
                                 sentence("Made of", phrases.pick(FABRIC), "with", phrases.pick(FIT) + ",",
                                          "shown", phrases.pick(SHOWN))))


def _framing(asset: Asset) -> str:
    if asset.width == asset.height:
        return "square"
    return "portrait" if asset.height > asset.width else "landscape"


async def generate_video_prompt(call: Call) -> Response:
    body = call.body
    asset = own_media(call, body["mediaId"])
    if asset is None:
        return not_found(call.request, "Media not found")
    frames = int(body.get("frameCount", 0))  # a fraction is truncated toward zero, as the server does
    phrases = Phrases("video", body)
    script = [sentence(clause(body["userInput"])),
              sentence(phrases.pick(CAMERA_MOTION), phrases.pick(PACE), f"in {_framing(asset)} framing",
                       f"over {frames} frames" if frames > 0 else "")]
    if body["model"] in AUDIO_MODELS:
        script.append(phrases.pick(SOUND))
    return json_response(200, {"promptText": sentences(*script), "negPrompt": ", ".join(phrases.some(NEGATIVE, 6))})


def _described(call: Call, asset: Asset) -> str:
    """What the media shows: the words of the prompt that made it, else a scene drawn from its seed."""
    job = own_prompt(call, asset.job_id) if asset.job_id else None
    request = job.params.get("request", {}) if job else {}
    words = next((clause(request[key]) for key in ("prompt", "appearance", "text")
                  if isinstance(request.get(key), str) and clause(request[key])), "")
    if words and isinstance(request.get("background"), str) and clause(request["background"]):
        words += f", {clause(request['background'])} in the background"
    return words or SCENES[asset.seed % len(SCENES)]


async def generate_vision_prompt(call: Call) -> Response:
    asset = own_media(call, call.body["mediaId"])
    if asset is None:
        return not_found(call.request, "Media not found")
    phrases = Phrases("vision", asset.id, asset.seed)
    kind = "video still" if asset.media_type == MP4 else "image"
    return prompt_text(sentences(sentence(f"A {_framing(asset)} {kind} of", _described(call, asset)),
                                 sentence("Lit by", phrases.pick(LIGHTING) + ",", phrases.pick(CAMERA) + ",", "with",
                                          phrases.pick(DETAIL))))


HANDLERS: dict[str, Handler] = {
    "generateCharacterBuilderPrompt": generate_character_builder_prompt,
    "generateCharacterPrompt": generate_character_prompt,
    "getClothesDescription": get_clothes_description,
    "generatePrompt": generate_prompt,
    "generateUpdatePrompt": generate_update_prompt,
    "generateVideoPrompt": generate_video_prompt,
    "generateVisionPrompt": generate_vision_prompt,
}
