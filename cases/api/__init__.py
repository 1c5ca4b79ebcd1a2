"""HTTP routes of the case API, one module per resource under `cases.api.routes`."""
