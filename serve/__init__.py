"""The Ray layer of fleetsre: Serve ingress, actors, the CLI and the wiring between them."""
