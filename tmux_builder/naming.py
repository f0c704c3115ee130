"""Every name and tag the system gives to a user, a session or a cloud resource.

One module owns naming so that the control plane, the agent, teardown and the IAM policy
templates agree: a user's resources are all ``tmux-{prefix}-*`` where ``prefix`` is the first
12 characters of the random ``user_id``.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import UTC, datetime

USER_ID_RE = re.compile(r"^[0-9a-f]{32}$")
SESSION_ID_RE = re.compile(r"^sess_[0-9]{8}T[0-9]{6}_[0-9a-f]{6}$")
EXECUTION_ID_RE = re.compile(r"^[0-9a-f]{12}_sess_[0-9]{8}T[0-9]{6}_[0-9a-f]{6}(_r[0-9]{1,4})?$")
PREFIX_LEN = 12
SLUG_MAX = 24

TAG_PROJECT = "tmux-builder"
TAG_CREATED_BY = "tmux-builder-automation"

# Words that say nothing about what a site is; left out of its slug.
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "for",
        "of",
        "with",
        "to",
        "in",
        "on",
        "at",
        "by",
        "my",
        "our",
        "your",
        "me",
        "i",
        "we",
        "is",
        "be",
        "site",
        "website",
        "web",
        "page",
        "build",
        "create",
        "make",
        "please",
        "want",
        "need",
        "named",
        "called",
        "dark",
        "light",
        "theme",
        "modern",
        "simple",
        "new",
        "clean",
        "nice",
        "beautiful",
        "responsive",
    ]
)


def new_user_id() -> str:
    """A random 128-bit id, never derived from e-mail or phone."""
    return secrets.token_hex(16)


def user_prefix(user_id: str) -> str:
    """First 12 characters of the user id; names every cloud resource of that user."""
    if not USER_ID_RE.match(user_id):
        raise ValueError(f"not a user id: {user_id!r}")
    return user_id[:PREFIX_LEN]


def new_session_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    return f"sess_{stamp}_{secrets.token_hex(3)}"


def execution_id(user_id: str, session_id: str, redeploy: int = 0) -> str:
    """Step Functions execution name: the user's prefix and the session, ``_rN`` for redeploys."""
    if not SESSION_ID_RE.match(session_id):
        raise ValueError(f"not a session id: {session_id!r}")
    base = f"{user_prefix(user_id)}_{session_id}"
    return f"{base}_r{redeploy}" if redeploy else base


def session_short(session_id: str) -> str:
    """The random tail of a session id: keeps two sites of one user apart."""
    return session_id.rsplit("_", 1)[-1]


def slugify(text: str, max_len: int = SLUG_MAX) -> str:
    """Lowercase ASCII words joined by '-', without filler words; 'site' when nothing is left."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = [w for w in re.findall(r"[a-z0-9]+", ascii_text.lower()) if w not in _STOP_WORDS]
    slug = ""
    for word in words:
        candidate = f"{slug}-{word}" if slug else word
        if len(candidate) > max_len:
            break
        slug = candidate
    return slug or "site"


def site_slug(requirements: str, session_id: str) -> str:
    """``{words}-{session_short}``: readable, and unique per site of a user."""
    return f"{slugify(requirements, max_len=16)}-{session_short(session_id)}"


def resource_name(user_id: str, slug: str) -> str:
    """``tmux-{prefix}-{slug}``: valid as an S3 bucket name (3-63 chars, lowercase, '-')."""
    name = f"tmux-{user_prefix(user_id)}-{slug}"
    if len(name) > 63 or not re.match(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$", name):
        raise ValueError(f"invalid resource name: {name!r}")
    return name


# Azure storage account names are 3-24 lowercase letters and digits, unique across Azure. A
# site's name packs the user's prefix and its whole session id (creation second and random
# tail, in base 36) into 24 characters: a one-to-one mapping, so any number of sites per user
# per day get distinct names, and a redeploy of the same session finds the same account.
AZURE_STORAGE_ACCOUNT_RE = re.compile(r"^[a-z0-9]{3,24}$")
# Blob container names: 3-63 lowercase letters, digits and single hyphens, no leading hyphen.
AZURE_CONTAINER_RE = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$")
_AZURE_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_ACCOUNT_STAMP_LEN = 6  # seconds since 2020 in base 36: until late 2088
_ACCOUNT_TAIL_LEN = 5  # the session's 24 random bits in base 36


def _base36(number: int, width: int) -> str:
    digits, rest = "", number
    while rest:
        rest, digit = divmod(rest, 36)
        digits = _BASE36[digit] + digits
    if len(digits) > width:
        raise ValueError(f"{number} does not fit in {width} base-36 digits")
    return digits.rjust(width, "0")


def azure_storage_account_name(user_id: str, session_id: str) -> str:
    """``t{prefix}{created}{tail}``: the site's own storage account, 24 characters.

    Deterministic per (user, session) and distinct for every session of every user.
    """
    if not SESSION_ID_RE.match(session_id):
        raise ValueError(f"not a session id: {session_id!r}")
    stamp = datetime.strptime(session_id[5:20], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    seconds = int((stamp - _AZURE_EPOCH).total_seconds())
    if seconds < 0:
        raise ValueError(f"session {session_id!r} predates {_AZURE_EPOCH.year}")
    name = (
        f"t{user_prefix(user_id)}"
        f"{_base36(seconds, _ACCOUNT_STAMP_LEN)}"
        f"{_base36(int(session_short(session_id), 16), _ACCOUNT_TAIL_LEN)}"
    )
    if not AZURE_STORAGE_ACCOUNT_RE.match(name):  # pragma: no cover - guarded by the widths
        raise ValueError(f"invalid storage account name: {name!r}")
    return name


def azure_resource_group_name(resource_name: str) -> str:
    """One resource group per site, named like the site's other resources (teardown: one delete)."""
    if not re.match(r"^tmux-[0-9a-f]{12}-[a-z0-9-]+$", resource_name) or len(resource_name) > 90:
        raise ValueError(f"not a site resource name: {resource_name!r}")
    return resource_name


