"""rasa_sdk actions of the power-service assistant; discovered by package scan.

Start the server with `python -m actions.server` (it loads the knowledge base first).
"""
