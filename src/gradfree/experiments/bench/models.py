"""The bench's model table: a name -> how to build the model for a suite, and where it cannot run.

Every entry builds a fresh estimator from a :class:`Setting` (suite, quick, seed, device, data shape).
Where a model cannot run a suite, :meth:`ModelEntry.reason` says why, and the bench's table shows it:
a regressor has no class predictions, a classifier no real-valued output, and a continual method on a
single task is just its base model.

Each factory imports its model when it is called, so reading the table imports no system. The
configurations here are chosen to be fast (a bench, not a tuning run); the paper's own experiments live
in ``gradfree run``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gradfree.experiments.bench.suites import SUITES

CLASSIFICATION_KINDS = ("continual", "supervised", "classification")


@dataclass(frozen=True)
class Setting:
    """What a factory knows when it builds a model for one (suite, seed).

    Examples
    --------
    >>> setting = Setting(suite="digits", kind="supervised", quick=True, seed=0, device="cpu",
    ...                   n_features=64, n_classes=10)
    >>> MODELS["ncm"].make(setting)
    NearestClassMean()
    """

    suite: str
    kind: str
    quick: bool
    seed: int
    device: str
    n_features: int
    n_classes: int


@dataclass(frozen=True)
class ModelEntry:
    """A row of the bench: ``make(setting)`` builds the estimator.

    ``task``: "classifier" | "regressor" | "both" (the factory picks by ``setting.kind``).
    ``continual``: "stream" (``partial_fit`` task by task),
    "joint" (one ``fit`` on all tasks: the upper bound) or "none" (with the reason in ``cannot``).
    ``cannot``: suite ->
    reason, for anything beyond the generic rules. ``too_slow`` / ``too_slow_quick``: suites left out
    of every run / of ``--quick`` runs because one unit would take far longer than the bench's budget
    (``slow_why`` says how long).

    Examples
    --------
    >>> from gradfree.baselines import NearestClassMean
    >>> entry = ModelEntry("my-ncm", "nearest class mean, cosine", lambda s: NearestClassMean("cosine"))
    >>> entry.reason("digits"), entry.reason("emns-regression")     # None: it runs that suite
    (None, 'classifier: no real-valued output')
    >>> MODELS["mlp-seq"].reason("digits")
    'outside a task stream it is mlp-joint'
    """

    name: str
    summary: str
    make: Callable[[Setting], Any]
    task: str = "classifier"
    continual: str = "stream"
    cannot: dict[str, str] = field(default_factory=dict)
    too_slow: tuple[str, ...] = ()
    too_slow_quick: tuple[str, ...] = ()
    slow_why: str = ""

    def reason(self, suite: str, quick: bool = False) -> str | None:
        """Why this model does not run ``suite`` (``None`` when it does)."""
        kind = SUITES[suite].kind
        if self.task == "regressor" and kind in CLASSIFICATION_KINDS:
            return "regressor: no class predictions"
        if self.task == "classifier" and kind == "regression":  # "both" runs either
            return "classifier: no real-valued output"
        if suite in self.cannot:
            return self.cannot[suite]
        if kind == "continual" and self.continual == "none":
            return "not a continual learner"
        if suite in self.too_slow or (quick and suite in self.too_slow_quick):
            return ("too slow for the " + ("--quick " if suite not in self.too_slow else "") + "budget"
                    + (f" ({self.slow_why})" if self.slow_why else ""))
        return None


# ---------------------------------------------------------------------------------------- baselines
def _epochs(s: Setting) -> int:
    """Epochs per fit / per task: enough to fit each suite, fewer in quick mode."""
    if s.kind == "continual":
        return 3 if s.quick else 10
    if s.kind in ("classification", "regression"):  # 200 samples
        return 50 if s.quick else 300
    return 10 if s.quick else 30


def _mlp_kw(s: Setting) -> dict:
    return dict(hidden_layer_sizes=(256,), epochs=_epochs(s), lr=1e-3,
                batch_size=32 if s.kind in ("classification", "regression") else 64,
                random_state=s.seed, device=s.device)


def _ncm(s: Setting) -> Any:
    from gradfree.baselines import NearestClassMean

    return NearestClassMean(device=s.device)


def _mlp(s: Setting) -> Any:
    from gradfree.baselines import MLPClassifier, MLPRegressor

    return (MLPRegressor if s.kind == "regression" else MLPClassifier)(**_mlp_kw(s))


SPARSE_LINK_RATIO = 0.1


def _sparse(s: Setting) -> Any:
    from gradfree.baselines import SparseMLPClassifier

    return SparseMLPClassifier(link_ratio=SPARSE_LINK_RATIO, **_mlp_kw(s))


def _ewc(s: Setting) -> Any:
    from gradfree.baselines import EWCClassifier

    return EWCClassifier(ewc_lambda=1000.0, **_mlp_kw(s))


def _replay(s: Setting) -> Any:
    from gradfree.baselines import ReplayClassifier

    return ReplayClassifier(buffer_size=200, **_mlp_kw(s))


# ---------------------------------------------------------------------------------------- systems
IMAGE_SUITES = ("split-digits", "split-fashion", "split-manifolds", "digits", "fashion")
FASHION_SUITES = ("split-fashion", "fashion")


def _rmn(s: Setting) -> Any:
    """The paper's configuration (``RMNClassifier.paper()``: 1000 neurons, k 5 %, homeostasis every
    sample, overcomplete read-out, one pass)."""
    from gradfree.rmn import RMNClassifier

    return RMNClassifier.paper(random_state=s.seed, device=s.device)


def _rmn_defaults(s: Setting) -> Any:
    """The constructor's defaults (centred inputs, 1000 frozen resonance neurons, discriminant read-out)."""
    from gradfree.rmn import RMNClassifier

    return RMNClassifier(random_state=s.seed, device=s.device)


