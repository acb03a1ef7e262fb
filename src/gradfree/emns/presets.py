"""Named configurations of the EMNS estimators (ours, each measured; the paper's own is ``PAPER`` in
:mod:`gradfree.emns.estimators`, built from the constructor's signature). Each is reached through a
classmethod of the class it configures, or is its defaults: ``EMNSRegressor()`` / ``EMNSClassifier()``
(TUNED, the paper's network), ``EMNSMLPClassifier()`` = ``.scale()`` (SCALE), ``.continual()``, ``.images()``,
``.images_weights()`` (the wide MLP, :mod:`gradfree.emns.wide`).
"""

from __future__ import annotations

#: The population configuration measured best on the reference regression (benchmarks/bench_emns.py):
#: (mu/mu_w, lambda) = (8/8_w, 16) with intermediate recombination and mirrored sampling, mu adapted by
#: cumulative step-size adaptation from 0.2 (floor 0.02), resistances (bounded by 0.95) adapted from the
#: selected mutations at rate 0.2. Train MSE <= 0.0105 in 10,000 evaluations: 27 of seeds 0-29 (where it
#: was chosen) and 29 of the held-out seeds 30-59; the previous TUNED (4/4_w, the 1/5th rule,
#: self-adaptive resistances) 17 of 0-29, and without mirrored sampling 13. The constructor's defaults
#: of ``EMNSRegressor`` / ``EMNSClassifier`` (with ``input_scaling="standard"``): at 5,000 evaluations it
#: also learns best on real data (diabetes, wine, breast cancer, digits;
#: ``benchmarks/compare_emns_defaults.py``).
TUNED: dict = dict(selection="comma", population_size=16, recombination=8, rate_rule="csa",
                   resistance_rate=0.2, mutation_rate=0.2, mu_min=0.02, r_max=0.95, keep_best=True,
                   mirrored=True)

#: mu of the wide MLP (the paper's mu_0 = 0.5 is for its own network)
MLP_MUTATION_RATE = 0.08
MLP_LEARNING_RATE = 0.015

#: The wide-MLP configuration (ours; :mod:`gradfree.emns.scale`): one hidden layer of 32 tanh
#: neurons, lambda = 64 mirrored candidates theta +- N * mu * (1 - r) (mu = 0.08, resistances 0.2 / 0.1)
#: scored as one batched matmul on a fresh minibatch of 256 per generation, fitness -cross-entropy
#: shaped into centred ranks, the centre moved by Adam (step 0.015, scaled by 1 - r) along the search
#: gradient, inputs standardised; 19,200 evaluations (300 generations).
#: Chosen on digits (split 1400/397, seeds 0-4) among: centre "recombine" (TUNED's weighted mean of the
#: best half; 96.1-96.4 %), Adam steps 0.01-0.03 (0.015 best, 97.0 %), mu 0.05-0.2, resistance_rate
#: 0.005-0.3, csa and annealed mu (none better). ``benchmarks/bench_emns_scale.py`` measures it beside
#: EvoTorch's PGPE, SNES and separable CMA-ES. ``EMNSMLPClassifier()``'s defaults.
SCALE: dict = dict(hidden_layer_sizes=(32,), population_size=64,
                   mutation_rate=MLP_MUTATION_RATE, centre="adam", learning_rate=MLP_LEARNING_RATE,
                   fitness="cross_entropy", shaping="rank", batch_size=256, max_evaluations=19_200,
                   input_scaling="standard")

#: Class-incremental learning on top of SCALE (ours): the fitness sees only the classes present
#: in the current ``partial_fit`` call's data (``class_mask="present"``), inputs scaled by the first
#: task's largest |x| (one task's per-feature statistics do not fit the next); 3,200 evaluations per call.
#: Split digits 5 x 2, no replay, no task id: 59 % (seeds 0-1; without the mask 19 %). The resistance
#: shield (``shield``, :func:`gradfree.emns.scale.consolidate`) is off: measured, it trades plasticity
#: for retention without a net gain (strong: task 1 kept at 99-100 % but later tasks stop learning,
#: 26-28 %; shield 0.5: 59 %, the same as without).
CONTINUAL: dict = dict(SCALE, class_mask="present", input_scaling="maxabs", max_evaluations=3200)

#: Image-sized data under a time budget with the paper's weight mutation (ours): SCALE on a 64-tanh
#: hidden layer with 128 candidates a generation, the centre step 0.01 halving every 9,000 generations,
#: mirrored noise from a shared table (``noise="table"``: faster draws). Measured on full Fashion-MNIST
#: with pixels averaged over 2 x 2 blocks (196-64-10; ``benchmarks/bench_emns_scale.py --dataset fashion
#: --population 128 --emns '{"mutate": "weights", "lr_half_life": 9000}'``, one core, 600 s, about 5.7 M
#: evaluations): 84.97 +- 0.18 % over seeds 0-4 (benchmarks/results/emns_fashion_search.md). On 784 raw
#: pixels (784-64-10) the step should halve every 3,000 generations (84.1 % in 600 s).
IMAGES_WEIGHTS: dict = dict(SCALE, hidden_layer_sizes=(64,), population_size=128, learning_rate=0.01,
                            lr_half_life=9000, noise="table", max_evaluations=5_760_000)

#: Image-sized data under a time budget (ours): IMAGES_WEIGHTS with the mutation moved from the
#: weights to the neurons' summed inputs (``mutate="activities"``, :mod:`gradfree.emns.activity`), 256
#: mutated copies a generation (128 mirrored pairs per sample), the centre step 0.01 halving every 8,000
#: generations. Weight mutation estimates 13k slopes from 64 pairs; activity mutation 74 per sample, so
#: its step is far less noisy and a generation costs less (the first layer is computed once). Measured on
#: full Fashion-MNIST, 2 x 2-pooled pixels, 196-64-10, one core, 600 s, seeds 0-4 (``python
#: benchmarks/bench_emns_scale.py --dataset fashion --jobs 2``): 86.8 +- 0.3 %, beside EvoTorch's SNES
#: 84.5 %, CMA-ES 84.4 % and PGPE 82.2 % in the same run (IMAGES_WEIGHTS: 84.97 %). ``max_evaluations`` is
#: about 600 s on this project's machine (~16,000 evaluations a second).
IMAGES: dict = dict(IMAGES_WEIGHTS, mutate="activities", population_size=256, lr_half_life=8000,
                    max_evaluations=10_000_000)
