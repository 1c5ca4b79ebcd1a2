"""The knowledge base: entry files, their loader into the database, retrieval and tariffs."""