RF_FEATURES = 1000  # rf-slda's size: the RMN defaults' neuron count


def _slda(s: Setting) -> Any:
    from gradfree.baselines import SLDAClassifier

    return SLDAClassifier(device=s.device)


def _rf_slda(s: Setting) -> Any:
    from gradfree.baselines import SLDAClassifier

    return SLDAClassifier(random_features=RF_FEATURES, random_state=s.seed, device=s.device)


def _rmn_consolidating(s: Setting) -> Any:
    """The RMN module's own extension preset (centred inputs, consolidation; see its docstring)."""
    from gradfree.rmn import RMNClassifier

    return RMNClassifier.consolidating(random_state=s.seed, device=s.device)


def _rmn_patches(s: Setting) -> Any:
    """RMN's patch preset for images (16 frozen 3 x 3 patch neurons pooled over blocks, discriminant)."""
    from gradfree.rmn import RMNClassifier

    return RMNClassifier.patches(random_state=s.seed, device=s.device)


_NOT_IMAGES = "not images: patch neurons need a pixel grid"


def _emns_budget(s: Setting) -> int:
    """Evaluations per fit / per task: the paper's 5000 on the small demos, a token budget on images."""
    if s.kind in ("regression", "classification"):
        return 1000 if s.quick else 5000
    return 100 if s.quick or s.suite in FASHION_SUITES else 500


def _emns_classifier(s: Setting) -> Any:
    """``gradfree.emns.SCALE`` (the classifier's defaults: 19,200 evaluations, 4,800 in --quick); on the
    continual suites ``EMNSMLPClassifier.continual()`` (fitness over the current task's classes; 3,200
    evaluations per task, 800 in --quick)."""
    from gradfree.emns import EMNSMLPClassifier

    if s.kind == "continual":
        return EMNSMLPClassifier.continual(max_evaluations=800 if s.quick else 3200, random_state=s.seed,
                                        device=s.device)
    return EMNSMLPClassifier(max_evaluations=4800 if s.quick else 19_200, random_state=s.seed,
                             device=s.device)


def _emns_regressor(s: Setting) -> Any:
    from gradfree.emns import EMNSRegressor

    return EMNSRegressor(max_evaluations=_emns_budget(s), random_state=s.seed, device=s.device)


