"""A Telegram Bot API emulator on loopback, so the real bot can be tested without Telegram.

No machine here reaches Telegram; python-telegram-bot takes a `base_url`, so tests point the
real `Application` at this server instead. It speaks the Bot API wire protocol at
`/bot<token>/<method>` (JSON, form-encoded and multipart bodies; `{"ok": true, "result": ...}`
or `{"ok": false, "error_code", "description", "parameters"}`) for the methods the bot uses,
and validates requests the way Telegram does (empty chat_id, text over 4096 characters,
callback_data over 64 bytes, HTML that does not parse).

Tests drive it from their own thread through Python methods (`send_text`, `press`,
`send_contact`, `fail_next`, `sent`, `wait_for`, ...); other processes can use the
`/_emulator/...` routes. The server runs aiohttp in a background thread with its own loop.

Groups (negative chat ids) are supergroups; `add_group` sets whether topics are on (`is_forum`)
and the bot's status and administrator rights (a group first used without it is a forum where
the bot is an administrator with every right). Forum topics behave as in Telegram: a topic's
`message_thread_id` is the id of its "topic created" service message; `createForumTopic` needs
`can_manage_topics`; sends into a topic carry `message_thread_id` and `is_topic_message`, and
reply to the creation message; a deleted topic answers "message thread not found", a closed one
`TOPIC_CLOSED`; a group takes about 20 messages a minute (`group_limit`) and answers 429 with
`retry_after` beyond. Staff are driven with `staff_text`, `staff_photo`, `press(...,
user_id=...)` and `staff_close_topic`/`staff_reopen_topic`/`staff_create_topic` (which deliver
the service-message updates Telegram sends) and `staff_delete_topic` (which, as in Telegram,
delivers none). Error texts are the Bot API server's (tdlib's, first letter lowercased).

Run alone for manual poking: `python -m tests.telegram.emulator --port 8081`.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import itertools
import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Tuple

from aiohttp import ClientSession, ClientTimeout, web

DEFAULT_TOKEN = "123456:TEST-emulator-token"
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Power Assistant",
    "username": "power_assistant_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
# Parameters Telegram takes as JSON objects; form-encoded requests carry them as JSON strings.
JSON_PARAMS = frozenset(
    {
        "reply_markup", "commands", "scope", "allowed_updates", "entities", "caption_entities",
        "link_preview_options", "reply_parameters", "media",
    }
)
# Methods whose calls `fail_next` fails unless told otherwise: the ones that send to a chat.
SENDING_METHODS = frozenset({"sendMessage", "sendPhoto", "editMessageText", "editMessageReplyMarkup"})
ALLOWED_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "span",
     "tg-spoiler", "tg-emoji", "blockquote"}
)
# Telegram's limit for one group (all its topics together): about 20 messages a minute.
GROUP_LIMIT = 20
GROUP_WINDOW_S = 60.0
# Methods that post a new message into a chat (counted against the group's limit).
POSTING_METHODS = frozenset({"sendMessage", "sendPhoto"})
ADMIN_RIGHTS = (
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories", "can_edit_stories",
    "can_delete_stories", "can_pin_messages", "can_manage_topics",
)
THREAD_NOT_FOUND = "Bad Request: message thread not found"
FAILURE_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    403: "Forbidden: bot was blocked by the user",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, code: int, description: str, retry_after: Optional[int] = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> Dict[str, Any]:
        body: Dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


class _HtmlChecker(HTMLParser):
    """Parses Telegram-flavoured HTML and keeps the visible text, raising ApiError when invalid."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: List[str] = []
        self.text: List[str] = []

    def handle_starttag(self, tag: str, attrs: List[Tuple[str, Optional[str]]]) -> None:
        if tag not in ALLOWED_TAGS:
            raise ApiError(400, f'Bad Request: can\'t parse entities: Unsupported start tag "{tag}"')
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            raise ApiError(400, f'Bad Request: can\'t parse entities: Unexpected end tag "{tag}"')
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_entityref(self, name: str) -> None:
        if name not in {"lt", "gt", "amp", "quot"}:
            raise ApiError(400, f'Bad Request: can\'t parse entities: Unsupported entity "&{name};"')
        self.text.append(html.unescape(f"&{name};"))

    def handle_charref(self, name: str) -> None:
        self.text.append(html.unescape(f"&#{name};"))


def parse_html(text: str) -> str:
    """The visible text of a Telegram HTML message; ApiError 400 when it does not parse."""
    # A '<' that opens no tag is something HTMLParser would keep as text; Telegram refuses it.
    for match in re.finditer("<", text):
        if not re.match(r"</?[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?>", text[match.start():]):
            raise ApiError(400, f"Bad Request: can't parse entities: Unexpected character at byte offset "
                                f"{len(text[:match.start()].encode())}")
    checker = _HtmlChecker()
    checker.feed(text)
    checker.close()
    if checker.stack:
        raise ApiError(400, f'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag '
                            f'"{checker.stack[-1]}"')
    return "".join(checker.text)


def visible_text(text: str, parse_mode: Optional[str]) -> str:
    if parse_mode is None or parse_mode == "":
        return text
    if parse_mode.upper() == "HTML":
        return parse_html(text)
    return text  # Markdown modes are not used by the bot; accepted as plain text


def _check_markup(markup: Any) -> None:
    if not markup:
        return
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard") or []:
        for button in row:
            if not button.get("text"):
                raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
    for row in markup.get("keyboard") or []:
        for button in row:
            if not (button.get("text") if isinstance(button, dict) else button):
                raise ApiError(400, "Bad Request: keyboard button text is empty")


