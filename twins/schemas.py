"""The registry's data: what an enterprise, system, gateway, point and camera record holds.

These are the attributes of the twins (``XCreate`` what a caller sends, ``XUpdate`` what it may
change, ``XPublic`` what it reads back). Field descriptions are Chinese first, then English.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator

from twins.identifiers import LOCAL_ID_RE, POINT_CODE_RE, is_valid_credit_code
from twins.model import GB28181_RE

DustType = Literal[
    "aluminium",
    "magnesium",
    "zinc",
    "iron",
    "titanium",
    "other_metal",
    "wood",
    "flour",
    "starch",
    "sugar",
    "feed",
    "cotton_linen",
    "chemical_fibre",
    "rubber",
    "plastic",
    "coal",
    "sulphur",
    "other",
]
# Metal and wood dust, with ≥ 30 dust-exposed workers: the national must-connect scope [SEED].
METAL_DUSTS = frozenset({"aluminium", "magnesium", "zinc", "iron", "titanium", "other_metal"})
WOOD_DUSTS = frozenset({"wood"})
KEY_ENTERPRISE_WORKERS = 30

DUST_TYPE_NAMES: dict[str, str] = {
    "aluminium": "铝",
    "magnesium": "镁",
    "zinc": "锌",
    "iron": "铁",
    "titanium": "钛",
    "other_metal": "其他金属",
    "wood": "木",
    "flour": "面粉",
    "starch": "淀粉",
    "sugar": "糖",
    "feed": "饲料",
    "cotton_linen": "棉麻",
    "chemical_fibre": "化纤",
    "rubber": "橡胶",
    "plastic": "塑料",
    "coal": "煤粉",
    "sulphur": "硫磺",
    "other": "其他",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _d(zh: str, en: str) -> str:
    return f"{zh} / {en}"


class Contact(_Strict):
    """A person to call."""

    name: str = Field(min_length=1, max_length=50, description=_d("姓名", "Name"))
    phone: str | None = Field(
        default=None, pattern=r"^[0-9+\- ]{5,20}$", description=_d("电话", "Phone")
    )


class Location(_Strict):
    """Where an enterprise is (WGS-84 / GCJ-02 as the province's map uses)."""

    lon: float = Field(ge=73.0, le=136.0, description=_d("经度", "Longitude"))
    lat: float = Field(ge=3.0, le=54.0, description=_d("纬度", "Latitude"))


class ExplosionCharacteristics(_Strict):
    """The dust's explosion characteristics (爆炸特性)."""

    mec_g_m3: float | None = Field(default=None, gt=0, description=_d("爆炸下限 g/m³", "MEC g/m³"))
    mie_mj: float | None = Field(default=None, gt=0, description=_d("最小点火能 mJ", "MIE mJ"))
    mit_cloud_c: float | None = Field(
        default=None, gt=0, description=_d("云最低着火温度 °C", "Cloud MIT °C")
    )
    mit_layer_c: float | None = Field(
        default=None, gt=0, description=_d("层最低着火温度 °C", "Layer MIT °C")
    )
    kst: float | None = Field(
        default=None, ge=0, description=_d("爆炸指数 Kst bar·m/s", "Kst bar·m/s")
    )
    st_class: Literal["St1", "St2", "St3"] | None = Field(
        default=None, description=_d("爆炸等级", "St class")
    )


class EnterpriseFields(_Strict):
    """What may be set on an enterprise besides its identity."""

    name: str = Field(min_length=2, max_length=200, description=_d("企业名称", "Enterprise name"))
    adcode: str = Field(
        pattern=r"^\d{6}$", description=_d("行政区划代码 (GB/T 2260)", "Region adcode")
    )
    address: str | None = Field(default=None, max_length=300, description=_d("地址", "Address"))
    location: Location | None = Field(default=None, description=_d("经纬度", "Coordinates"))
    industry: str | None = Field(
        default=None, max_length=100, description=_d("国民经济行业分类", "Industry (GB/T 4754)")
    )
    regulated_industry: str | None = Field(
        default=None, max_length=50, description=_d("监管行业", "Regulated industry")
    )
    operating_state: Literal["operating", "suspended", "closed"] = Field(
        default="operating", description=_d("经营状态", "Operating state")
    )
    legal_representative: str | None = Field(
        default=None, max_length=50, description=_d("法定代表人", "Legal representative")
    )
    principal: Contact | None = Field(default=None, description=_d("主要负责人", "Principal"))
    safety_officer: Contact | None = Field(
        default=None, description=_d("安全负责人", "Safety officer")
    )
    staff_total: int | None = Field(default=None, ge=0, description=_d("职工总数", "Total staff"))
    safety_staff: int | None = Field(
        default=None, ge=0, description=_d("安全管理人员数", "Safety staff")
    )
    dust_workers: int = Field(
        default=0, ge=0, description=_d("涉粉作业人数", "Dust-exposed workers")
    )
    max_per_shift: int | None = Field(
        default=None, ge=0, description=_d("单班最大作业人数", "Most workers in one shift")
    )
    dust_types: list[DustType] = Field(
        default_factory=list, description=_d("粉尘种类", "Dust types")
    )
    processes: list[str] = Field(default_factory=list, description=_d("涉粉工艺", "Dust processes"))
    explosion: ExplosionCharacteristics | None = Field(
        default=None, description=_d("爆炸特性", "Explosion characteristics")
    )
    moisture_reactive: bool = Field(
        default=False, description=_d("遇湿自燃金属粉尘", "Moisture-reactive metal dust")
    )
    scale: Literal["large", "medium", "small", "micro"] | None = Field(
        default=None, description=_d("企业规模", "Size")
    )


class EnterpriseCreate(EnterpriseFields):
    """A new enterprise (企业) as a regulator or an admin registers it."""

    credit_code: str = Field(
        description=_d("统一社会信用代码 (GB 32100)", "Unified social credit code")
    )

    @field_validator("credit_code")
    @classmethod
    def _credit_code(cls, value: str) -> str:
        code = value.upper()
        if not is_valid_credit_code(code):
            raise ValueError("not a valid unified social credit code (GB 32100 check character)")
        return code


class EnterpriseUpdate(_Strict):
    """Changes to an enterprise: every field optional; absent means unchanged."""

    name: str | None = Field(default=None, min_length=2, max_length=200)
    adcode: str | None = Field(default=None, pattern=r"^\d{6}$")
    address: str | None = None
    location: Location | None = None
    industry: str | None = None
    regulated_industry: str | None = None
    operating_state: Literal["operating", "suspended", "closed"] | None = None
    legal_representative: str | None = None
    principal: Contact | None = None
    safety_officer: Contact | None = None
    staff_total: int | None = Field(default=None, ge=0)
    safety_staff: int | None = Field(default=None, ge=0)
    dust_workers: int | None = Field(default=None, ge=0)
    max_per_shift: int | None = Field(default=None, ge=0)
    dust_types: list[DustType] | None = None
    processes: list[str] | None = None
    explosion: ExplosionCharacteristics | None = None
    moisture_reactive: bool | None = None
    scale: Literal["large", "medium", "small", "micro"] | None = None


class EnterprisePublic(EnterpriseCreate):
    """An enterprise as the registry returns it."""

    key_enterprise: bool = Field(
        description=_d(
            "重点企业 (涉粉作业人数≥30 且金属或木质粉尘)",
            "Key enterprise (≥ 30 workers, metal or wood dust)",
        )
    )


def is_key_enterprise(dust_workers: int, dust_types: list[str]) -> bool:
    """The national must-connect scope: ≥ 30 dust-exposed workers and metal or wood dust."""
    return dust_workers >= KEY_ENTERPRISE_WORKERS and bool(
        set(dust_types) & (METAL_DUSTS | WOOD_DUSTS)
    )


ExplosionMeasure = Literal[
    "spark_detection",
    "spark_extinguishing",
    "venting",
    "isolation_valve",
    "inerting",
    "suppression",
    "airlock",
]


class SystemFields(_Strict):
    """What may be set on a dust-removal system."""

    name: str = Field(min_length=1, max_length=100, description=_d("除尘系统名称", "System name"))
    collector: Literal["dry", "wet"] = Field(description=_d("干式/湿式", "Dry or wet collector"))
    collector_type: Literal[
        "bag", "cartridge", "cyclone", "water_bath", "wet_scrubber", "other"
    ] = Field(description=_d("除尘器类型", "Collector type"))
    indoor: bool = Field(default=False, description=_d("室内布置", "Installed indoors"))
    processes: list[str] = Field(
        default_factory=list, description=_d("服务工艺", "Processes served")
    )
    air_volume_m3h: float | None = Field(
        default=None, gt=0, description=_d("设计风量 m³/h", "Design air volume")
    )
    design_resistance_pa: float | None = Field(
        default=None, gt=0, description=_d("设计阻力 Pa", "Design resistance")
    )
    design_water_flow_m3h: float | None = Field(
        default=None, gt=0, description=_d("设计循环水量 m³/h", "Design water flow")
    )
    fan: str | None = Field(default=None, max_length=100, description=_d("风机", "Fan"))
    pressure: Literal["negative", "positive"] = Field(
        default="negative", description=_d("正压/负压", "Pressure")
    )
    explosion_protection: list[ExplosionMeasure] = Field(
        default_factory=list, description=_d("防爆措施", "Explosion protection")
    )
    cleaning_method: str | None = Field(
        default=None, max_length=100, description=_d("清灰方式", "Cleaning method")
    )
    commissioned_on: date | None = Field(default=None, description=_d("投用日期", "Commissioned"))
    last_inspection_on: date | None = Field(
        default=None, description=_d("最近检验日期", "Last inspection")
    )


class SystemCreate(SystemFields):
    """A new dust-removal system (除尘系统)."""

    system_code: str = Field(
        pattern=LOCAL_ID_RE.pattern, description=_d("除尘系统编码", "System code")
    )


class SystemUpdate(_Strict):
    """Changes to a system; absent means unchanged."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    collector: Literal["dry", "wet"] | None = None
    collector_type: (
        Literal["bag", "cartridge", "cyclone", "water_bath", "wet_scrubber", "other"] | None
    ) = None
    indoor: bool | None = None
    processes: list[str] | None = None
    air_volume_m3h: float | None = Field(default=None, gt=0)
    design_resistance_pa: float | None = Field(default=None, gt=0)
    design_water_flow_m3h: float | None = Field(default=None, gt=0)
    fan: str | None = None
    pressure: Literal["negative", "positive"] | None = None
    explosion_protection: list[ExplosionMeasure] | None = None
    cleaning_method: str | None = None
    commissioned_on: date | None = None
    last_inspection_on: date | None = None


class SystemPublic(SystemCreate):
    """A system as the registry returns it."""

    credit_code: str


class GatewayCreate(_Strict):
    """A new field gateway (数采网关)."""

    gateway_id: str = Field(pattern=LOCAL_ID_RE.pattern, description=_d("网关编号", "Gateway id"))
    name: str | None = Field(default=None, max_length=100, description=_d("名称", "Name"))
    vendor: str | None = Field(default=None, max_length=100, description=_d("厂商", "Vendor"))
    model: str | None = Field(default=None, max_length=100, description=_d("型号", "Model"))
    transport: Literal["mqtt", "http"] = Field(
        default="mqtt", description=_d("接入方式", "Transport")
    )
    upload_period_s: int = Field(
        default=30, ge=1, le=300, description=_d("上传周期 秒 (≤300)", "Upload period, s (≤ 300)")
    )


class GatewayPublic(GatewayCreate):
    """A gateway as the registry returns it (never its password)."""

    credit_code: str
    mqtt_username: str = Field(description=_d("MQTT/HTTP 用户名", "MQTT/HTTP username"))
    topic_prefix: str = Field(description=_d("主题前缀", "Topic prefix"))


class GatewayRegistered(GatewayPublic):
    """A gateway just registered: the only time its password is shown."""

    password: str = Field(description=_d("密码（仅显示一次）", "Password (shown only once)"))


LimitName = Literal["hha", "ha", "la", "lla", "deadband", "persistence_s"]


class PointFields(_Strict):
    """What may be set on a monitoring point besides its identity."""

    name: str | None = Field(default=None, max_length=100, description=_d("点位名称", "Point name"))
    unit: str = Field(
        min_length=1,
        max_length=20,
        description=_d("单位（须与指标一致）", "Unit (must match the indicator)"),
    )
    range_low: float | None = Field(
        default=None, description=_d("量程下限（默认取目录）", "Range low (catalog default)")
    )
    range_high: float | None = Field(
        default=None, description=_d("量程上限（默认取目录）", "Range high (catalog default)")
    )
    limits: dict[LimitName, float | None] = Field(
        default_factory=dict,
        description=_d(
            "报警限值覆盖（未给出的取目录默认；null 表示关闭该限值）",
            "Limit overrides (absent: catalog default; null: switched off)",
        ),
    )
    design_value: float | None = Field(
        default=None, gt=0, description=_d("设计值（如设计流量）", "Design value (e.g. flow)")
    )
    gateway_id: str | None = Field(
        default=None, pattern=LOCAL_ID_RE.pattern, description=_d("上报网关", "Reporting gateway")
    )


class PointCreate(PointFields):
    """A new monitoring point (监测点位)."""

    point_code: str = Field(pattern=POINT_CODE_RE.pattern, description=_d("点位编码", "Point code"))
    system_code: str = Field(
        pattern=LOCAL_ID_RE.pattern, description=_d("所属除尘系统", "Dust-removal system")
    )
    indicator: str = Field(
        pattern=r"^[A-Z][A-Z0-9_]*$",
        description=_d("监测指标（目录编码）", "Indicator (catalog code)"),
    )


class PointUpdate(_Strict):
    """Changes to a point; absent means unchanged."""

    name: str | None = None
    unit: str | None = Field(default=None, min_length=1, max_length=20)
    range_low: float | None = None
    range_high: float | None = None
    limits: dict[LimitName, float | None] | None = None
    design_value: float | None = Field(default=None, gt=0)
    gateway_id: str | None = Field(default=None, pattern=LOCAL_ID_RE.pattern)


class PointPublic(PointCreate):
    """A point as the registry returns it, with the limits in force."""

    credit_code: str
    catalog_version: str = Field(
        description=_d("注册时的目录版本", "Catalog version at registration")
    )
    effective_limits: dict[LimitName, float | None] = Field(
        description=_d("生效限值", "Limits in force")
    )


class VideoLinks(_Strict):
    """Live stream links from the video service (取流地址)."""

    hls: HttpUrl | None = None
    webrtc: HttpUrl | None = None
    flv: HttpUrl | None = None
    rtsp: Annotated[str, Field(pattern=r"^rtsps?://\S+$")] | None = None


def check_template(value: str | None) -> str | None:
    """A playback URL template must be an http(s)/rtsp(s) URL taking {start} and {end}."""
    if value is None:
        return None
    if "{start}" not in value or "{end}" not in value:
        raise ValueError("a playback template must contain {start} and {end}")
    if not value.startswith(("http://", "https://", "rtsp://", "rtsps://")):
        raise ValueError("a playback template must be an http(s) or rtsp(s) URL")
    return value


class CameraFields(_Strict):
    """What may be set on a camera."""

    name: str = Field(min_length=1, max_length=100, description=_d("名称", "Name"))
    system_code: str | None = Field(
        default=None,
        pattern=LOCAL_ID_RE.pattern,
        description=_d("关联除尘系统", "Dust-removal system"),
    )
    live: VideoLinks = Field(
        default_factory=VideoLinks, description=_d("实时视频地址", "Live links")
    )
    playback_template: str | None = Field(
        default=None,
        max_length=500,
        description=_d(
            "回放地址模板，含 {start} 与 {end}", "Playback URL template with {start} and {end}"
        ),
    )

    _template = field_validator("playback_template")(classmethod(lambda cls, v: check_template(v)))


class CameraCreate(CameraFields):
    """A new camera (视频监控点)."""

    gb28181_id: str = Field(description=_d("GB/T 28181 编码（20位）", "GB/T 28181 id (20 digits)"))

    @field_validator("gb28181_id")
    @classmethod
    def _gb28181(cls, value: str) -> str:
        if not GB28181_RE.match(value):
            raise ValueError("a GB/T 28181 id has exactly 20 digits")
        # digits 11–13 name the device type: 131 camera, 132 network camera (IPC)
        if value[10:13] not in ("131", "132"):
            raise ValueError(
                f"device type {value[10:13]} is not a camera (131 or 132, GB/T 28181 §E)"
            )
        return value


class CameraUpdate(_Strict):
    """Changes to a camera; absent means unchanged."""

    name: str | None = None
    system_code: str | None = Field(default=None, pattern=LOCAL_ID_RE.pattern)
    live: VideoLinks | None = None
    playback_template: str | None = None

    _template = field_validator("playback_template")(classmethod(lambda cls, v: check_template(v)))


class CameraPublic(CameraCreate):
    """A camera as the registry returns it."""

    credit_code: str
