"""The gates: every model of the matrix measured on the real CIFAR-10 data and held to the bar (what users run)."""
