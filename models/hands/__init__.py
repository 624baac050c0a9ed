"""Hand quality measures: CyberHost's hand clarity score (std of the Laplacian of hand crops) and its plot."""
