"""Google Assistant Smart Home fulfillment for the MQ 200."""
