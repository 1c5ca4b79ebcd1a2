"""Rasa training data (domain, NLU examples, rules) and the custom NLU components it needs."""
