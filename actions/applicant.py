"""Pure helpers that read the application's values out of a resident's message.

Several values may come in one message ("我叫张三，电话13800138000"), so each reader looks for
its own field anywhere in the text, with cue words ("我叫", "地址", "电话"); a bare value
("张三", "8") is taken only for the field the assistant just asked for. ID numbers and
phones are read with regular expressions (the NLU model never sees digit runs) and checked
by `common.identity`; addresses by `common.address`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Iterable, Optional

from actions.constants import (
    SLOT_ADDRESS,
    SLOT_CAPACITY,
    SLOT_CUSTOMER_TYPE,
    SLOT_ID_NUMBER,
    SLOT_NAME,
    SLOT_PHONE,
)
from actions.parsing import parse_chinese_number
from common.address import Address, AddressError, check_address
from common.identity import (
    ID_FORMAT,
    IdNumber,
    IdNumberError,
    find_id_number,
    find_mobile,
    halfwidth,
    normalize_mobile,
    parse_id_number,
)
from common.scripts import to_simplified

# Problems, each a catalog key `form.problem.<problem>`.
NAME_FORMAT = "name_format"
PHONE_FORMAT = "phone_format"
CAPACITY_FORMAT = "capacity_format"
CAPACITY_ENERGY_UNIT = "capacity_energy_unit"
CAPACITY_RANGE = "capacity_range"
CUSTOMER_TYPE_UNKNOWN = "customer_type_unknown"

MAX_CAPACITY_KW = Decimal(100000)

# Common surnames, single and compound: a bare 2-4 character reply is taken as a name only if
# it starts with one, so "查电费" or "好的" is not mistaken for a name.
_COMPOUND_SURNAMES = (
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 端木 南宫 独孤 钟离 澹台"
).split()
_SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
    "常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季"
    "裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦"
    "戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻"
    "苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练"
    "廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿"
    "鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
    "陳楊黃趙吳劉鄭謝葉蔣蘇呂盧鍾譚陸範賈韋鄒熊龍賀顧龔萬錢嚴湯溫馮鄧許韓曾馬孫羅蕭張鄺"
)
# Characters that do not occur in names but do in short questions and replies.
_NOT_NAME = set("吗呢吧么怎什哪谁啥嘛的了是不要我你他她它们这那电费办查询问请好在有没号码地址证区市省路街")
_CN_NAME = re.compile(r"^[\u3400-\u9fff]{1,4}(?:[·•][\u3400-\u9fff]{1,10})?$")
_LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z .'\-]{1,39}$")
_NAME_CUE = re.compile(
    r"(?:我叫|我是|名字(?:是|叫)?|姓名(?:是)?|申请人(?:是|叫)?|my name is|name is|name:)\s*[:：]?\s*"
    r"([\u3400-\u9fff·•]{2,12}|[A-Za-z][A-Za-z .'\-]{1,39}?)(?=$|[\s,，。.;；!！]|电话|手机|身份证|地址|住)",
    re.IGNORECASE,
)
_ADDRESS_CUE = re.compile(
    r"(?:地址(?:是|为|在)?|住在|住址(?:是)?|用电地址(?:是)?|装在|address(?: is)?:?)\s*[:：]?\s*([^,，;；。!！?？]+)",
    re.IGNORECASE,
)
# Digit runs bounded and anchored at the run's start (see actions/parsing.py): linear time.
_CAPACITY = re.compile(
    r"((?<![\d.])\d{1,9}(?:\.\d{1,6})?|(?<![零〇一二两三四五六七八九十百千万])[零〇一二两三四五六七八九十百千万]{1,12})\s{0,3}"
    r"(千瓦时|千瓦小时|kwh|kw·h|度电|度|千伏安|kva|千瓦|kw|瓩)",
    re.IGNORECASE,
)
_BARE_NUMBER = re.compile(r"^\s*(\d{1,9}(?:\.\d{1,6})?|[零〇一二两三四五六七八九十百千万]{1,12})\s*$")
_ENERGY_UNITS = {"千瓦时", "千瓦小时", "kwh", "kw·h", "度电", "度"}

_CUSTOMER_TYPE_WORDS = (
    ("hv", r"高压|10\s*千伏|10\s*kv|专变|专用变压器|high[- ]voltage|factory|工厂"),
    (
        "lv_business",
        r"低压非居民|非居民|商铺|店|商户|小微|企业|公司|餐馆|饭店|经营|商业|办公|business|shop|store|commercial|office",
    ),
    ("resident", r"居民|住宅|家用|家里|自住|住家|民用|residential|resident|household|home|my house|apartment"),
)
_CORRECTION = re.compile(
    r"错|改|修改|更正|更改|不对|重填|重新填|wrong|change|correct|fix|update|mistake", re.IGNORECASE
)
_FIELD_WORDS = (
    (SLOT_ID_NUMBER, r"身份证|证件号|id\b|id number|identity"),
    (SLOT_PHONE, r"电话|手机|号码|联系方式|phone|mobile|number"),
    (SLOT_ADDRESS, r"地址|住址|地点|address"),
    (SLOT_NAME, r"名字|姓名|名称|name"),
    (SLOT_CUSTOMER_TYPE, r"类型|用户类别|用电类别|居民|非居民|商铺|高压|customer type|\btype\b"),
    (SLOT_CAPACITY, r"容量|功率|千瓦|kw|capacity|load"),
)
_CANCEL = re.compile(
    r"不办了|不申请了|不想办了|不想申请了|取消申请|取消办理|撤销申请|不要办了|算了吧?$|^算了|放弃申请|不装了|唔办了|唔申请了|"
    r"\bcancel\b|\bstop\b|\bquit\b|never ?mind|don'?t want to apply",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    r"[?？]|吗|怎么|怎样|什么|多少|多久|几天|哪些|哪里|为什么|能不能|可不可以|是否|要不要|"
    r"\b(how|what|when|why|which|where|can i|do i|is it|does)\b",
    re.IGNORECASE,
)


# No answer to a form question is longer; script conversion costs ~10 µs a character, so the
# readers that convert look at this much of a message (a 10 000-character one stays cheap).
MAX_READ_CHARS = 300


def _simplified(text: str) -> str:
    return to_simplified(text[:MAX_READ_CHARS])


@dataclass(frozen=True)
class Reading:
    """What one reader found: a value, or a problem with what looked like the field."""

    value: object = None
    problem: Optional[str] = None

    @property
    def found(self) -> bool:
        return self.value is not None or self.problem is not None


NOTHING = Reading()


def read_name(text: str, requested: bool) -> Reading:
    """A name after a cue word anywhere, or the whole reply when the name was asked for."""
    match = _NAME_CUE.search(text)
    if match:
        candidate = match.group(1).strip()
        return Reading(value=candidate) if _is_name(candidate, cue=True) else Reading(problem=NAME_FORMAT)
    if not requested:
        return NOTHING
    candidate = re.sub(r"^(?:我叫|我是)", "", text.strip()).strip(" ，,。.")
    return Reading(value=candidate) if _is_name(candidate, cue=False) else Reading(problem=NAME_FORMAT)


def _is_name(candidate: str, cue: bool) -> bool:
    if _LATIN_NAME.match(candidate):
        return len(candidate.split()) <= 5
    if not _CN_NAME.match(candidate) or len(candidate.replace("·", "").replace("•", "")) < 2:
        return False
    if any(ch in _NOT_NAME for ch in candidate):
        return False
    if cue or "·" in candidate or "•" in candidate:
        return True
    return candidate[:2] in _COMPOUND_SURNAMES or candidate[0] in _SURNAMES


def read_id_number(text: str, requested: bool, today=None) -> tuple[Reading, Optional[IdNumber]]:  # noqa: ANN001
    """An ID number anywhere in the text, checked; a wrong-looking one when it was asked for."""
    candidate = find_id_number(text)
    if candidate is None:
        digits = re.sub(r"[\s\-]", "", halfwidth(text))
        if requested and re.search(r"\d{6,}", digits):
            return Reading(problem=f"id_{ID_FORMAT}"), None
        return NOTHING, None
    try:
        checked = parse_id_number(candidate, today=today)
    except IdNumberError as exc:
        return Reading(problem=f"id_{exc.problem}"), None
    return Reading(value=checked.value), checked


def read_phone(text: str, requested: bool) -> Reading:
    """A mainland mobile number anywhere in the text (not inside an ID number)."""
    id_number = find_id_number(text)
    rest = halfwidth(text).replace(id_number, " ") if id_number else text
    phone = find_mobile(rest)
    if phone:
        return Reading(value=phone)
    if requested:
        if normalize_mobile(rest.strip()):
            return Reading(value=normalize_mobile(rest.strip()))
        if re.search(r"\d{5,}", rest) or re.search(r"电话|手机|phone", rest, re.IGNORECASE):
            return Reading(problem=PHONE_FORMAT)
    return NOTHING


def read_address(text: str, requested: bool, service_area: Iterable[str]) -> tuple[Reading, Optional[Address]]:
    """An address after a cue word, or the whole reply when the address was asked for."""
    match = _ADDRESS_CUE.search(text)
    if match:
        candidate = match.group(1)
    elif requested:
        candidate = text
    else:
        return NOTHING, None
    candidate = candidate.strip()
    try:
        address = check_address(candidate, service_area)
    except AddressError as exc:
        return Reading(problem=f"address_{exc.problem}"), None
    return Reading(value=address.display()), address


def read_customer_type(text: str, requested: bool, entity: Optional[str] = None) -> Reading:
    """resident / lv_business / hv from a button's entity or from words in the text."""
    if entity in {"resident", "lv_business", "hv"}:
        return Reading(value=entity)
    lowered = _simplified(text).lower()
    for value, pattern in _CUSTOMER_TYPE_WORDS:
        if re.search(pattern, lowered, re.IGNORECASE):
            if requested or re.search(r"用电|类型|用户|type", lowered):
                return Reading(value=value)
    return Reading(problem=CUSTOMER_TYPE_UNKNOWN) if requested else NOTHING


