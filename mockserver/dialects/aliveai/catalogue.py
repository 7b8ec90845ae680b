"""AliveAI's catalogues: pose presets, clothes, templates (LoRAs) and character profiles, the same for everyone,
plus each user's custom poses and clothes (engine assets of the user carrying a `customPose` / `customClothes`
label) and the user's own profiles (derived from the user's id: no route creates them).

Every picture is a catalogue still served at `/media/<name>.png`. Catalogue names contain an underscore, which
no asset id (base62) does, so they never shadow a real asset. The real pose types include explicit ones; this
catalogue stays family-safe: its `PORN` container is empty and every other item is fully clothed.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from typing import Any, NamedTuple

from starlette.responses import Response

from mockserver.dialects.aliveai.errors import not_found
from mockserver.engine import Engine
from mockserver.engine.assets import PNG, Asset
from mockserver.engine.ids import BASE62
from mockserver.engine.tenants import Tenant
from mockserver.routing import Call, Handler, json_response

API = "aliveai"
MEDIA_PATH = "/media/"
CUSTOM_POSE, CUSTOM_CLOTHES = "customPose", "customClothes"
SYSTEM_OWNER = "system"
PROFILES_PAGE_SIZE = 10
PORTRAIT, SQUARE, WIDE = (384, 512), (512, 512), (512, 288)
CUSTOM_POSE_SIZE = CUSTOM_CLOTHES_SIZE = PORTRAIT


def token(text: str, length: int) -> str:
    """A stable base62 token for a catalogue id."""
    digest = hashlib.blake2b(text.encode(), digest_size=32).digest()
    return "".join(BASE62[byte % len(BASE62)] for byte in digest[:length])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


# --- the pictures -------------------------------------------------------------------------------------------

def catalogue_media(name: str) -> tuple[int, int, int] | None:
    """(width, height, seed) of the catalogue picture `name`, or None when no catalogue uses that name."""
    size = _MEDIA.get(name)
    return None if size is None else (*size, zlib.crc32(name.encode()) & 0x7FFFFFFF)


def media_url(call: Call, name: str) -> str:
    return f"{call.base_url}{MEDIA_PATH}{name}.png"


def media_view(call: Call, name: str) -> dict[str, Any]:
    """A catalogue picture as a `MediaResponse` (its id is its picture name)."""
    return {"id": name, "mediaType": "IMAGE", "mediaUrl": media_url(call, name)}


# --- poses --------------------------------------------------------------------------------------------------

# PoseType -> (the container's prompt, the presets' additional prompts)
POSE_TYPES: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "STANDING": ("standing", ("standing with weight on one leg, hands in pockets",
                              "standing tall, arms crossed, confident smile",
                              "walking towards the camera, mid-stride",
                              "leaning against a wall, one foot propped up")),
    "LYING": ("lying down", ("lying on a picnic blanket, reading a book",
                             "lying on the grass, looking up at the sky",
                             "lying on a sofa, propped up on one elbow")),
    "ALL_FOURS": ("on hands and knees", ("tabletop yoga pose on a mat",
                                         "on hands and knees planting flowers in a garden",
                                         "crawling on a rug, playing with a puppy")),
    "KNEELING": ("kneeling", ("kneeling on one knee, tying a shoelace",
                              "kneeling upright, hands resting on the thighs, calm meditation",
                              "kneeling to photograph flowers with a camera")),
    "SITTING": ("sitting", ("sitting cross-legged on the floor",
                            "sitting on a chair, legs crossed, hands on the knee",
                            "sitting on stone steps, elbows on the knees",
                            "sitting at a cafe table holding a coffee cup")),
    "SQUATTING": ("squatting", ("squatting to pet a cat",
                                "low street-style crouch, forearms on the knees",
                                "squatting by a campfire, warming the hands")),
    "SUSPENDED": ("suspended in the air", ("hanging from monkey bars with both hands",
                                           "jumping mid-air, arms raised",
                                           "swinging on a rope swing over a lake")),
    "PORN": (None, ()),
}


def _pose_id(pose_type: str, prompt: str) -> str:
    return f"{pose_type.lower()}_{token(prompt, 4)}"


def _presets() -> dict[str, dict[str, Any]]:
    """pose id -> {type, additionalPrompt, picture}"""
    ids = ((_pose_id(pose_type, prompt), pose_type, prompt)
           for pose_type, (_, prompts) in POSE_TYPES.items() for prompt in prompts)
    return {pose_id: {"type": pose_type, "additionalPrompt": prompt, "picture": f"cat_pose_{pose_id}"}
            for pose_id, pose_type, prompt in ids}


PRESET_POSES = _presets()


def _container_key(pose_type: str) -> str:
    return "poses" + "".join(part.capitalize() for part in pose_type.split("_"))


def _preset_view(call: Call, pose_id: str) -> dict[str, Any]:
    pose = PRESET_POSES[pose_id]
    return {"id": pose_id, "image": media_url(call, pose["picture"]), "additionalPrompt": pose["additionalPrompt"]}


def _container(call: Call, pose_type: str) -> dict[str, Any]:
    prompt = POSE_TYPES[pose_type][0]
    poses = [_preset_view(call, pose_id) for pose_id, pose in PRESET_POSES.items() if pose["type"] == pose_type]
    return {"type": pose_type, **({"prompt": prompt} if prompt else {}), "poses": poses}


# --- clothes ------------------------------------------------------------------------------------------------

CLOTHES_PROMPTS = (
    "red summer dress, thin straps",
    "navy blazer over a white shirt, tailored grey trousers",
    "denim jacket over a grey hoodie, black jeans, white sneakers",
    "cream cable-knit sweater, brown corduroy skirt, ankle boots",
    "yellow raincoat, rubber boots, striped scarf",
    "black tuxedo with a bow tie",
    "floral sundress with a wide straw hat",
    "green hiking jacket, cargo trousers, hiking boots",
    "emerald satin evening gown with long sleeves",
    "traditional silk kimono with an obi sash",
    "white lab coat over a blue shirt",
    "leather biker jacket, band t-shirt, dark jeans",
)
PUBLIC_CLOTHES = {  # clothes id -> {clothesPrompt, picture}
    clothes_id: {"clothesPrompt": prompt, "picture": f"cat_clothes_{clothes_id}"}
    for clothes_id, prompt in (("clo_" + token(prompt, 4), prompt) for prompt in CLOTHES_PROMPTS)
}


# --- templates (LoRAs) --------------------------------------------------------------------------------------

class Lora(NamedTuple):
    type: str  # TemplateType
    name: str
    description: str
    prompt: str
    strength: float
    models: tuple[str, ...]  # Model
    apply_to_face: bool = False

    @property
    def id(self) -> str:
        return "tpl_" + token(f"{self.type}:{self.name}", 6)

    @property
    def model_id(self) -> str:
        return str(1_000_000 + zlib.crc32(self.id.encode()) % 3_000_000)

    @property
    def picture(self) -> str:
        return f"cat_lora_{self.id}"


_IMAGE_MODELS = ("DEFAULT", "REALISM", "TEMPORARY", "CHARACTER_CREATOR")
LORAS = (
    Lora("IMAGE", "Soft film look", "Warm, grainy 35 mm film colours", "film photo, grainy, warm tones", 1,
         _IMAGE_MODELS),
    Lora("IMAGE", "Golden hour", "Low, warm sunlight with long shadows", "golden hour, warm backlight, lens flare",
         0.8, _IMAGE_MODELS),
    Lora("IMAGE", "Studio portrait", "Clean seamless backdrop and softbox light",
         "studio portrait, softbox lighting, seamless grey backdrop", 1, ("DEFAULT", "REALISM")),
    Lora("IMAGE", "Selfie", "A casual phone selfie at arm's length", "phone selfie, arm's length, candid smile",
         0.9, ("DEFAULT", "REALISM", "TEMPORARY"), True),
    Lora("IMAGE", "Social media", "Bright, polished lifestyle photo", "lifestyle photo, bright, social media post",
         0.7, _IMAGE_MODELS),
    Lora("IMAGE", "Watercolour", "Loose watercolour painting with paper texture",
         "watercolour painting, soft washes, paper texture", 1.2, ("DEFAULT", "ANIME")),
    Lora("IMAGE_EDIT_CREATIVE", "Change the season", "Turns the scene to snowy winter",
         "snowy winter scene, falling snow", 1, ("DEFAULT",)),
    Lora("IMAGE_EDIT_CREATIVE", "Comic style", "Redraws the image as a bold comic panel",
         "comic book style, bold ink lines, halftone", 1, ("DEFAULT",)),
    Lora("IMAGE_EDIT_CREATIVE", "New hairstyle", "Swaps in a different hairstyle", "short wavy bob haircut", 0.8,
         ("DEFAULT",), True),
    Lora("IMAGE_EDIT_CREATIVE", "Night city", "Moves the subject to a neon city at night",
         "neon city street at night, reflections", 1, ("DEFAULT",)),
    Lora("IMAGE_EDIT_REALISM", "Skin detail", "Natural skin texture and pores", "natural skin texture, fine detail",
         0.6, ("REALISM",), True),
    Lora("IMAGE_EDIT_REALISM", "Soft daylight", "Relights the photo with soft window light",
         "soft window light, gentle shadows", 0.8, ("REALISM",)),
    Lora("IMAGE_EDIT_REALISM", "Outdoor cafe", "Places the subject at a sunny street cafe",
         "sunny street cafe, blurred background", 1, ("REALISM",)),
    Lora("IMAGE_EDIT_REALISM", "Formal wear", "Dresses the subject in formal evening wear",
         "formal evening wear, elegant", 1, ("REALISM",)),
    Lora("VIDEO", "Spin 360", "The camera circles the subject once", "camera orbits 360 degrees around the subject",
         1, ("DEFAULT",)),
    Lora("VIDEO", "Slow zoom", "A slow push-in towards the face", "slow zoom in, steady camera", 0.8, ("DEFAULT",)),
    Lora("VIDEO", "Hair in the wind", "A breeze moves hair and clothes", "wind blowing through hair, fabric moving",
         1, ("DEFAULT",)),
    Lora("VIDEO", "Dance groove", "A relaxed, rhythmic dance", "dancing to music, rhythmic movement", 1,
         ("DEFAULT",)),
    Lora("VIDEO_AUDIO", "Talking head", "Speaks a line to the camera with lip sync",
         "talking to the camera, clear speech", 1, ("DEFAULT",), True),
    Lora("VIDEO_AUDIO", "Laughing", "A warm, natural laugh", "laughing warmly, natural sound", 0.9, ("DEFAULT",)),
    Lora("VIDEO_AUDIO", "Singing", "Sings a short melody", "singing softly, gentle melody", 1, ("DEFAULT",)),
    Lora("VIDEO_AUDIO", "Street ambience", "Busy street sounds around the subject",
         "city street ambience, distant traffic", 0.7, ("DEFAULT",)),
    Lora("ANIMA", "Ink wash", "Monochrome ink-wash manga panels", "ink wash, monochrome manga panel", 1, ("ANIMA",)),
    Lora("ANIMA", "Cel shading", "Flat colours and crisp outlines of TV anime", "cel shading, clean line art", 1,
         ("ANIMA",)),
    Lora("ANIMA", "Pastel shoujo", "Pastel palette with sparkles", "pastel colours, sparkles, soft glow", 0.8,
         ("ANIMA",)),
    Lora("ANIMA", "Chibi", "Cute super-deformed proportions", "chibi, big head, small body", 1.1, ("ANIMA",)),
)
LORAS_BY_ID = {lora.id: lora for lora in LORAS}
# the deprecated template lists: operationId -> the TemplateType each returns
TEMPLATE_LISTS = {"listTemplates": "IMAGE", "listEditTemplates": "IMAGE_EDIT_CREATIVE",
                  "listEditTemplatesRealism": "IMAGE_EDIT_REALISM", "listVideoTemplates": "VIDEO",
                  "listLtxVideoTemplates": "VIDEO_AUDIO"}


def lora_view(call: Call, lora: Lora) -> dict[str, Any]:
    return {"id": lora.id, "name": lora.name, "description": lora.description, "prompts": [lora.prompt],
            "modelId": lora.model_id, "host": "CIVIT", "templateType": lora.type, "isPublic": True,
            "strength": lora.strength, "supportedModels": list(lora.models),
            "medias": [media_view(call, lora.picture)], "public": True}


def template_view(lora: Lora) -> dict[str, Any]:
    return {"id": lora.id, "templatePrompt": lora.prompt, "name": lora.name, "description": lora.description,
            "ownerId": SYSTEM_OWNER, "strength": lora.strength, "applyToFace": lora.apply_to_face,
            "supportedModels": list(lora.models)}


# --- profiles -----------------------------------------------------------------------------------------------

class Profile(NamedTuple):
    id: str
    name: str
    description: str
    owner: str
    kind: str  # "user" | "challenge" | "character"
    score: int
    character_type: str | None  # CharacterType, for character and user profiles
    picture: str
    private: bool = False


# newest first: (name, description, kind, score, character type)
_PUBLIC_PROFILES = (
    ("Maya Lindqvist", "A botanist who sketches rare plants on mountain hikes", "character", 412, "FLUX"),
    ("Kenji Arai", "A street photographer who loves rainy Tokyo evenings", "character", 1280, "ZIMAGE"),
    ("Autumn Portrait Challenge", "Cosy knitwear and falling leaves: this month's theme", "challenge", 2210, None),
    ("Amara Okafor", "A jazz singer with a warm smile and vintage style", "character", 960, "FLUX"),
    ("Lucas Moreau", "A pastry chef in a tiny Parisian bakery", "character", 305, "ZIMAGE"),
    ("Sofia Rossi", "A marine biologist who spends summers on research boats", "character", 1875, "FLUX"),
    ("Retro Sci-Fi Challenge", "Silver jumpsuits and chrome rockets, 1960s style", "challenge", 640, None),
    ("Arjun Mehta", "A cheerful cyclist and weekend mountain guide", "character", 188, "ZIMAGE"),
    ("Elena Petrova", "A ballet teacher with a love for classic films", "character", 1502, "FLUX"),
    ("Noah Bennett", "A carpenter who builds wooden boats by the sea", "character", 77, "ZIMAGE"),
    ("Hana Kim", "A game designer with colourful streetwear", "character", 2675, "FLUX"),
    ("Winter Market Challenge", "Scarves, lanterns and hot cocoa at a snowy market", "challenge", 1033, None),
    ("Diego Alvarez", "A surf instructor with sun-bleached hair", "character", 850, "ZIMAGE"),
    ("Chloe Martin", "A librarian who collects vintage maps", "character", 233, "FLUX"),
)
_OWNERS = ("r9orK", "Xb3Tq", "m7PzL", "Qe2Wd", "t5NcY")
PUBLIC_PROFILES = tuple(
    Profile("prf_" + token(name, 8), name, description, _OWNERS[index % len(_OWNERS)], kind, score, character_type,
            f"cat_avatar_{_slug(name)}")
    for index, (name, description, kind, score, character_type) in enumerate(_PUBLIC_PROFILES)
)
PUBLIC_PROFILES_BY_ID = {profile.id: profile for profile in PUBLIC_PROFILES}
# the user's own profiles: (kind, character type, name choices, descriptions)
_OWN_PROFILES = (
    ("user", "FLUX", ("Me, city portraits", "Me, travel photos", "Me, studio shots"),
     "My own likeness, trained from my photos"),
    ("character", "ZIMAGE", ("Iris Calloway", "Theo Marsh", "Nadia Quinn", "Felix Hart"),
     "An original character for my stories"),
)
_OWN_AVATARS = tuple(f"cat_avatar_own_{index}" for index in range(1, 7))


def _choice(options: tuple[str, ...], key: str) -> str:
    return options[zlib.crc32(key.encode()) % len(options)]


def own_profiles(tenant: Tenant) -> list[Profile]:
    """The user's profiles, newest first: private, derived from the user."""
    owner = tenant.attributes.get("account", {}).get("userId", tenant.id)  # the public user id
    return [Profile("prf_" + token(f"{tenant.id}:{index}", 8), _choice(names, f"{tenant.id}:{index}:name"),
                    description, owner, kind, 0, character_type,
                    _choice(_OWN_AVATARS, f"{tenant.id}:{index}:avatar"), private=True)
            for index, (kind, character_type, names, description) in enumerate(_OWN_PROFILES)]


