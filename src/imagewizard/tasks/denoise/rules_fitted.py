"""Fitted noise-level rules of the classical denoisers.

Written by benchmarks/tools/fit_denoise_rules.py; do not edit by hand. Each value is
clamp(a * max(sigma, 1)**b [+ c], lo, hi) with sigma on the 0..255 scale (see rules.py).
Fitted on BSDS500 training crops at sigma 5, 10, 15, 25, 35, 50, 75; last run:
    nice -n 10 .venv/bin/python benchmarks/tools/fit_denoise_rules.py --write --families bilateral tv-chambolle tv-bregman wavelet-bayes-soft wavelet-bayes-hard wavelet-visu-soft wavelet-visu-hard anisotropic-exp anisotropic-rational
(with --families, the other rules are kept from the previous version of this file).
"""

FITTED = {
    "anisotropic.iterations_exp": {
        "gray": {"form": "power", "a": 0.377037, "b": 0.764525, "lo": 2, "hi": 64},
        "color": {"form": "power", "a": 0.671074, "b": 0.674055, "lo": 2, "hi": 64},
    },
    "anisotropic.iterations_rational": {
        "gray": {"form": "power", "a": 0.513141, "b": 0.857082, "lo": 2, "hi": 64},
        "color": {"form": "power", "a": 1.1193, "b": 0.796941, "lo": 2, "hi": 64},
    },
    "anisotropic.kappa_exp": {
        "gray": {"form": "power", "a": 2.94674, "b": 0.921003, "lo": 6.16965, "hi": 352.557},
        "color": {"form": "offset-power", "a": 1.68994, "b": 1.025, "c": 6.44035, "lo": 7.44496, "hi": 300},
    },
    "anisotropic.kappa_rational": {
        "gray": {"form": "power", "a": 2.58739, "b": 0.654269, "lo": 3.8799, "hi": 88.638},
        "color": {"form": "offset-power", "a": 1.18158, "b": 0.75, "c": 2.03912, "lo": 2.99628, "hi": 62.7612},
    },
    "bilateral.sigma_px": {
        "gray": {"form": "power", "a": 0.422545, "b": 0.500843, "lo": 1, "hi": 4.5},
        "color": {"form": "power", "a": 0.813493, "b": 0.371655, "lo": 1, "hi": 4.5},
    },
    "bilateral.sigma_range": {
        "gray": {"form": "offset-power", "a": 0.419032, "b": 1.55, "c": 6.08926, "lo": 5.34337, "hi": 754.921},
        "color": {"form": "offset-power", "a": 0.703378, "b": 1.4, "c": 5.69744, "lo": 6.12387, "hi": 636.396},
    },
    "mrf-map.alpha_huber": {
        "gray": {"form": "offset-power", "a": 16.3419, "b": -1.325, "c": 0.0306406, "lo": 0.0416667, "hi": 3.97399},
    },
    "mrf-map.alpha_quadratic": {
        "gray": {"form": "power", "a": 364.16, "b": -1.6828, "lo": 0.127337, "hi": 50},
    },
    "mrf-map.delta_huber": {
        "gray": {"form": "power", "a": 1.80068, "b": 0.224489, "lo": 0.25, "hi": 30},
    },
    "nlm.h_opencv": {
        "gray": {"form": "power", "a": 1.08502, "b": 0.934208, "lo": 2.42795, "hi": 120},
        "color": {"form": "power", "a": 1.15643, "b": 0.911588, "lo": 2.47748, "hi": 120},
    },
    "nlm.h_skimage": {
        "gray": {"form": "power", "a": 1.24098, "b": 0.748189, "lo": 2.12132, "hi": 63.6396},
        "color": {"form": "power", "a": 0.845863, "b": 0.889769, "lo": 1.69906, "hi": 78.6642},
    },
    "nlm.patch_size_opencv": {
        "gray": {"form": "power", "a": 1.90063, "b": 0.195, "lo": 3, "hi": 9},
        "color": {"form": "power", "a": 1.78291, "b": 0.239321, "lo": 3, "hi": 9},
    },
    "nlm.patch_size_skimage": {
        "gray": {"form": "power", "a": 3.21309, "b": 0.185892, "lo": 3, "hi": 9},
        "color": {"form": "power", "a": 3.21309, "b": 0.185892, "lo": 3, "hi": 9},
    },
    "tv.weight_bregman": {
        "gray": {"form": "power", "a": 0.000198783, "b": 1.82544, "lo": 0.00177883, "hi": 1.18794},
        "color": {"form": "power", "a": 0.000511635, "b": 1.60387, "lo": 0.00352693, "hi": 1.22311},
    },
    "tv.weight_chambolle": {
        "gray": {"form": "power", "a": 0.000907302, "b": 1.35663, "lo": 0.00393843, "hi": 0.59397},
        "color": {"form": "power", "a": 0.00137495, "b": 1.27304, "lo": 0.00532442, "hi": 0.677735},
    },
    "wavelet.threshold_scale_bayes_hard": {
        "gray": {"form": "offset-power", "a": 3.7118, "b": -1.225, "c": 1.07892, "lo": 0.545464, "hi": 3.1877},
        "color": {"form": "power", "a": 2.08043, "b": -0.153993, "lo": 0.553931, "hi": 3.37896},
    },
    "wavelet.threshold_scale_bayes_soft": {
        "gray": {"form": "offset-power", "a": 2.03745, "b": -1.25, "c": 0.950863, "lo": 0.483038, "hi": 2.44152},
        "color": {"form": "power", "a": 1.25464, "b": -0.0609436, "lo": 0.48869, "hi": 2.258},
    },
    "wavelet.threshold_scale_visu_hard": {
        "gray": {"form": "offset-power", "a": 0.0249083, "b": 0.55, "c": 0.449476, "lo": 0.256112, "hi": 1.428},
        "color": {"form": "offset-power", "a": 0.0224286, "b": 0.5, "c": 0.523388, "lo": 0.287088, "hi": 1.428},
    },
    "wavelet.threshold_scale_visu_soft": {
        "gray": {"form": "power", "a": 0.096195, "b": 0.35434, "lo": 0.085058, "hi": 0.892699},
        "color": {"form": "offset-power", "a": 0.0889425, "b": 0.325, "c": 0.0777544, "lo": 0.113598, "hi": 0.883625},
    },
}
