"""Staff side of the gateway: accounts and sessions (auth), the staff API and the /staff console."""
