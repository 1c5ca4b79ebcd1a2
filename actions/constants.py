"""Names of slots, intents, actions and answer kinds of the actions.

Those the gateway reads too (slots, kinds, payloads, meta keys) are defined once in
`common/chat_contract.py` and re-exported here.
"""

from common.chat_contract import (  # noqa: F401  (the names the gateway shares)
    APPLY_PAYLOAD,
    CANCEL_PAYLOAD,
    CONTINUE_PAYLOAD,
    HUMAN_PAYLOAD,
    KIND_ASK_REGION,
    KIND_BILL,
    KIND_CHITCHAT,
    KIND_FALLBACK,
    KIND_FORM,
    KIND_HANDOFF,
    KIND_KNOWLEDGE,
    KIND_OUT_OF_SCOPE,
    KIND_STATUS,
    KIND_SUGGEST,
    NO_ANSWER_KINDS,
    REQUESTED_SLOT,
    SLOT_ANSWER_ID,
    SLOT_ANSWER_KIND,
    SLOT_CASE_ID,
    SLOT_HANDOFF_REQUESTED,
    SLOT_REGION,
    STATUS_PAYLOAD,
)

# Slots
SLOT_PENDING_TOPIC = "pending_topic"
SLOT_PENDING_BILL = "pending_bill"

# Intents
INTENT_NLU_FALLBACK = "nlu_fallback"
INTENT_INFORM_REGION = "inform_region"
INTENT_ASK_BILL = "ask_bill"
INTENT_HUMAN_HANDOFF = "human_handoff"
FAQ_INTENT_PREFIX = "faq_"

# Entities
ENTITY_REGION = "region"



PENDING_BILL = "bill"

# --- The zero-document application (application_form) ---
FORM_APPLICATION = "application_form"
FORM_CASE_CHECK = "case_check_form"
SLOT_NAME = "name"
SLOT_ID_NUMBER = "id_number"
SLOT_ADDRESS = "address"
SLOT_PHONE = "phone"
SLOT_CUSTOMER_TYPE = "customer_type"
SLOT_CAPACITY = "capacity_kw"
SLOT_CONFIRM = "confirm"
# Optional: water and gas applied for together (一次办), asked where the province offers it.
SLOT_LINKED = "linked_utilities"
JOINT_APPLICATION_PROVINCES = ("广东省",)
# The fields in the order they are asked; `confirm` comes last.
APPLICATION_FIELDS = (SLOT_NAME, SLOT_ID_NUMBER, SLOT_ADDRESS, SLOT_PHONE, SLOT_CUSTOMER_TYPE, SLOT_CAPACITY)
APPLICATION_SLOTS = (*APPLICATION_FIELDS, SLOT_LINKED, SLOT_CONFIRM)
# Bookkeeping slots of the form.
SLOT_FORM_HINT = "form_hint"  # what the next prompt must say first: a problem, a choice, help
SLOT_FORM_FAILURES = "form_failures"  # {field: failed attempts in a row}
SLOT_APPLICATION_KEY = "application_key"  # the idempotency key of this application
SLOT_APPLICATION_PREVIEW = "application_preview"  # process and deadline the case API previewed
SLOT_CONFIRMED_AT = "confirmed_at"  # the consent's time, recorded as the signature
SLOT_CASE_CHECK = "case_check"  # {case_id, verified} while a case number is being checked
SLOT_ID_LAST4 = "id_last4"

INTENT_APPLY = "apply_connection"
INTENT_ASK_STATUS = "ask_status"
INTENT_CANCEL_FORM = "cancel_form"
INTENT_CORRECT_FIELD = "correct_field"
INTENT_CONTINUE_FORM = "continue_form"
INTENT_INFORM = "inform"
INTENT_AFFIRM = "affirm"
INTENT_DENY = "deny"
ENTITY_CUSTOMER_TYPE = "customer_type"
ENTITY_FIELD = "field"
ENTITY_LINKED = "linked"

CUSTOMER_TYPES = ("resident", "lv_business", "hv")
# A field fails this many times in a row before the assistant explains the format and offers
# to continue, cancel or talk to a person.
MAX_FIELD_FAILURES = 2