def azure_container_name(resource_name: str) -> str:
    """A site's blob container where one account holds many sites (Azurite's single account)."""
    if not AZURE_CONTAINER_RE.match(resource_name):
        raise ValueError(f"invalid blob container name: {resource_name!r}")
    return resource_name


def resource_tags(user_id: str, session_id: str, site_type: str) -> dict[str, str]:
    """The tags every cloud resource carries."""
    return {
        "Project": TAG_PROJECT,
        "UserGUID": user_id,
        "SessionID": session_id,
        "SiteType": site_type,
        "CreatedBy": TAG_CREATED_BY,
    }


IDENTITY_ROLE_PREFIX = "tmux-user-"
IDENTITY_POLICY_PREFIX = "tmux-policy-"


def identity_role_name(user_id: str) -> str:
    """The user's own IAM role, ``tmux-user-{prefix}``: the agent deploys as it."""
    return f"{IDENTITY_ROLE_PREFIX}{user_prefix(user_id)}"


def identity_policy_name(user_id: str) -> str:
    """The role's inline policy, ``tmux-policy-{prefix}``."""
    return f"{IDENTITY_POLICY_PREFIX}{user_prefix(user_id)}"


def tmux_session_name(user_id: str) -> str:
    if not USER_ID_RE.match(user_id):
        raise ValueError(f"not a user id: {user_id!r}")
    return f"tmux_builder_{user_id}"


def email_digest(email: str) -> str:
    """Key for finding a user by e-mail without storing the address in a key."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def mask_email(email: str) -> str:
    """``a***@example.com``: what logs may show of an address."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


class ArtifactKeys:
    """Keys in the artifacts bucket for one build. Payloads carry these, never the content."""

    def __init__(self, user_id: str, session_id: str, execution_id: str) -> None:
        self.base = f"users/{user_id}/sessions/{session_id}"
        self.exec_base = f"{self.base}/executions/{execution_id}"

    @property
    def requirements(self) -> str:
        return f"{self.base}/requirements.md"

    @property
    def plan(self) -> str:
        return f"{self.exec_base}/plan.md"

    @property
    def code_snapshot(self) -> str:
        return f"{self.exec_base}/code.tar.gz"

    def screenshot(self, viewport: str = "desktop") -> str:
        return f"{self.exec_base}/screenshot-{viewport}.png"

    @property
    def e2e_report(self) -> str:
        return f"{self.exec_base}/e2e-report.xml"

    @property
    def e2e_tests(self) -> str:
        return f"{self.exec_base}/e2e-tests.tar.gz"

    def summary(self, step: str) -> str:
        return f"{self.exec_base}/summary-{step}.md"
