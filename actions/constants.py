"""Names of slots, intents, actions and answer kinds shared by the actions and the gateway."""

# Slots
SLOT_REGION = "region"
SLOT_ANSWER_KIND = "answer_kind"
SLOT_ANSWER_ID = "answer_id"
SLOT_PENDING_TOPIC = "pending_topic"
SLOT_PENDING_BILL = "pending_bill"
SLOT_HANDOFF_REQUESTED = "handoff_requested"

# Intents
INTENT_NLU_FALLBACK = "nlu_fallback"
INTENT_INFORM_REGION = "inform_region"
INTENT_ASK_BILL = "ask_bill"
INTENT_HUMAN_HANDOFF = "human_handoff"
FAQ_INTENT_PREFIX = "faq_"

# Entities
ENTITY_REGION = "region"

# What the last reply was; the gateway derives `meta.fallback` from it.
KIND_KNOWLEDGE = "knowledge"
KIND_ASK_REGION = "ask_region"
KIND_SUGGEST = "suggest"
KIND_FALLBACK = "fallback"
KIND_OUT_OF_SCOPE = "out_of_scope"
KIND_CHITCHAT = "chitchat"
KIND_BILL = "bill"
KIND_HANDOFF = "handoff"
NO_ANSWER_KINDS = frozenset({KIND_SUGGEST, KIND_FALLBACK, KIND_OUT_OF_SCOPE})

PENDING_BILL = "bill"
HUMAN_PAYLOAD = "/human_handoff"

# --- The zero-document application (application_form) ---
FORM_APPLICATION = "application_form"
FORM_CASE_CHECK = "case_check_form"
REQUESTED_SLOT = "requested_slot"
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
SLOT_CASE_ID = "case_id"
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
KIND_FORM = "form"
KIND_STATUS = "status"
# A field fails this many times in a row before the assistant explains the format and offers
# to continue, cancel or talk to a person.
MAX_FIELD_FAILURES = 2
APPLY_PAYLOAD = "/apply_connection"
CANCEL_PAYLOAD = "/cancel_form"
CONTINUE_PAYLOAD = "/continue_form"
STATUS_PAYLOAD = "/ask_status"
