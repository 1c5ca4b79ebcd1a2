"""The Case JSON, with personal data masked or redacted.

The one place that turns a stored case into what the API returns. The ID number and the
phone are always masked (`common.pii`). Only staff (`cases/auth.py`) see the full view; every
other client gets the applicant's name masked, the address without its street-level detail,
and no `sender_id`, no staff notes (history, pending items) and no registry results
(`documents`), so neither a case number nor a client key discloses who applied or from where.
"""

from __future__ import annotations

from typing import Any, Dict, List

from cases.crud import next_stages
from cases.models import ITEM_LINKED, ITEM_PENDING, Case, optional_dt
from common.crypto import FieldCipher
from common.pii import mask_id, mask_phone


def mask_name(name: str) -> str:
    """张三明 → 张*明, 张三 → 张*, 欧阳小明 → 欧**明; one character → *."""
    name = name.strip()
    if len(name) <= 1:
        return "*" * len(name)
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _address(case: Case, full: bool) -> Dict[str, Any]:
    address: Dict[str, Any] = {
        "province": case.province,
        "city": case.city,
        "district": case.district,
        "detail": case.address_detail,
        "area_code": case.area_code,
        "text": case.address_text,
    }
    if not full:
        del address["detail"]
        address["text"] = case.address_text.removesuffix(case.address_detail)
    return address


def _items(case: Case, full: bool) -> Dict[str, List[Dict[str, Any]]]:
    pending = [
        {"id": item.id, "kind": item.kind, "status": item.status, **({"note": item.note} if full else {})}
        for item in case.items
        if item.item_group == ITEM_PENDING
    ]
    linked = [
        {"id": item.id, "kind": item.kind, "status": item.status}
        for item in case.items
        if item.item_group == ITEM_LINKED
    ]
    return {"pending_items": pending, "linked_applications": linked}


def case_json(case: Case, *, cipher: FieldCipher, full: bool) -> Dict[str, Any]:
    """The Case JSON; `full` (the staff role) adds name, address detail, sender, notes, documents."""
    name = cipher.decrypt(case.name_enc)
    body: Dict[str, Any] = {
        "case_id": case.case_id,
        "status": case.status,
        "stage": case.stage,
        "stages": case.stages,
        "next_stages": next_stages(case),
        "history": [
            {"stage": h.stage, "at": optional_dt(h.at), **({"note": h.note, "actor": h.actor} if full else {})}
            for h in case.history
        ],
        "process": case.process,
        "deadline": case.deadline.isoformat(),
        "deadline_basis": case.deadline_basis,
        "zero_investment": case.zero_investment,
        "customer_type": case.customer_type,
        "capacity_kw": case.capacity_kw,
        "applicant": {
            "name": name if full else mask_name(name),
            "id_number": mask_id(cipher.decrypt(case.id_number_enc)),
            "phone": mask_phone(cipher.decrypt(case.phone_enc)),
        },
        "address": _address(case, full),
        "channel": case.channel,
        "sender_id": case.sender_id,
        "locale": case.locale,
        "documents": {"identity": case.identity_document, "property": case.property_document},
        **_items(case, full),
        "signature": {
            "confirmed_at": optional_dt(case.consent_confirmed_at),
            "registry_consent": case.registry_consent,
            "esign_consent": case.esign_consent,
        },
        "created_at": optional_dt(case.created_at),
        "updated_at": optional_dt(case.updated_at),
    }
    if not full:
        del body["sender_id"], body["documents"]
    return body