def find_profile(tenant: Tenant, profile_id: str) -> Profile | None:
    """A profile the user may use: a public one or one of the user's own."""
    found = PUBLIC_PROFILES_BY_ID.get(profile_id)
    return found or next((profile for profile in own_profiles(tenant) if profile.id == profile_id), None)


def profile_view(call: Call, profile: Profile) -> dict[str, Any]:
    view = {"id": profile.id, "name": profile.name, "description": profile.description,
            "slug": f"{_slug(profile.name).replace('_', '-')}-{profile.id[-4:].lower()}",
            "avatar": media_view(call, profile.picture), "ownerId": profile.owner,
            "privacy": "PRIVATE" if profile.private else "PUBLIC", "score": profile.score,
            "userProfile": profile.kind == "user", "challengeProfile": profile.kind == "challenge",
            "characterProfile": profile.kind == "character"}
    return view | ({"characterType": profile.character_type} if profile.character_type else {})


# every catalogue picture and its size (all at most 512 px on the long side: cheap to render)
_MEDIA: dict[str, tuple[int, int]] = {
    **{pose["picture"]: PORTRAIT for pose in PRESET_POSES.values()},
    **{item["picture"]: PORTRAIT for item in PUBLIC_CLOTHES.values()},
    **{lora.picture: WIDE if lora.type.startswith("VIDEO") else PORTRAIT for lora in LORAS},
    **{profile.picture: SQUARE for profile in PUBLIC_PROFILES},
    **{name: SQUARE for name in _OWN_AVATARS},
}


