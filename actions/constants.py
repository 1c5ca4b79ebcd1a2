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
