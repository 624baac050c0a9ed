"""Training of the region codebook (CyberHost RAM): data, losses, the loop and its CLI."""