# --- custom poses and clothes -------------------------------------------------------------------------------

_SEED_POSES = ("waving at the camera with a bright smile", "arms folded, leaning on a railing")
_SEED_CLOTHES = ("olive bomber jacket, white t-shirt, beige chinos", "lilac knitted cardigan, pleated midi skirt")


def add_custom_pose(engine: Engine, tenant_id: str, additional_prompt: str | None = None) -> Asset:
    label = {"additionalPrompt": additional_prompt} if additional_prompt else {}
    return engine.assets.create(API, tenant_id, PNG, *CUSTOM_POSE_SIZE, labels={CUSTOM_POSE: label}, id_length=6)


def add_custom_clothes(engine: Engine, tenant_id: str, clothes_prompt: str) -> Asset:
    return engine.assets.create(API, tenant_id, PNG, *CUSTOM_CLOTHES_SIZE,
                                labels={CUSTOM_CLOTHES: {"clothesPrompt": clothes_prompt}}, id_length=6)


def seed_custom_items(engine: Engine, tenant_id: str) -> None:
    """A new user's two custom poses and two custom clothes."""
    for prompt in _SEED_POSES:
        add_custom_pose(engine, tenant_id, prompt)
    for prompt in _SEED_CLOTHES:
        add_custom_clothes(engine, tenant_id, prompt)


