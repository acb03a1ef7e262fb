"""wuxing-mnist's report checks the paper's Fig. 2 / Fig. 4 statements on three measures of each curve
(final epoch, mean of the late epochs, best epoch), from results.json alone."""

from __future__ import annotations

from gradfree.experiments.wuxing_mnist import report


def _curve(test: list[float], lr: float = 0.005) -> dict:
    return {"test": test, "train": test, "final_test": test[-1], "link_ratio": lr}


def _results(fig2: dict, fig4: dict) -> dict:
    cfg = {"data": "fashion-mnist", "epochs": 12, "n_train": 100, "n_test": 50, "mlp_epochs": 5,
           "beyond_scales": []}
    return {"config": cfg, "fig2": fig2, "fig3": {}, "fig4": fig4, "adders": {}, "beyond": {}, "notes": []}


def test_verdicts_follow_the_numbers():
    peaky = _curve([0.1, 0.7] + [0.4] * 10)  # best early, then drifts: late mean 0.4
    steady = _curve([0.1, 0.6] + [0.6] * 10)
    chance = _curve([0.1, 0.12] + [0.1] * 10)
    text = report(_results({"bsp": [peaky], "fixed_point": [chance], "mixed": [steady]},
                           {"MODEL1": [peaky], "MODEL2": [steady]}), {"seeds": [0]})
    assert "mean of the last 10 epochs (%)" in text and "70.0 ± 0.0 (epoch 2)" in text
    assert "method 1 (fixed_point): does not train (best epoch 12.0 %" in text
    assert ("mixing (mixed): mixed above bsp on 2 of 3 measures (final 60.00 % > 40.00 %; "
            "late 60.00 % > 40.00 %; best 60.00 % < 70.00 %)") in text
    assert "Fig. 4: MODEL2 above MODEL1 on 2 of 3 measures" in text


def test_no_verdict_without_the_curves_it_compares():
    text = report(_results({"fixed_point": [_curve([0.3, 0.4])]}, {"MODEL1": [_curve([0.5, 0.6])]}),
                  {"seeds": [0]})
    assert "mean of the last 2 epochs (%)" in text and "Against the paper" not in text
