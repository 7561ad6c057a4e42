"""One typed Settings object for the menpai processes (web, CLI).

Every setting is read from the environment with the prefix ``MENPAI_`` (or a
``.env`` file) and documented in README.md's settings table; a test keeps the
two in step. Secrets have no usable default: where one is missing in
production the process refuses to start.
"""

from __future__ import annotations

import enum
import os
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRETS = {
    "",
    "changethis",
    "change-me",
    "changeme",
    "secret",
    "password",
    "token",
    "test",
    "demo",
    "wechat",
    "menpai",
    "fake",
    "mytoken",
    "your-token",
}


class Environment(enum.StrEnum):
    LOCAL = "local"
    TEST = "test"
    PRODUCTION = "production"


class FaissKind(enum.StrEnum):
    FLAT = "flat"
    HNSW = "hnsw"


RATE = r"^[1-9]\d*/[1-9]\d*$"  # a rate limit: COUNT/SECONDS
RATE_DEFAULTS = {
    "chat_per_session": "30/60",
    "chat_per_ip": "120/60",
    "ask_per_ip": "60/60",
    "leave_message_per_session": "3/3600",
    "leave_message_per_ip": "10/3600",
    "rating_per_session": "10/3600",
    "rating_per_ip": "30/3600",
    "agency_per_ip": "5/3600",
    "agency_status_per_ip": "30/600",
    "report_per_ip": "5/600",
    "booking_per_ip": "10/3600",
    "upload_per_ip": "60/3600",
}

DOMAIN_EMBEDDER = "domain"  # static embeddings over the guides' tokens, trained at build (seconds)
DOMAIN_MINILM = "domain-minilm"  # the packaged MiniLM fine-tuned on the guides (minutes)


