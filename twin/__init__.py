"""Digital twin of the MQ 200: state documents, sync API, and the physics model."""