@dataclass
class Sent:
    """One message the bot sent (or its latest state after edits)."""

    chat_id: int
    message_id: int
    method: str
    text: str
    parse_mode: Optional[str]
    reply_markup: Optional[Dict[str, Any]]
    at: float
    photo: Optional[bytes] = None
    edits: List[Tuple[float, str]] = field(default_factory=list)
    message_thread_id: Optional[int] = None

    @property
    def buttons(self) -> List[Dict[str, Any]]:
        """The inline keyboard's buttons, flattened."""
        return [b for row in (self.reply_markup or {}).get("inline_keyboard") or [] for b in row]

    @property
    def keyboard(self) -> List[Dict[str, Any]]:
        """The reply keyboard's buttons, flattened."""
        rows = (self.reply_markup or {}).get("keyboard") or []
        return [b if isinstance(b, dict) else {"text": b} for row in rows for b in row]

    def button(self, title_part: str) -> Dict[str, Any]:
        for candidate in self.buttons:
            if title_part in candidate["text"]:
                return candidate
        raise KeyError(f"no button containing {title_part!r} in {[b['text'] for b in self.buttons]}")


@dataclass
class Call:
    """A Bot API call as received (after parsing), for assertions on the wire traffic."""

    method: str
    params: Dict[str, Any]
    at: float
    error: Optional[int] = None


@dataclass
class _Failure:
    code: int
    retry_after: Optional[int]
    methods: Optional[frozenset]


@dataclass
class Group:
    """A supergroup: whether topics are on, the bot's membership and rights, its members."""

    chat_id: int
    title: str = "staff"
    is_forum: bool = True
    bot_status: str = "administrator"  # administrator | member | left | kicked
    bot_rights: Dict[str, bool] = field(default_factory=lambda: {name: True for name in ADMIN_RIGHTS})
    members: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    posts: Deque[float] = field(default_factory=deque)

    def chat_json(self) -> Dict[str, Any]:
        chat: Dict[str, Any] = {"id": self.chat_id, "type": "supergroup", "title": self.title}
        if self.is_forum:
            chat["is_forum"] = True
        return chat

    def bot_member(self) -> Dict[str, Any]:
        member: Dict[str, Any] = {"status": self.bot_status, "user": BOT_USER}
        if self.bot_status == "administrator":
            member.update({"can_be_edited": False, "is_anonymous": False})
            member.update({name: bool(self.bot_rights.get(name, False)) for name in ADMIN_RIGHTS})
        return member

    def bot_can(self, right: str) -> bool:
        return self.bot_status == "administrator" and bool(self.bot_rights.get(right))


