"""EMNS on COCO and IOH beside the field's reference optimisers; ``benchmarks/bench_emns_blackbox.py``
is the command line, ``benchmarks/long_runs/coco_full.py`` the full-budget COCO run.

* :mod:`.continuous` / :mod:`.discrete`: the optimiser adapters (real vectors; bit strings), by name;
* :mod:`.coco`: COCO's suites with COCO's observer, and the numbers read back with cocopp;
* :mod:`.pbo`: IOH's PBO suite with IOH's analyzer;
* :mod:`.overhead`: each engine's own cost per evaluation;
* :mod:`.experiment`: one run of the chosen suites into a folder (``summary.json``);
* :mod:`.report`: ``report.md`` from a summary.
"""
