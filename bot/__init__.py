"""The channel gateway: web chat API and page now, Telegram next, one asyncio process.

Every channel goes through `bot.chat.ChatService`, which owns script and locale handling,
input checks, per-sender ordering and the Rasa conversation; the conversation itself lives
in Rasa's tracker store.
"""
