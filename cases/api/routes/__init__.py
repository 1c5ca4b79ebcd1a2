"""One `APIRouter` per resource: cases, events, processes, webhooks, health."""
