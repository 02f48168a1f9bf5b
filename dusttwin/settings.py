"""The one settings class (env prefix ``DUSTTWIN_``, optional ``.env``), read once at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

TimescaleMode = Literal["auto", "require", "off"]


class Settings(BaseSettings):
    """Everything a dusttwin process needs to know about its surroundings.

    Built once by the CLI (``Settings()``) and passed down; no module reads the environment itself.
    Every default points at loopback: the embedded default runs with no cloud and no outside host.
    """

    model_config = SettingsConfigDict(
        env_prefix="DUSTTWIN_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: SecretStr = Field(
        default=SecretStr("postgresql://dusttwin@127.0.0.1:5432/dusttwin"),
        description="PostgreSQL DSN (libpq URI). 数据库连接串.",
    )
    timescaledb: TimescaleMode = Field(
        default="auto",
        description=(
            "Use the TimescaleDB extension: auto (when installed and preloaded), require (fail "
            "without it) or off (plain PostgreSQL partitions). 时序库模式."
        ),
    )
    redis_url: SecretStr = Field(default=SecretStr("redis://127.0.0.1:6379/0"))
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_username: str = "dusttwin-admin"
    mqtt_password: SecretStr = SecretStr("")
    mqtt_tls: bool = False
    mqtt_ca_file: Path | None = None
    mqtt_client_id_prefix: str = "dusttwin"
    mqtt_share_group: str = Field(default="dusttwin", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    connector_id: str = Field(
        default="1",
        pattern=r"^[A-Za-z0-9_-]{1,32}$",
        description=(
            "This connector's name: its MQTT session is kept under it, so a restarted connector "
            "gets what the broker held. Give each of several connectors its own. 接入服务编号."
        ),
    )
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    dash_host: str = "127.0.0.1"
    dash_port: int = Field(default=8050, ge=1, le=65535)
    secret_key: SecretStr = SecretStr("")
    data_dir: Path = Path("var")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Retention of time series [DEFAULT]: raw readings half a year, minute rollups two years,
    # hourly rollups ten years. Regulators look at a year of trends from the hourly rollup.
    retention_raw_days: int = Field(default=180, ge=1)
    retention_1m_days: int = Field(default=730, ge=1)
    retention_1h_days: int = Field(default=3650, ge=1)
    adapters_file: Path | None = Field(
        default=None,
        description=(
            "TOML file of the inbound adapters' ids and keys (Hebei V1.1, MEM/Tianjin; protocol "
            "§9, deploy/local/adapters.example.toml); none: the adapters accept nobody. "
            "省级平台接入配置."
        ),
    )
    risk_model_file: Path | None = Field(
        default=None,
        description=(
            "The risk model in force (a copy of risk/model.toml a province edited); none: the "
            "shipped default. A file that fails its checks is refused with the reason and the "
            "model in force stays (docs/risk-model.md). 风险研判模型文件."
        ),
    )
    # Photos (cleaning check-ins, later alarm feedback): docs/workflows.md. 照片存储.
    photo_store: Literal["local", "s3"] = Field(
        default="local",
        description=(
            "Where photos are kept: local ({data_dir}/photos) or s3 (an S3-compatible server, "
            "path-style: MinIO, SeaweedFS). 照片存储方式."
        ),
    )
    photo_max_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, description="[DEFAULT] 5 MB per photo. 单张照片上限."
    )
    s3_endpoint: str = Field(default="http://127.0.0.1:9000", pattern=r"^https?://[^/\s]+/?$")
    s3_bucket: str = Field(default="dusttwin-photos", pattern=r"^[a-z0-9][a-z0-9.-]{2,62}$")
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_region: str = "us-east-1"

    # Maintenance filings (检修/停产报备) [DEFAULT]: the longest window, how far a window may start
    # before it is filed, and whether a filing is in force when filed (a regulator may reject it).
    filing_max_days: int = Field(default=30, ge=1, le=366)
    filing_start_grace_minutes: int = Field(default=10, ge=0, le=1440)
    filing_auto_approve: bool = True
    # [DEFAULT] how long a signed live/playback video URL handed to a browser works
    video_url_ttl_s: int = Field(default=300, ge=10, le=86400)

    @property
    def api_url(self) -> str:
        """The API's base URL as a browser on this machine reaches it."""
        return f"http://{self.api_host}:{self.api_port}"

    @property
    def dash_url(self) -> str:
        """The Dash app's base URL as a browser on this machine reaches it."""
        return f"http://{self.dash_host}:{self.dash_port}"
