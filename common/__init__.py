"""Code shared by every process: settings, database, personal-data masking, i18n, scripts.

This package imports none of the others (bot, actions, knowledge, tools); they import it.
"""
