"""`GET /healthz`: liveness for the supervisor (tools/services.py)."""

from __future__ import annotations

from typing import Dict

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness")
def read_health() -> Dict[str, str]:
    return {"status": "ok"}
