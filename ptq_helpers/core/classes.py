"""CIFAR-10's class names, in label order (what every per-class figure is indexed by)."""
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
