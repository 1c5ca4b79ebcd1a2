"""The Telegram front end of the gateway (python-telegram-bot 22), beside the web chat.

`app.build_telegram` wires the handlers (one module per feature: `start`, `faq`, `lang`,
`conversation`), `delivery` sends queued status updates, `webhook` receives updates in webhook
mode. See bot/telegram/app.py for the whole flow.
"""