def own_labelled(call: Call, asset_id: str, label: str) -> Asset | None:
    """The user's asset `asset_id` if it carries `label` (another user's is as absent as a missing one)."""
    asset = call.context.engine.assets.get(asset_id)
    if asset is None or asset.api != API or asset.tenant_id != call.principal.id or label not in asset.labels:
        return None
    return asset


def _asset_url(call: Call, asset: Asset) -> str:
    return f"{call.base_url}{MEDIA_PATH}{asset.id}.png"


def custom_pose_view(call: Call, asset: Asset) -> dict[str, Any]:
    prompt = asset.labels[CUSTOM_POSE].get("additionalPrompt")
    return {"id": asset.id, "image": _asset_url(call, asset), **({"additionalPrompt": prompt} if prompt else {})}


def clothes_view(call: Call, clothes_id: str) -> dict[str, Any] | None:
    """A public clothes item or one of the user's custom clothes, as a `ClothesResponse`; None if neither."""
    public = PUBLIC_CLOTHES.get(clothes_id)
    if public is not None:
        return {"clothesId": clothes_id, "clothesPrompt": public["clothesPrompt"],
                "clothesImageUrl": media_url(call, public["picture"])}
    asset = own_labelled(call, clothes_id, CUSTOM_CLOTHES)
    if asset is None:
        return None
    return {"clothesId": asset.id, "clothesPrompt": asset.labels[CUSTOM_CLOTHES]["clothesPrompt"],
            "clothesImageUrl": _asset_url(call, asset)}


