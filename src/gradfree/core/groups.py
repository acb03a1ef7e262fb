"""Groups of constructor options: one frozen dataclass per purpose, validated like an estimator.

An estimator with many options keeps the most-used ones top-level and gathers the others by purpose
into a group (``RMNClassifier(homeostasis=HomeostasisParams(interval=1))``), so no constructor takes
more than 25 parameters (scikit-learn's largest take about 23). A group is a frozen dataclass marked
:func:`gradfree.core.io.saveable` (a saved model stores it among its parameters) that declares its
fields' constraints as an estimator does (``_parameter_constraints``, scikit-learn's validation);
:meth:`ParamGroup.check` applies them, and the estimator calls it from ``_check_param_rules``, so a
group is checked whenever the estimator's parameters are: at every ``fit`` / ``partial_fit`` and when
a model file is loaded. An estimator's parameter that holds a group defaults to None (scikit-learn
wants plain defaults); None stands for the group's defaults, or for "off" where the group is an
optional mechanism.

Files saved before a group existed hold its options as flat parameters: :func:`regroup` moves them
into the group (a rewrite of the file's JSON before it is decoded, so every value still passes the
same checks).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, TypeVar

from sklearn.utils._param_validation import validate_parameter_constraints

from gradfree.core.io import qualname

G = TypeVar("G", bound="ParamGroup")


class ParamGroup:
    """Base of the option groups (mixed into a frozen dataclass)."""

    #: scikit-learn parameter constraints of the fields, as for an estimator
    _parameter_constraints: ClassVar[dict] = {}

    def check(self: G) -> G:
        """Validate every field against ``_parameter_constraints``; return self (``ValueError`` naming
        the field otherwise)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        validate_parameter_constraints(self._parameter_constraints, values, caller_name=type(self).__name__)
        self._check_rules()
        return self

    def _check_rules(self) -> None:
        """Rules that involve several fields (none by default)."""

    @staticmethod
    def or_default(value: G | None, default: G) -> G:
        """An estimator's group parameter resolved: ``value``, or ``default`` where it is None (None
        stands for the group's defaults, or for "off" where ``default`` switches the mechanism off).

        >>> import dataclasses
        >>> @dataclasses.dataclass(frozen=True)
        ... class Rates(ParamGroup):
        ...     lr: float = 0.1
        >>> ParamGroup.or_default(None, Rates()), ParamGroup.or_default(Rates(lr=0.5), Rates())
        (Rates(lr=0.1), Rates(lr=0.5))
        """
        return default if value is None else value


def regroup(params: dict[str, Any], group: str, cls: type, renamed: dict[str, str],
            enabled: str | None = None) -> dict[str, Any]:
    """A saved model's parameters (JSON, not decoded) with the flat options ``renamed`` (old name ->
    field of ``cls``) moved into parameter ``group``; unchanged unless every old name is present.
    ``enabled`` names an old boolean parameter (it may be ``group`` itself) that switched the mechanism
    on: when it is not true the group becomes None (off)."""
    if not all(old in params for old in renamed):
        return params
    out = {k: v for k, v in params.items() if k not in renamed}
    on = out.pop(enabled, None) if enabled is not None else True
    fields = {new: params[old] for old, new in renamed.items()}
    out[group] = {"__dataclass__": qualname(cls), "fields": fields} if on is True else None
    return out
