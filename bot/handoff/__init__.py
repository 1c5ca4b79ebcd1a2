"""Hand-off to staff: a person takes over a conversation, relays both ways, closes, is rated."""
