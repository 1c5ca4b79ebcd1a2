"""The case API: the reference service standing for the grid company's business system.

Cases of zero-document applications (零证办电) with their stages, deadlines in working days,
events and signed webhooks. `cases/README.md` is the contract; `python -m cases.main` runs it.
"""
