"""Local Alexa control without the cloud: the charger as an emulated WeMo switch."""