class Settings(BaseSettings):
    """Settings of a menpai process. Field descriptions are the documentation."""

    model_config = SettingsConfigDict(env_prefix="MENPAI_", env_file=".env", extra="ignore")

    environment: Environment = Field(Environment.LOCAL, description="local, test or production")
    guides_path: Path = Field(
        REPO_ROOT / "guides", description="folder with items/, halls.yaml, plates.csv, aliases.yaml"
    )
    catalogue_path: Path | None = Field(None, description="catalogue of item codes; default guides/catalogue.yaml")
    var_path: Path = Field(REPO_ROOT / "var", description="generated files: index, databases, trained models")
    embedder: str = Field(
        DOMAIN_EMBEDDER,
        description="'domain' (static embeddings trained from the guides at build, seconds), 'domain-minilm' "
        "(fine-tune the packaged MiniLM on the guides, minutes) "
        "or a sentence-transformers hub name or local path, e.g. /models/bge-small-zh-v1.5",
    )
    base_model: str = Field("", description="model the domain embedder starts from; default: packaged all-MiniLM-L6-v2")
    domain_epochs: int | None = Field(
        None, ge=1, le=50, description="training epochs of the domain embedder (default 8 static, 4 MiniLM)"
    )
    faiss_index: FaissKind = Field(FaissKind.FLAT, description="flat (exact inner product) or hnsw (large corpora)")
    index_auto_rebuild: bool = Field(False, description="rebuild a stale index at start instead of refusing it")
    abstain_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="a floor on the calibrated confidence: below it the assistant abstains; default: the "
        "threshold chosen with the calibration on our own folds (guides/confidence.json, `menpai eval-cv`), "
        "never on the public dev set",
    )
    dense_required: bool = Field(
        False, description="fail loudly when the dense model cannot load (tests), instead of lexical-only"
    )
    database_url: str = Field("", description="SQLAlchemy URL; default sqlite:///var/menpai.db")
    rasa_url: str = Field("http://127.0.0.1:5005", description="Rasa server (REST channel on loopback)")
    rasa_timeout: float = Field(
        1.5, gt=0, le=10, description="seconds to wait for Rasa before answering from retrieval alone"
    )
    rasa_required: bool = Field(False, description="fail instead of falling back when Rasa is down (tests)")
    host: str = Field("127.0.0.1", description="web listen address")
    port: int = Field(8000, ge=1, le=65535, description="web listen port")
    instance_name: str = Field(
        "",
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]*$",
        description="this web copy's name, sent as X-Served-By on every response; empty = none",
    )
    access_log: bool = Field(False, description="log every HTTP request (off: a proxy in front usually logs them)")
    public_base_url: str = Field("http://127.0.0.1:8000", description="URL base printed in door-plate QR codes")
    official_domain: str = Field("menpai.nanan.gov.cn", description="official domain shown on pages as a trust cue")
    issuing_body: str = Field(
        "南安市数据管理局（示例）", description="body that issues the door plates, shown on every plate page"
    )
    video_help_url: str = Field("", description="视频办 link where the county provides video help; empty hides it")
    upload_retention_days: int = Field(
        7,
        ge=1,
        le=90,
        description="days a resident's photo (a WeChat image to staff, a pre-check material) is kept, then deleted",
    )
    upload_max_bytes: int = Field(
        5_000_000, ge=100_000, le=20_000_000, description="largest photo a resident may upload (bytes)"
    )
    secret_key: SecretStr | None = Field(None, description="signs sessions and CSRF tokens; required in production")
    staff_idle_minutes: int = Field(
        30, ge=1, le=720, description="a staff session ends after this many minutes without a request (12 h at most)"
    )
    staff_hours: str = Field(
        "08:00-18:00",
        pattern=r"^(always|\d\d:\d\d-\d\d:\d\d)$",
        description="HH:MM-HH:MM (Mon-Fri, China time) when help-desk staff answer chats, or 'always' (7x24)",
    )
    first_response_seconds: int = Field(
        60, ge=5, le=3600, description="target wait from the queue to a person taking the chat (first-response clock)"
    )
    agent_max_chats: int = Field(
        3, ge=1, le=50, description="chats an online agent is offered or holds at once, unless set for the agent"
    )
    rating_followup_days: int = Field(
        5, ge=1, le=30, description="working days to close the rectification of a bad rating (好差评 整改)"
    )
    workorder_taxonomy: Path | None = Field(
        None, description="12345 work-order types (working days each) and categories; default guides/workorders.yaml"
    )
    guide_refresh_seconds: float = Field(
        15.0,
        gt=0,
        le=60,
        description="how often each web copy looks in the database for newly published guide versions",
    )
    hotline_webhook_url: str = Field("", description="external 12345 platform webhook for work orders; empty = off")
    hotline_webhook_secret: SecretStr | None = Field(None, description="HMAC-SHA256 secret for that webhook")
    wechat_token: SecretStr | None = Field(None, description="WeChat server-config Token; unset = /wechat is off")
    wechat_aes_key: SecretStr | None = Field(
        None, description="WeChat EncodingAESKey (43 chars) for compatible/safe mode"
    )
    wechat_appid: str = Field("", description="WeChat official account AppID")
    wechat_secret: SecretStr | None = Field(None, description="WeChat AppSecret, for the access_token")
    wechat_api_base: str = Field(
        "https://api.weixin.qq.com", description="WeChat API base; 'fake' uses the built-in local fake (demo, tests)"
    )
    wechat_passive_seconds: float = Field(
        4.0, gt=0, lt=5, description="answer passively when the bot is this fast; else reply success and send later"
    )
    wechat_max_skew_seconds: int = Field(
        300,
        ge=30,
        le=3600,
        description="refuse a WeChat request whose timestamp is further than this from now, "
        "or whose nonce was already seen within it (replays)",
    )

    # ---- reliability (issue 14): database timeouts, outboxes, retention, bounds
    db_connect_timeout: float = Field(
        5.0, gt=0, le=60, description="seconds to wait for a database connection (also for a free pooled one)"
    )
    db_statement_timeout: float = Field(
        10.0,
        gt=0,
        le=300,
        description="seconds one SQL statement (or a wait for a lock) may take before it is cancelled: the "
        "request gets a 503 instead of hanging",
    )
    hotline_webhook_max_attempts: int = Field(
        12,
        ge=1,
        le=1000,
        description="tries of one 12345 webhook delivery (backoff doubling from 2 s, capped at 10 min) before it "
        "is a dead letter, shown on /healthz and to supervisors, who can send it again",
    )
    rasa_tracker_url: str = Field(
        "",
        description="the Rasa tracker store's database (the variable bot/serve.py reads); web purges old "
        "trackers and an unsubscribed resident's there. Default sqlite:///var/bot/tracker.db",
    )
    retention_conversation_days: int = Field(
        180, ge=1, le=3650, description="days a conversation and its messages are kept after its last message"
    )
    retention_tracker_days: int = Field(
        180, ge=1, le=3650, description="days Rasa's tracker events are kept (by their time)"
    )
    retention_analytics_days: int = Field(
        90,
        ge=1,
        le=3650,
        description="days an analytics event keeps its detail (the question's words); then only the count stays",
    )
    purge_interval_minutes: int = Field(
        60, ge=1, le=1440, description="how often web purges what is past its retention (each copy; idempotent)"
    )
    chat_max_messages: int = Field(
        400,
        ge=10,
        le=10000,
        description="resident messages one conversation may hold; beyond it the chat is refused with a "
        "clear message that offers a person",
    )
    max_long_polls: int = Field(
        1000,
        ge=1,
        le=100000,
        description="long polls one web copy holds at once; beyond it 503 with Retry-After",
    )

    trusted_proxies: str = Field(
        "",
        description="comma-separated addresses or networks of reverse proxies whose X-Forwarded-For is "
        "believed for the client IP (rate limits); empty = the socket peer is the client",
    )
    rate_chat_per_session: str = Field(
        RATE_DEFAULTS["chat_per_session"], pattern=RATE, description="chat messages per chat session (COUNT/SECONDS)"
    )
    rate_chat_per_ip: str = Field(
        RATE_DEFAULTS["chat_per_ip"],
        pattern=RATE,
        description="chat messages per client IP (/api/chat and the plate page's form)",
    )
    rate_ask_per_ip: str = Field(
        RATE_DEFAULTS["ask_per_ip"], pattern=RATE, description="/api/ask questions per client IP"
    )
    rate_leave_message_per_session: str = Field(
        RATE_DEFAULTS["leave_message_per_session"],
        pattern=RATE,
        description="callback messages (a ticket, a 12345 work order, a webhook call) per chat",
    )
    rate_leave_message_per_ip: str = Field(
        RATE_DEFAULTS["leave_message_per_ip"], pattern=RATE, description="callback messages per client IP"
    )
    rate_rating_per_session: str = Field(
        RATE_DEFAULTS["rating_per_session"], pattern=RATE, description="ratings (好差评) per chat"
    )
    rate_rating_per_ip: str = Field(RATE_DEFAULTS["rating_per_ip"], pattern=RATE, description="ratings per client IP")
    rate_agency_per_ip: str = Field(
        RATE_DEFAULTS["agency_per_ip"], pattern=RATE, description="帮办 requests per client IP (/api/agency, /bang)"
    )
    rate_agency_status_per_ip: str = Field(
        RATE_DEFAULTS["agency_status_per_ip"],
        pattern=RATE,
        description="帮办 status look-ups per client IP (/api/agency/{code}, /bang/status)",
    )
    rate_report_per_ip: str = Field(
        RATE_DEFAULTS["report_per_ip"], pattern=RATE, description="residents' error reports per client IP"
    )
    rate_booking_per_ip: str = Field(
        RATE_DEFAULTS["booking_per_ip"], pattern=RATE, description="appointments booked or cancelled per client IP"
    )
    rate_upload_per_ip: str = Field(
        RATE_DEFAULTS["upload_per_ip"], pattern=RATE, description="pre-check photos uploaded per client IP"
    )

    @model_validator(mode="after")
    def _secrets_in_production(self) -> Settings:
        if self.environment is not Environment.PRODUCTION:
            return self
        value = self.secret_key.get_secret_value() if self.secret_key else ""
        if _placeholder(self.secret_key) or len(value) < 32:
            raise ValueError("MENPAI_SECRET_KEY must be set to a random value of 32+ characters in production")
        if self.hotline_webhook_url and _placeholder(self.hotline_webhook_secret):
            raise ValueError(
                "MENPAI_HOTLINE_WEBHOOK_SECRET must be set when MENPAI_HOTLINE_WEBHOOK_URL is, in production"
            )
        if self.wechat_token is not None:
            for name, secret in (
                ("MENPAI_WECHAT_TOKEN", self.wechat_token),
                ("MENPAI_WECHAT_SECRET", self.wechat_secret),
            ):
                if _placeholder(secret):
                    raise ValueError(f"{name} is missing or a placeholder; production needs the real value")
            if self.wechat_aes_key is not None and _placeholder(self.wechat_aes_key):
                raise ValueError("MENPAI_WECHAT_AES_KEY is a placeholder; production needs the real value")
        if self.wechat_api_base == "fake":
            raise ValueError("MENPAI_WECHAT_API_BASE=fake (the built-in fake WeChat API) is not allowed in production")
        return self

    @property
    def catalogue(self) -> Path:
        return self.catalogue_path or self.guides_path / "catalogue.yaml"

    @property
    def workorder_taxonomy_path(self) -> Path:
        return self.workorder_taxonomy or self.guides_path / "workorders.yaml"

    @property
    def index_path(self) -> Path:
        return self.var_path / "index"

    @property
    def tracker_url(self) -> str:
        return self.rasa_tracker_url or f"sqlite:///{self.var_path / 'bot' / 'tracker.db'}"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_path / 'menpai.db'}"

    def secret(self) -> str:
        """The signing secret; outside production a random one is kept under var/."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.var_path / "secret_key"
        if not path.exists():
            write_private(path, secrets.token_urlsafe(48))
        return path.read_text(encoding="utf-8").strip()


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, from the first byte (created 0600, not chmod-ed after)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode otherwise
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _placeholder(secret: SecretStr | None) -> bool:
    """Unset, empty or one of the well-known placeholders (any case)."""
    return secret is None or secret.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS


@lru_cache
def get_settings() -> Settings:
    return Settings()
