"""The particle study's full preset (``python -m bench run particles --preset full``), recorded apart
from the quick preset's so that a sitting's architectures add up without replacing the other record."""
