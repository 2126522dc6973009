"""Alexa custom skill: request verification, ask-sdk-core handlers, the aiohttp endpoint."""
