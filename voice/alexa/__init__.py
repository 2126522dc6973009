"""Alexa skill endpoint pieces: request verification (handlers come later)."""
