"""Every gradfree estimator, imported in one place so the loader's allow-list is complete.

Estimator classes put themselves on :mod:`gradfree.core.io`'s allow-list when they are defined; the
loader imports this module first, so a model file loads in a fresh process whichever modules the caller
imported. It lists packages, never a name read from a file.
"""

from gradfree import baselines, emns, rmn, wuxing  # noqa: F401 - imported for their registrations
