"""Programme news: topics, published updates, the digests that carry them, the embeddable form."""