# --- handlers -----------------------------------------------------------------------------------------------

async def list_poses(call: Call) -> Response:
    return json_response(200, {_container_key(pose_type): _container(call, pose_type) for pose_type in POSE_TYPES})


async def list_custom_poses(call: Call) -> Response:
    assets = call.context.engine.assets.labelled(call.principal.id, CUSTOM_POSE)
    return json_response(200, [custom_pose_view(call, asset) for asset in assets if asset.api == API])


async def get_custom_pose(call: Call) -> Response:
    asset = own_labelled(call, call.path["poseId"], CUSTOM_POSE)
    return json_response(200, custom_pose_view(call, asset)) if asset else not_found(call.request, "Pose not found")


async def delete_custom_pose(call: Call) -> Response:
    return _delete(call, call.path["poseId"], CUSTOM_POSE, "Pose not found")


async def list_clothes(call: Call) -> Response:
    return json_response(200, [clothes_view(call, clothes_id) for clothes_id in PUBLIC_CLOTHES])


async def list_custom_clothes(call: Call) -> Response:
    assets = call.context.engine.assets.labelled(call.principal.id, CUSTOM_CLOTHES)
    return json_response(200, [clothes_view(call, asset.id) for asset in assets if asset.api == API])


async def get_custom_clothes(call: Call) -> Response:
    asset = own_labelled(call, call.path["clothesId"], CUSTOM_CLOTHES)
    if asset is None:
        return not_found(call.request, "Clothes not found")
    return json_response(200, clothes_view(call, asset.id))


