"""Voice assistant front ends (Alexa, Google Assistant, Siri Shortcuts) for the MQ 200."""
