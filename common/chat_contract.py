"""The contract between the actions (Rasa side) and the gateway: names both sides spell.

The gateway (`bot/chat.py`, `bot/telegram/`, `bot/handoff/`) and the action server
(`actions/`) each used to spell slot names, payloads and meta keys themselves, which is how
`meta.handoff` drifted (the gateway read a slot the actions never wrote). Every name that
crosses that line is defined here, once, and both sides import it.
"""

from __future__ import annotations

# --- Slots the gateway reads from Rasa's tracker ------------------------------------------
SLOT_ANSWER_KIND = "answer_kind"
SLOT_ANSWER_ID = "answer_id"
SLOT_REGION = "region"
SLOT_CASE_ID = "case_id"
SLOT_HANDOFF_REQUESTED = "handoff_requested"
REQUESTED_SLOT = "requested_slot"

# Form slots whose answers are data (a name, an address in Chinese, digits) and say nothing
# about the language the resident reads: while one is asked, the conversation keeps its locale.
DATA_SLOTS = frozenset({"name", "id_number", "address", "phone", "capacity_kw", "id_last4"})

# --- Answer kinds (slot `answer_kind`) ------------------------------------------------------
KIND_KNOWLEDGE = "knowledge"
KIND_ASK_REGION = "ask_region"
KIND_SUGGEST = "suggest"
KIND_FALLBACK = "fallback"
KIND_OUT_OF_SCOPE = "out_of_scope"
KIND_CHITCHAT = "chitchat"
KIND_BILL = "bill"
KIND_HANDOFF = "handoff"
KIND_FORM = "form"
KIND_STATUS = "status"
# Kinds that give no answer from knowledge: `meta.fallback` is true for them.
NO_ANSWER_KINDS = frozenset({KIND_SUGGEST, KIND_FALLBACK, KIND_OUT_OF_SCOPE})

# --- The meta custom payload the actions attach to each turn ------------------------------
META_KEY = "meta"
META_INTENT = "intent"
META_CONFIDENCE = "confidence"
META_FALLBACK = "fallback"
META_HANDOFF = "handoff"
META_REQUESTED_SLOT = "requested_slot"
META_CASE_ID = "case_id"
META_ANSWER_ID = "answer_id"
# Set by an action that wants a person to take over: {"reason": str, "priority": str, "lead": bool}.
META_HANDOFF_REQUEST = "handoff_request"

# Hand-off reasons (the staff see them; no personal data).
REASON_ASKED = "asked"
REASON_FALLBACKS = "fallbacks"
REASON_FORM = "form_help"
REASON_COMPLAINT = "complaint"
REASON_EMERGENCY = "emergency"
REASON_OUTAGE = "outage"
REASON_LEAD = "hv_lead"

# --- Button payloads -------------------------------------------------------------------------
HUMAN_PAYLOAD = "/human_handoff"
APPLY_PAYLOAD = "/apply_connection"
CANCEL_PAYLOAD = "/cancel_form"
CONTINUE_PAYLOAD = "/continue_form"
STATUS_PAYLOAD = "/ask_status"
# Leaves the hand-off queue (the web page's and Telegram's "leave the queue" button).
LEAVE_QUEUE_PAYLOAD = "/handoff_cancel"
# Rating after a hand-off: /handoff_rate_1 … /handoff_rate_5, then solved / unsolved / skip.
RATE_PAYLOAD_PREFIX = "/handoff_rate_"
RATE_SOLVED_PAYLOAD = "/handoff_rate_solved"
RATE_UNSOLVED_PAYLOAD = "/handoff_rate_unsolved"
RATE_SKIP_PAYLOAD = "/handoff_rate_skip"

# Telegram commands that are shortcuts for a payload, as on the web page's buttons.
TELEGRAM_COMMAND_PAYLOADS = {
    "apply": APPLY_PAYLOAD,
    "status": STATUS_PAYLOAD,
    "human": HUMAN_PAYLOAD,
    "cancel": CANCEL_PAYLOAD,
}