class BotApiEmulator:
    """The emulator: start(), point the bot at `base_url`, drive it, stop()."""

    def __init__(
        self, token: str = DEFAULT_TOKEN, host: str = "127.0.0.1", port: int = 0,
        group_limit: int = GROUP_LIMIT, group_window_s: float = GROUP_WINDOW_S,
    ):
        self.token = token
        self.host = host
        self.port = port
        self.group_limit = group_limit
        self.group_window_s = group_window_s
        self.groups: Dict[int, Group] = {}
        # Service and staff messages in groups, by (chat, message id).
        self.group_messages: Dict[Tuple[int, int], Dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._update_ids = itertools.count(1000)
        self._message_ids: Dict[int, itertools.count] = {}
        self._callback_ids = itertools.count(1)
        # Queued updates with whether getUpdates returned them already (only those are confirmed
        # by a later offset, so a re-sent copy of an old update is still delivered once).
        self._updates: List[Dict[str, Any]] = []
        self._delivered: set = set()
        self.messages: Dict[Tuple[int, int], Sent] = {}
        self.user_messages: Dict[Tuple[int, int], Dict[str, Any]] = {}
        self.calls: List[Call] = []
        self.callback_answers: Dict[str, Dict[str, Any]] = {}
        self.commands: Dict[Tuple[str, str], List[Dict[str, Any]]] = {}
        self.webhook: Dict[str, Any] = {}
        self.topics: Dict[Tuple[int, int], Dict[str, Any]] = {}
        self._failures: List[_Failure] = []
        self.on_store: Optional[Callable[[Sent], None]] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._changed: Optional[asyncio.Event] = None
        self._thread: Optional[threading.Thread] = None
        self._runner: Optional[web.AppRunner] = None
        self._ready = threading.Event()
        self._startup_error: Optional[BaseException] = None

    # ---- life cycle ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What the bot's `base_url` setting should be (the token is appended by the bot)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    def start(self) -> BotApiEmulator:
        self._thread = threading.Thread(target=self._serve, name="bot-api-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("Bot API emulator did not start")
        if self._startup_error is not None:
            raise RuntimeError("Bot API emulator failed to start") from self._startup_error
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> BotApiEmulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as exc:  # reported to start()
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _startup(self) -> None:
        self._changed = asyncio.Event()
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_post("/_emulator/updates", self._control_inject)
        app.router.add_get("/_emulator/sent", self._control_sent)
        app.router.add_post("/_emulator/fail", self._control_fail)
        app.router.add_post("/_emulator/reset", self._control_reset)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        self.port = sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:  # long polls still waiting
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def _wake(self) -> None:
        if self._loop is not None and self._changed is not None:
            self._loop.call_soon_threadsafe(self._changed.set)

    # ---- test control: what users do ---------------------------------------------------------

    def _user(self, user_id: int, language_code: str = "zh-hans", first_name: str = "测试") -> Dict[str, Any]:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}

    def _chat(self, chat_id: int) -> Dict[str, Any]:
        if chat_id < 0:
            return self._group(chat_id).chat_json()
        return {"id": chat_id, "type": "private", "first_name": "测试"}

    def _next_message_id(self, chat_id: int) -> int:
        with self._lock:
            # In a supergroup id 1 is the group's creation (and the General topic's id on MTProto).
            counter = self._message_ids.setdefault(chat_id, itertools.count(2 if chat_id < 0 else 1))
            return next(counter)

    # ---- test control: groups and staff ----------------------------------------------------------

    def add_group(
        self, chat_id: int, title: str = "staff", is_forum: bool = True, bot_status: str = "administrator",
        **rights: bool,
    ) -> Group:
        """Sets up supergroup `chat_id`; `rights` override the bot's administrator rights."""
        group = Group(chat_id, title=title, is_forum=is_forum, bot_status=bot_status)
        group.bot_rights.update(rights)
        with self._lock:
            self.groups[chat_id] = group
        return group

    def set_bot_rights(self, chat_id: int, status: Optional[str] = None, **rights: bool) -> None:
        group = self._group(chat_id)
        with self._lock:
            if status is not None:
                group.bot_status = status
            group.bot_rights.update(rights)

    def add_member(self, chat_id: int, user_id: int, first_name: str = "客服", status: str = "member") -> None:
        """A staff member of the group (`status` member, administrator or creator)."""
        group = self._group(chat_id)
        with self._lock:
            group.members[user_id] = {"status": status, "user": self._user(user_id, "zh-hans", first_name)}

    def _group(self, chat_id: int) -> Group:
        with self._lock:
            group = self.groups.get(chat_id)
            if group is None:
                group = self.groups[chat_id] = Group(chat_id)
            return group

    def _group_message(
        self, chat_id: int, sender: Dict[str, Any], thread: Optional[int] = None,
        reply_to: Optional[int] = None, message_id: Optional[int] = None, **content: Any,
    ) -> Dict[str, Any]:
        """A message in a group as Telegram shapes it: inside a topic it carries the topic's id,
        `is_topic_message` and, unless it answers another message, a reply to the topic's
        creation message; in General a reply carries the replied message's id as its thread."""
        message: Dict[str, Any] = {
            "message_id": message_id if message_id is not None else self._next_message_id(chat_id),
            "date": int(time.time()), "chat": self._chat(chat_id), "from": sender, **content,
        }
        with self._lock:
            replied = self.group_messages.get((chat_id, reply_to)) if reply_to else None
            if replied is None and reply_to and (chat_id, reply_to) in self.messages:
                replied = self._message_json(self.messages[(chat_id, reply_to)])
            if thread is not None:
                message["message_thread_id"] = thread
                message["is_topic_message"] = True
                if replied is None and message["message_id"] != thread:
                    replied = self.group_messages.get((chat_id, thread))
            elif replied is not None:
                message["message_thread_id"] = replied["message_id"]
            if replied is not None:
                message["reply_to_message"] = {k: v for k, v in replied.items() if k != "reply_to_message"}
            self.group_messages[(chat_id, message["message_id"])] = message
        return message

    def _staff(self, chat_id: int, user_id: int) -> Dict[str, Any]:
        member = self._group(chat_id).members.get(user_id)
        return member["user"] if member else self._user(user_id, "zh-hans", "客服")

    def _topic_of(self, chat_id: int, thread: int) -> Dict[str, Any]:
        topic = self.topics.get((chat_id, thread))
        if topic is None:
            raise ValueError(f"no topic {thread} in chat {chat_id}")
        return topic

    def staff_text(
        self, chat_id: int, user_id: int, text: str, thread: Optional[int] = None, reply_to: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Staff member `user_id` writes `text` in topic `thread` (None: the General topic)."""
        if thread is not None:
            self._topic_of(chat_id, thread)
        content: Dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        message = self._group_message(chat_id, self._staff(chat_id, user_id), thread, reply_to, **content)
        return self.push_update({"message": message})

    def staff_photo(
        self, chat_id: int, user_id: int, thread: Optional[int] = None, caption: Optional[str] = None,
        file_id: str = "staffph1",
    ) -> Dict[str, Any]:
        """Staff member `user_id` posts a photo (with `caption`) in topic `thread`."""
        if thread is not None:
            self._topic_of(chat_id, thread)
        content: Dict[str, Any] = {"photo": [
            {"file_id": f"{file_id}s", "file_unique_id": f"u{file_id}s", "width": 90, "height": 90, "file_size": 900},
            {"file_id": file_id, "file_unique_id": f"u{file_id}", "width": 800, "height": 600, "file_size": 50000},
        ]}
        if caption:
            content["caption"] = caption
        message = self._group_message(chat_id, self._staff(chat_id, user_id), thread, **content)
        return self.push_update({"message": message})

    def _new_topic(self, chat_id: int, name: str, icon_color: int, creator: Dict[str, Any]) -> Dict[str, Any]:
        thread = self._next_message_id(chat_id)
        topic = {"message_thread_id": thread, "name": name, "icon_color": icon_color, "closed": False,
                 "creator": creator["id"]}
        with self._lock:
            self.topics[(chat_id, thread)] = topic
        self._group_message(chat_id, creator, thread, message_id=thread,
                            forum_topic_created={"name": name, "icon_color": icon_color})
        return topic

    def staff_create_topic(self, chat_id: int, user_id: int, name: str) -> int:
        """A staff member opens a topic; the bot gets its "topic created" service message."""
        topic = self._new_topic(chat_id, name, 7322096, self._staff(chat_id, user_id))
        thread = topic["message_thread_id"]
        self.push_update({"message": self.group_messages[(chat_id, thread)]})
        return thread

    def staff_close_topic(self, chat_id: int, user_id: int, thread: int) -> Dict[str, Any]:
        """A staff member closes topic `thread` (service message `forum_topic_closed`)."""
        self._topic_of(chat_id, thread)["closed"] = True
        message = self._group_message(chat_id, self._staff(chat_id, user_id), thread, forum_topic_closed={})
        return self.push_update({"message": message})

    def staff_reopen_topic(self, chat_id: int, user_id: int, thread: int) -> Dict[str, Any]:
        """A staff member reopens topic `thread` (service message `forum_topic_reopened`)."""
        self._topic_of(chat_id, thread)["closed"] = False
        message = self._group_message(chat_id, self._staff(chat_id, user_id), thread, forum_topic_reopened={})
        return self.push_update({"message": message})

    def staff_delete_topic(self, chat_id: int, thread: int) -> None:
        """A staff member deletes topic `thread`: Telegram sends the bot no update at all."""
        self._topic_of(chat_id, thread)
        with self._lock:
            self.topics.pop((chat_id, thread), None)

    def topic(self, chat_id: int, thread: int) -> Optional[Dict[str, Any]]:
        """The topic's state (name, closed), or None when there is none (never made, or deleted)."""
        with self._lock:
            topic = self.topics.get((chat_id, thread))
            return dict(topic) if topic else None

    def push_update(self, update: Dict[str, Any]) -> Dict[str, Any]:
        """Queues a raw update (its `update_id` is kept when present, so it can repeat one)."""
        with self._lock:
            update = dict(update)
            update.setdefault("update_id", next(self._update_ids))
            self._updates.append(update)
            self._delivered.discard(id(update))
        self._wake()
        if self.webhook.get("url") and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._post_webhook(update), self._loop)
        return update

    def resend(self, update: Dict[str, Any]) -> Dict[str, Any]:
        """Delivers the same update again (same update_id), as Telegram may after a timeout."""
        return self.push_update(update)

    def user_message(
        self, chat_id: int, user_id: Optional[int] = None, language_code: str = "zh-hans", **content: Any
    ) -> Dict[str, Any]:
        message_id = self._next_message_id(chat_id)
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self._chat(chat_id),
            "from": self._user(user_id if user_id is not None else chat_id, language_code),
            **content,
        }
        with self._lock:
            self.user_messages[(chat_id, message_id)] = message
        return self.push_update({"message": message})

    def send_text(self, chat_id: int, text: str, language_code: str = "zh-hans", **extra: Any) -> Dict[str, Any]:
        """A user types `text` (a leading /command gets its bot_command entity)."""
        content: Dict[str, Any] = {"text": text, **extra}
        if text.startswith("/"):
            command = text.split()[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]
        return self.user_message(chat_id, language_code=language_code, **content)

    def send_command(
        self, chat_id: int, command: str, args: str = "", language_code: str = "zh-hans"
    ) -> Dict[str, Any]:
        text = f"/{command.lstrip('/')}" + (f" {args}" if args else "")
        return self.send_text(chat_id, text, language_code=language_code)

    def press(self, chat_id: int, message_id: int, data: str, user_id: Optional[int] = None) -> Dict[str, Any]:
        """A user (in a group: staff member `user_id`) presses an inline button with `data` under
        the bot's message `message_id`."""
        with self._lock:
            sent = self.messages.get((chat_id, message_id))
            query_id = str(next(self._callback_ids))
        if sent is not None:
            message = self._message_json(sent)
        else:
            message = {"message_id": message_id, "date": int(time.time()), "chat": self._chat(chat_id),
                       "from": BOT_USER, "text": ""}
        if chat_id < 0 and user_id is None:
            raise ValueError("a press in a group needs the staff member's user_id")
        presser = self._staff(chat_id, user_id) if chat_id < 0 and user_id is not None else self._user(
            user_id if user_id is not None else chat_id)
        query = {
            "id": query_id,
            "from": presser,
            "chat_instance": f"ci{chat_id}",
            "message": message,
            "data": data,
        }
        return self.push_update({"callback_query": query})

    def press_button(self, sent: Sent, title_part: str) -> Dict[str, Any]:
        """Presses the inline button of `sent` whose title contains `title_part`."""
        button = sent.button(title_part)
        return self.press(sent.chat_id, sent.message_id, button["callback_data"])

    def send_contact(
        self, chat_id: int, phone_number: str, contact_user_id: Optional[int] = None, first_name: str = "测试"
    ) -> Dict[str, Any]:
        """A user shares a contact card (their own when `contact_user_id` is the chat's user)."""
        contact: Dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if contact_user_id is not None:
            contact["user_id"] = contact_user_id
        return self.user_message(chat_id, contact=contact)

    def send_sticker(self, chat_id: int) -> Dict[str, Any]:
        return self.user_message(chat_id, sticker={
            "file_id": "stk1", "file_unique_id": "ustk1", "type": "regular", "width": 512, "height": 512,
            "is_animated": False, "is_video": False,
        })

    def send_photo(self, chat_id: int, caption: Optional[str] = None) -> Dict[str, Any]:
        extra = {"caption": caption} if caption else {}
        return self.user_message(chat_id, photo=[
            {"file_id": "ph1", "file_unique_id": "uph1", "width": 90, "height": 90, "file_size": 1000}
        ], **extra)

    def send_location(self, chat_id: int, latitude: float = 23.13, longitude: float = 113.26) -> Dict[str, Any]:
        return self.user_message(chat_id, location={"latitude": latitude, "longitude": longitude})

    def send_voice(self, chat_id: int) -> Dict[str, Any]:
        return self.user_message(chat_id, voice={"file_id": "vc1", "file_unique_id": "uvc1", "duration": 2})

    def send_document(self, chat_id: int) -> Dict[str, Any]:
        return self.user_message(chat_id, document={"file_id": "doc1", "file_unique_id": "udoc1",
                                                    "file_name": "a.pdf"})

    # ---- test control: failures and inspection -------------------------------------------------

    def fail_next(
        self, count: int = 1, error_code: int = 429, retry_after: Optional[int] = 1,
        methods: Optional[Iterable[str]] = SENDING_METHODS,
    ) -> None:
        """The next `count` calls of `methods` (all methods when None) fail with `error_code`."""
        with self._lock:
            for _ in range(count):
                self._failures.append(_Failure(
                    error_code, retry_after if error_code == 429 else None, frozenset(methods) if methods else None
                ))

    def sent(self, chat_id: Optional[int] = None, since: float = 0.0, thread: Optional[int] = None) -> List[Sent]:
        """Messages the bot sent (to `chat_id`, into topic `thread`), in order, with their latest text."""
        with self._lock:
            items = [
                m for m in self.messages.values()
                if (chat_id is None or m.chat_id == chat_id) and m.at >= since
                and (thread is None or m.message_thread_id == thread)
            ]
        return sorted(items, key=lambda m: (m.at, m.message_id))

    def calls_of(self, method: str, chat_id: Optional[int] = None) -> List[Call]:
        with self._lock:
            return [
                c for c in self.calls
                if c.method == method and (chat_id is None or str(c.params.get("chat_id")) == str(chat_id))
            ]

    def wait_for(
        self, chat_id: int, predicate: Callable[[Sent], bool] = lambda _m: True, since: float = 0.0,
        timeout: float = 30.0, thread: Optional[int] = None,
    ) -> Sent:
        """Waits until the bot sent `chat_id` (topic `thread`) a message matching `predicate` after `since`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.sent(chat_id, since, thread=thread):
                if predicate(message):
                    return message
            time.sleep(0.02)
        texts = [m.text[:80] for m in self.sent(chat_id, since, thread=thread)]
        raise AssertionError(f"no matching message to chat {chat_id} within {timeout}s; got {texts}")

    def wait_calls(self, method: str, count: int, chat_id: Optional[int] = None, timeout: float = 30.0) -> List[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls_of(method, chat_id)
            if len(calls) >= count:
                return calls
            time.sleep(0.02)
        raise AssertionError(f"{method} called {len(self.calls_of(method, chat_id))} times, expected {count}")

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    def reset_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    # ---- the Bot API ----------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> Dict[str, Any]:
        params: Dict[str, Any] = dict(request.query)
        if request.body_exists:
            if request.content_type == "application/json":
                body = await request.json()
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: invalid JSON body")
                params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        params[key] = value.file.read()
                    else:
                        params[key] = value
        for key in JSON_PARAMS & params.keys():
            if isinstance(params[key], str):
                try:
                    params[key] = json.loads(params[key])
                except ValueError as exc:
                    raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from exc
        return params

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        token = request.match_info["token"]
        now = time.time()
        if token != self.token:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        try:
            params = await self._params(request)
        except ApiError as exc:
            return web.json_response(exc.body(), status=exc.code)
        call = Call(method, {k: v for k, v in params.items() if not isinstance(v, bytes)}, now)
        with self._lock:
            self.calls.append(call)
            failure = next((f for f in self._failures if f.methods is None or method in f.methods), None)
            if failure is not None:
                self._failures.remove(failure)
        if failure is not None:
            if failure.code == 429:
                error = ApiError(429, f"Too Many Requests: retry after {failure.retry_after}", failure.retry_after)
            else:
                error = ApiError(failure.code, FAILURE_DESCRIPTIONS.get(failure.code, "Internal Server Error"))
            call.error = error.code
            return web.json_response(error.body(), status=error.code)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            call.error = 404
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        try:
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as exc:
            call.error = exc.code
            return web.json_response(exc.body(), status=exc.code)
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def _chat_id(params: Dict[str, Any]) -> int:
        raw = params.get("chat_id")
        if raw is None or str(raw).strip() == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        try:
            return int(raw)
        except ValueError as exc:
            raise ApiError(400, "Bad Request: chat not found") from exc

    def _message_json(self, sent: Sent) -> Dict[str, Any]:
        message: Dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(sent.at),
            "chat": self._chat(sent.chat_id),
            "from": BOT_USER,
        }
        if sent.method == "sendPhoto":
            message["photo"] = [{"file_id": f"photo{sent.message_id}", "file_unique_id": f"u{sent.message_id}",
                                 "width": 320, "height": 320, "file_size": len(sent.photo or b"")}]
            if sent.text:
                message["caption"] = sent.text
        else:
            message["text"] = sent.text
        if sent.reply_markup and "inline_keyboard" in sent.reply_markup:
            message["reply_markup"] = sent.reply_markup
        if sent.message_thread_id is not None:
            message["message_thread_id"] = sent.message_thread_id
            message["is_topic_message"] = True
            created = self.group_messages.get((sent.chat_id, sent.message_thread_id))
            if created is not None:
                message["reply_to_message"] = {k: v for k, v in created.items() if k != "reply_to_message"}
        return message

    def _store(
        self, method: str, chat_id: int, text: str, params: Dict[str, Any], photo: Optional[bytes] = None
    ) -> Sent:
        thread = params.get("message_thread_id")
        sent = Sent(
            chat_id=chat_id,
            message_id=self._next_message_id(chat_id),
            method=method,
            text=text,
            parse_mode=params.get("parse_mode"),
            reply_markup=params.get("reply_markup"),
            at=time.time(),
            photo=photo,
            message_thread_id=int(thread) if thread not in (None, "") else None,
        )
        with self._lock:
            self.messages[(chat_id, sent.message_id)] = sent
        hook = self.on_store
        if hook is not None:
            hook(sent)  # e.g. a fault test killing the bot after Telegram accepted, before it hears so
        return sent

    def _api_getMe(self, _params: Dict[str, Any]) -> Dict[str, Any]:
        return BOT_USER

    async def _api_getUpdates(self, params: Dict[str, Any]) -> List[Dict[str, Any]]:
        if self.webhook.get("url"):
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, float(params.get("timeout") or 0))
        deadline = time.monotonic() + timeout
        assert self._changed is not None
        while True:
            self._changed.clear()
            with self._lock:
                if offset > 0:  # confirms every update before `offset` that was returned before
                    self._updates = [
                        u for u in self._updates if u["update_id"] >= offset or id(u) not in self._delivered
                    ]
                    self._delivered &= {id(u) for u in self._updates}
                ready = self._updates[offset:] if offset < 0 else list(self._updates)
                ready = ready[:limit]
                self._delivered |= {id(u) for u in ready}
            if ready:
                return ready
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                return []

    def _destination(self, chat_id: int, params: Dict[str, Any]) -> None:
        """Refuses a send Telegram would refuse for where it goes: a thread id in a private chat
        or one that is no (longer a) topic, a closed topic, a group the bot is not in."""
        raw = params.get("message_thread_id")
        thread: Optional[int] = None
        if raw not in (None, ""):
            try:
                thread = int(raw)
            except (TypeError, ValueError) as exc:
                raise ApiError(400, THREAD_NOT_FOUND) from exc
        if chat_id > 0:
            if thread is not None:
                raise ApiError(400, THREAD_NOT_FOUND)
            return
        group = self._group(chat_id)
        if group.bot_status == "kicked":
            raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")
        if group.bot_status == "left":
            raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
        if thread is None:
            return
        with self._lock:
            topic = self.topics.get((chat_id, thread))
        if not group.is_forum or topic is None:
            raise ApiError(400, THREAD_NOT_FOUND)
        if topic["closed"]:
            raise ApiError(400, "Bad Request: TOPIC_CLOSED")

    def _count_post(self, chat_id: int) -> None:
        """Counts a new message against its group's limit (429 with retry_after beyond it)."""
        if chat_id > 0:
            return
        group = self._group(chat_id)
        now = time.monotonic()
        with self._lock:
            while group.posts and group.posts[0] <= now - self.group_window_s:
                group.posts.popleft()
            if len(group.posts) >= self.group_limit:
                wait = max(1, math.ceil(group.posts[0] + self.group_window_s - now))
                raise ApiError(429, f"Too Many Requests: retry after {wait}", wait)
            group.posts.append(now)

    def _api_sendMessage(self, params: Dict[str, Any]) -> Dict[str, Any]:
        chat_id = self._chat_id(params)
        self._destination(chat_id, params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        visible = visible_text(text, params.get("parse_mode"))
        if utf16_len(visible) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        if not visible.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        _check_markup(params.get("reply_markup"))
        self._count_post(chat_id)
        return self._message_json(self._store("sendMessage", chat_id, visible, params))

    def _api_sendPhoto(self, params: Dict[str, Any]) -> Dict[str, Any]:
        chat_id = self._chat_id(params)
        self._destination(chat_id, params)
        photo = params.get("photo")
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params.get(photo.removeprefix("attach://"))
        if photo is None or photo == "" or photo == b"":
            raise ApiError(400, "Bad Request: there is no photo in the request")
        caption = str(params.get("caption") or "")
        visible = visible_text(caption, params.get("parse_mode")) if caption else ""
        if utf16_len(visible) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        _check_markup(params.get("reply_markup"))
        data = photo if isinstance(photo, bytes) else str(photo).encode()
        if isinstance(photo, bytes) and not (photo.startswith(b"\x89PNG") or photo.startswith(b"\xff\xd8")):
            raise ApiError(400, "Bad Request: IMAGE_PROCESS_FAILED")
        self._count_post(chat_id)
        return self._message_json(self._store("sendPhoto", chat_id, visible, params, photo=data))

    def _edited(self, params: Dict[str, Any]) -> Sent:
        chat_id = self._chat_id(params)
        try:
            message_id = int(params.get("message_id") or 0)
        except ValueError as exc:
            raise ApiError(400, "Bad Request: message identifier is not specified") from exc
        with self._lock:
            sent = self.messages.get((chat_id, message_id))
        if sent is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        return sent

    def _api_editMessageText(self, params: Dict[str, Any]) -> Dict[str, Any]:
        sent = self._edited(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        visible = visible_text(text, params.get("parse_mode"))
        if utf16_len(visible) > MAX_TEXT:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        markup = params.get("reply_markup")
        _check_markup(markup)
        if visible == sent.text and markup == sent.reply_markup:
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                "markup are exactly the same as a current content and reply markup of the message")
        with self._lock:
            sent.edits.append((time.time(), sent.text))
            sent.text, sent.reply_markup, sent.parse_mode = visible, markup, params.get("parse_mode")
        return self._message_json(sent)

    def _api_editMessageReplyMarkup(self, params: Dict[str, Any]) -> Dict[str, Any]:
        sent = self._edited(params)
        markup = params.get("reply_markup")
        _check_markup(markup)
        if markup == sent.reply_markup or (not markup and not sent.buttons):
            raise ApiError(400, "Bad Request: message is not modified")
        with self._lock:
            sent.edits.append((time.time(), sent.text))
            sent.reply_markup = markup
        return self._message_json(sent)

    def _api_answerCallbackQuery(self, params: Dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if not query_id:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        with self._lock:
            if query_id in self.callback_answers:
                raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is "
                                    "invalid")
            self.callback_answers[query_id] = {**params, "at": time.time()}
        return True

    def _api_sendChatAction(self, params: Dict[str, Any]) -> bool:
        self._destination(self._chat_id(params), params)
        return True

    def _api_getChat(self, params: Dict[str, Any]) -> Dict[str, Any]:
        chat_id = self._chat_id(params)
        if chat_id < 0 and self._group(chat_id).bot_status in {"left", "kicked"}:
            raise ApiError(400, "Bad Request: chat not found")
        gifts = {"unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                 "premium_subscription": False, "gifts_from_channels": False}
        return {**self._chat(chat_id), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": gifts}

    def _api_getChatMember(self, params: Dict[str, Any]) -> Dict[str, Any]:
        chat_id = self._chat_id(params)
        try:
            user_id = int(params.get("user_id") or 0)
        except ValueError as exc:
            raise ApiError(400, "Bad Request: invalid user_id specified") from exc
        if user_id <= 0:
            raise ApiError(400, "Bad Request: invalid user_id specified")
        if chat_id > 0:
            if user_id not in (chat_id, BOT_USER["id"]):
                raise ApiError(400, "Bad Request: member not found")
            return {"status": "member", "user": BOT_USER if user_id == BOT_USER["id"] else self._user(user_id)}
        group = self._group(chat_id)
        if user_id == BOT_USER["id"]:
            return group.bot_member()
        member = group.members.get(user_id)
        if member is None:
            return {"status": "left", "user": self._user(user_id)}
        if member["status"] == "administrator":
            rights = {name: name != "can_promote_members" for name in ADMIN_RIGHTS}
            return {**member, "can_be_edited": False, "is_anonymous": False, **rights}
        if member["status"] == "creator":
            return {**member, "is_anonymous": False}
        return dict(member)

    def _api_getChatAdministrators(self, params: Dict[str, Any]) -> List[Dict[str, Any]]:
        chat_id = self._chat_id(params)
        if chat_id > 0:
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        group = self._group(chat_id)
        admins = []
        for user_id, member in group.members.items():
            if member["status"] in {"administrator", "creator"}:
                admins.append(self._api_getChatMember({"chat_id": chat_id, "user_id": user_id}))
        if group.bot_status == "administrator":
            admins.append(group.bot_member())
        return admins

    @staticmethod
    def _commands_key(params: Dict[str, Any]) -> Tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return (str(scope.get("type", "default")), str(params.get("language_code") or ""))

    def _api_setMyCommands(self, params: Dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 BotCommand")
        for command in commands:
            name = str(command.get("command", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        with self._lock:
            self.commands[self._commands_key(params)] = commands
        return True

    def _api_getMyCommands(self, params: Dict[str, Any]) -> List[Dict[str, Any]]:
        with self._lock:
            return list(self.commands.get(self._commands_key(params), []))

    def _api_deleteMyCommands(self, params: Dict[str, Any]) -> bool:
        with self._lock:
            self.commands.pop(self._commands_key(params), None)
        return True

    def _api_setWebhook(self, params: Dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        with self._lock:
            self.webhook = {"url": url, "secret_token": secret} if url else {}
            if url and params.get("drop_pending_updates") in (True, "true", "True"):
                self._updates.clear()
        if url:
            for update in list(self._updates):
                asyncio.ensure_future(self._post_webhook(update))
        return True

    def _api_deleteWebhook(self, params: Dict[str, Any]) -> bool:
        with self._lock:
            self.webhook = {}
            if params.get("drop_pending_updates") in (True, "true", "True"):
                self._updates.clear()
        return True

    def _api_getWebhookInfo(self, _params: Dict[str, Any]) -> Dict[str, Any]:
        with self._lock:
            return {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    async def _post_webhook(self, update: Dict[str, Any]) -> None:
        """Posts an update to the webhook (with the secret header), retrying briefly like Telegram."""
        url = self.webhook.get("url")
        if not url:
            return
        headers = {}
        if self.webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
        async with ClientSession(timeout=ClientTimeout(total=30)) as session:
            for delay in (0, 0.5, 1, 2, 4):
                await asyncio.sleep(delay)
                try:
                    async with session.post(url, json=update, headers=headers) as response:
                        if response.status < 300:
                            with self._lock:
                                self._updates = [u for u in self._updates if u is not update]
                            return
                except Exception:  # the gateway may be restarting; Telegram retries too
                    continue

    # Forum topics (for the staff hand-off in a forum supergroup). Errors as the Bot API server
    # words them (tdlib's ForumTopicManager: "Not enough rights to create a topic" and so on).

    def _forum(self, params: Dict[str, Any]) -> Group:
        chat_id = self._chat_id(params)
        if chat_id > 0 or not self._group(chat_id).is_forum:
            raise ApiError(400, "Bad Request: the chat is not a forum")
        group = self._group(chat_id)
        if group.bot_status in {"left", "kicked"}:
            raise ApiError(400, "Bad Request: chat not found")
        return group

    def _api_createForumTopic(self, params: Dict[str, Any]) -> Dict[str, Any]:
        group = self._forum(params)
        if not group.bot_can("can_manage_topics"):
            raise ApiError(400, "Bad Request: not enough rights to create a topic")
        name = str(params.get("name") or "").strip()
        if not name:
            raise ApiError(400, "Bad Request: title must be non-empty")
        if len(name) > 128:
            raise ApiError(400, "Bad Request: TOPIC_TITLE_INVALID")  # clients cut at 128; the API refuses
        try:
            color = int(params.get("icon_color") or 7322096)
        except ValueError as exc:
            raise ApiError(400, "Bad Request: invalid icon color specified") from exc
        if not 0 <= color <= 0xFFFFFF:
            raise ApiError(400, "Bad Request: invalid icon color specified")
        topic = self._new_topic(group.chat_id, name, color, BOT_USER)
        return {"message_thread_id": topic["message_thread_id"], "name": name, "icon_color": color}

    def _topic(self, params: Dict[str, Any], right: str, refusal: str) -> Tuple[Group, Dict[str, Any]]:
        group = self._forum(params)
        try:
            thread = int(params.get("message_thread_id") or 0)
        except ValueError:
            thread = 0
        if thread <= 0:
            raise ApiError(400, "Bad Request: invalid message thread identifier specified")
        with self._lock:
            topic = self.topics.get((group.chat_id, thread))
        if topic is None:
            raise ApiError(400, "Bad Request: TOPIC_ID_INVALID")
        if topic["creator"] != BOT_USER["id"] and not group.bot_can(right):
            raise ApiError(400, refusal)
        return group, topic

    def _api_editForumTopic(self, params: Dict[str, Any]) -> bool:
        _group, topic = self._topic(params, "can_manage_topics", "Bad Request: not enough rights to edit the topic")
        if params.get("name"):
            name = str(params["name"]).strip()
            if not 1 <= len(name) <= 128:
                raise ApiError(400, "Bad Request: TOPIC_TITLE_INVALID")
            if name == topic["name"]:
                raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
            topic["name"] = name
        return True

    def _toggle_closed(self, params: Dict[str, Any], closed: bool) -> bool:
        group, topic = self._topic(params, "can_manage_topics",
                                   "Bad Request: not enough rights to close or open the topic")
        if topic["closed"] == closed:
            raise ApiError(400, "Bad Request: TOPIC_NOT_MODIFIED")
        topic["closed"] = closed
        service = {"forum_topic_closed": {}} if closed else {"forum_topic_reopened": {}}
        self._group_message(group.chat_id, BOT_USER, topic["message_thread_id"], **service)
        return True

    def _api_closeForumTopic(self, params: Dict[str, Any]) -> bool:
        return self._toggle_closed(params, True)

    def _api_reopenForumTopic(self, params: Dict[str, Any]) -> bool:
        return self._toggle_closed(params, False)

    def _api_deleteForumTopic(self, params: Dict[str, Any]) -> bool:
        group, topic = self._topic(params, "can_delete_messages", "Bad Request: not enough rights to delete the topic")
        with self._lock:
            self.topics.pop((group.chat_id, topic["message_thread_id"]), None)
        return True

    # ---- the control routes (for other processes) ------------------------------------------------

    async def _control_inject(self, request: web.Request) -> web.Response:
        body = await request.json()
        kind = body.get("kind", "text")
        chat_id = int(body["chat_id"])
        if kind == "text":
            update = self.send_text(chat_id, str(body["text"]))
        elif kind == "press":
            update = self.press(chat_id, int(body["message_id"]), str(body["data"]))
        elif kind == "contact":
            update = self.send_contact(chat_id, str(body["phone_number"]), body.get("user_id"))
        elif kind == "raw":
            update = self.push_update(body["update"])
        else:
            return web.json_response({"error": f"unknown kind {kind}"}, status=400)
        return web.json_response(update)

    async def _control_sent(self, request: web.Request) -> web.Response:
        chat = request.query.get("chat_id")
        since = float(request.query.get("since", 0))
        items = self.sent(int(chat) if chat else None, since)
        return web.json_response([
            {"chat_id": m.chat_id, "message_id": m.message_id, "method": m.method, "text": m.text,
             "reply_markup": m.reply_markup, "at": m.at, "edits": len(m.edits)}
            for m in items
        ])

    async def _control_fail(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.fail_next(int(body.get("count", 1)), int(body.get("error_code", 429)), body.get("retry_after", 1),
                       body.get("methods", SENDING_METHODS))
        return web.json_response({"ok": True})

    async def _control_reset(self, _request: web.Request) -> web.Response:
        self.reset_failures()
        return web.json_response({"ok": True})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args()
    emulator = BotApiEmulator(args.token, port=args.port).start()
    print(f"Bot API emulator at {emulator.base_url} (token {args.token}); Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
