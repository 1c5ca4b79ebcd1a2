"""Form validation and prompt actions, one module per form."""
