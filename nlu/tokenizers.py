"""A Jieba tokenizer that drops whitespace tokens.

Rasa's `JiebaTokenizer` keeps the spaces between words of mixed Chinese/English text as
tokens of their own (Rasa issue 7910); they then become noise features. This subclass keeps
everything else of the stock component, including its custom-dictionary handling.
"""

from __future__ import annotations

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class CleanJiebaTokenizer(JiebaTokenizer):
    """Jieba tokenization without whitespace-only tokens."""

    def tokenize(self, message: Message, attribute: str) -> List[Token]:
        """Tokenizes like `JiebaTokenizer`, then drops tokens that are only whitespace."""
        tokens = super().tokenize(message, attribute)
        kept = [token for token in tokens if token.text.strip()]
        return kept or tokens[:1]