def _wuxing(s: Setting) -> Any:
    """The library's defaults (adders of fan-in 3, element-aware wiring, stabilised BSP update, inputs
    scaled by the estimator) on MODEL1-like hidden layers 200-62-20, fanout 12 (docs/decisions.md, Wuxing)."""
    from gradfree.wuxing import WuxingClassifier

    return WuxingClassifier(hidden_layer_sizes=(200, 62, 20), fanout=12, epochs=1 if s.quick else 2,
                            random_state=s.seed, device=s.device)


_SINGLE_TASK = "continual-learning method: on one task it is the MLP"
_SAME_AS_JOINT = "outside a task stream it is mlp-joint"

MODELS: dict[str, ModelEntry] = {m.name: m for m in [
    ModelEntry("ncm", "nearest class mean (no forgetting by construction)", _ncm),
    ModelEntry("mlp-joint", "backprop MLP (256 ReLU, Adam; `MLPRegressor` on the regression), trained on "
               "all tasks at once: upper bound", _mlp, task="both", continual="joint"),
    ModelEntry("mlp-seq", "backprop MLP fine-tuned task after task: forgetting lower bound", _mlp,
               cannot={k: _SAME_AS_JOINT for k in ("digits", "fashion", "emns-classification")}),
    ModelEntry(f"sparse-mlp-{SPARSE_LINK_RATIO:.0%}",
               f"backprop MLP with a fixed random mask, link ratio {SPARSE_LINK_RATIO:.0%} (task by task "
               "in continual suites)", _sparse),
    ModelEntry("ewc", "backprop MLP + elastic weight consolidation (lambda 1000)", _ewc,
               cannot={k: _SINGLE_TASK for k in ("digits", "fashion", "emns-classification")}),
    ModelEntry("replay", "backprop MLP + experience replay (reservoir buffer of 200)", _replay,
               cannot={k: _SINGLE_TASK for k in ("digits", "fashion", "emns-classification")}),
    ModelEntry("slda", "streaming LDA (Hayes & Kanan 2020) on the raw input: class means + shared "
               "covariance, Ledoit-Wolf shrinkage, one pass", _slda),
    ModelEntry(f"rf-slda-{RF_FEATURES}", f"streaming LDA on {RF_FEATURES} frozen random ReLU features of the "
               "centred input", _rf_slda),
    ModelEntry("rmn", "Resonant Manifold Network, the paper's configuration (`RMNClassifier.paper()`: "
               "1000 neurons, homeostasis every sample, overcomplete read-out, one pass)", _rmn),
    ModelEntry("rmn-defaults", "`RMNClassifier()` defaults: centred input, 1000 frozen resonance neurons, "
               "discriminant read-out (streaming class means + shared covariance)", _rmn_defaults),
    ModelEntry("rmn-consolidating", "RMN with the module's consolidating extension preset "
               "(`RMNClassifier.consolidating`)", _rmn_consolidating),
    ModelEntry("rmn-patches", "`RMNClassifier.patches()`: 16 frozen 3 x 3 patch neurons, resonances averaged "
               "over 8 x 8 blocks, discriminant read-out (images only)", _rmn_patches,
               cannot={k: _NOT_IMAGES for k in ("split-manifolds", "emns-classification")}),
    ModelEntry("emns", "EMNS classifier, the wide-MLP preset `gradfree.emns.SCALE` (32 tanh, 64 mirrored "
               "resistance-scaled candidates a generation on minibatches of 256, cross-entropy, Adam "
               "centre): 19,200 evaluations per fit (4,800 quick); continual suites "
               "`EMNSMLPClassifier.continual()` (fitness over the current task's classes), 3,200 per task "
               "(800 quick)",
               _emns_classifier),
    ModelEntry("emns-regressor", "Evolvable Modular Neural System regressor, hidden (8, 4), 5000 evaluations "
               "(1000 quick)", _emns_regressor, task="regressor"),
    ModelEntry("wuxing", "Wuxing network, `WuxingClassifier` defaults (adders fan-in 3, element-aware "
               "wiring, stabilised BSP), hidden 200-62-20, fanout 12, 2 epochs (1 quick)", _wuxing),
]}