async def delete_custom_clothes(call: Call) -> Response:
    return _delete(call, call.path["clothesId"], CUSTOM_CLOTHES, "Clothes not found")


def _delete(call: Call, asset_id: str, label: str, missing: str) -> Response:
    asset = own_labelled(call, asset_id, label)
    if asset is None:
        return not_found(call.request, missing)
    call.context.engine.assets.delete(asset.id)
    return Response(status_code=204)


def _template_list(template_type: str) -> Handler:
    async def list_templates(call: Call) -> Response:
        return json_response(200, [template_view(lora) for lora in LORAS if lora.type == template_type])
    return list_templates


async def list_loras_by_type(call: Call) -> Response:
    template_type = call.path["templateType"]
    return json_response(200, [lora_view(call, lora) for lora in LORAS if lora.type == template_type])


async def get_lora(call: Call) -> Response:
    lora = LORAS_BY_ID.get(call.path["templateId"])
    return json_response(200, lora_view(call, lora)) if lora else not_found(call.request, "Template not found")


async def list_profiles(call: Call) -> Response:
    """`public=true`: the public profiles and the user's own; else the user's own. `NEW` lists the user's own
    (the newest) first, then the catalogue in its order; `TOP` by score, highest first."""
    profiles = own_profiles(call.principal) + (list(PUBLIC_PROFILES) if call.query.get("public") else [])
    if call.query.get("sort") == "TOP":
        profiles.sort(key=lambda profile: -profile.score)  # stable: ties keep the NEW order
    start = call.query["page"] * PROFILES_PAGE_SIZE
    page = profiles[start:start + PROFILES_PAGE_SIZE]
    return json_response(200, {"profiles": [profile_view(call, profile) for profile in page],
                               "hasNextPage": start + PROFILES_PAGE_SIZE < len(profiles)})


HANDLERS: dict[str, Handler] = {
    "listPoses": list_poses,
    "listCustomPoses": list_custom_poses,
    "getCustomPose": get_custom_pose,
    "deleteCustomPose": delete_custom_pose,
    "listClothes": list_clothes,
    "listCustomClothes": list_custom_clothes,
    "getCustomClothes": get_custom_clothes,
    "deleteCustomClothes": delete_custom_clothes,
    **{operation_id: _template_list(template_type) for operation_id, template_type in TEMPLATE_LISTS.items()},
    "listLorasByType": list_loras_by_type,
    "getLora": get_lora,
    "listProfiles": list_profiles,
}