def _number(raw: str) -> Optional[Decimal]:
    try:
        return Decimal(raw) if raw[0].isdigit() else Decimal(parse_chinese_number(raw) or 0)
    except (InvalidOperation, IndexError):
        return None


def read_capacity(text: str, requested: bool) -> Reading:
    """A capacity in kW (千瓦, kW; kVA counted as kW); 度/kWh is energy and is refused."""
    text = halfwidth(text)
    match = _CAPACITY.search(text)
    if match:
        if match.group(2).lower() in _ENERGY_UNITS:
            return Reading(problem=CAPACITY_ENERGY_UNIT)
        value = _number(match.group(1))
    elif requested:
        bare = _BARE_NUMBER.match(text)
        if not bare:
            return Reading(problem=CAPACITY_FORMAT)
        value = _number(bare.group(1))
    else:
        return NOTHING
    if value is None:
        return Reading(problem=CAPACITY_FORMAT)
    if not Decimal(0) < value <= MAX_CAPACITY_KW:
        return Reading(problem=CAPACITY_RANGE)
    return Reading(value=float(value.quantize(Decimal("0.1"))))


_WATER = re.compile(r"水|water", re.IGNORECASE)
_GAS = re.compile(r"气|gas", re.IGNORECASE)
_NONE = re.compile(
    r"不需要|不用|不要|都不|没有|无|跳过|只要电|只办电|唔使|唔要|唔需要|^no\b|none|neither|skip|only electricity",
    re.IGNORECASE,
)
_BOTH = re.compile(r"都要|都需要|水和气|水气|水电气|both", re.IGNORECASE)


