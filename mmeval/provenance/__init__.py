"""Provenance: keyed watermarks for text, images and audio, and signed manifests."""