def read_linked(text: str, entity: Optional[str] = None) -> Reading:
    """Water and/or gas to apply for together (一次办): a list, [] for none, or nothing found."""
    if entity is not None:
        choice = {"water": ["water"], "gas": ["gas"], "both": ["water", "gas"], "none": []}.get(entity)
        return Reading(value=choice) if choice is not None else NOTHING
    text = _simplified(text)
    if _NONE.search(text):
        return Reading(value=[])
    if _BOTH.search(text):
        return Reading(value=["water", "gas"])
    chosen = [kind for kind, pattern in (("water", _WATER), ("gas", _GAS)) if pattern.search(text)]
    return Reading(value=chosen) if chosen else NOTHING


def correction_field(text: str) -> Optional[str]:
    """The field a resident says is wrong ("地址填错了" → address), or None."""
    text = _simplified(text)
    if not _CORRECTION.search(text):
        return None
    for field, pattern in _FIELD_WORDS:
        if re.search(pattern, text, re.IGNORECASE):
            return field
    return None


def wants_to_cancel(text: str) -> bool:
    return bool(_CANCEL.search(_simplified(text).strip()))


def looks_like_question(text: str) -> bool:
    return bool(_QUESTION.search(_simplified(text)))


def value_after_correction(text: str) -> str:
    """The part of "地址填错了，应该是…" after the correction words, where a new value may be."""
    parts = re.split(
        r"应该是|應該是|应为|應為|改为|改為|改成|换成|換成|正确的是|正確的是|should be|change (?:it )?to",
        text, maxsplit=1, flags=re.I,
    )
    return parts[1].strip(" :：,，") if len(parts) == 2 else ""


__all__ = [
    "CAPACITY_ENERGY_UNIT",
    "CAPACITY_FORMAT",
    "CAPACITY_RANGE",
    "CUSTOMER_TYPE_UNKNOWN",
    "NAME_FORMAT",
    "NOTHING",
    "PHONE_FORMAT",
    "Reading",
    "correction_field",
    "looks_like_question",
    "read_address",
    "read_capacity",
    "read_customer_type",
    "read_id_number",
    "read_linked",
    "read_name",
    "read_phone",
    "value_after_correction",
    "wants_to_cancel",
]
