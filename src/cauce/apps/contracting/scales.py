"""The sizes of the synthetic exports: processes per scale.

Apart from the generator, so that declaring the `synth` and `portal` jobs (whose help lists the
scales) does not import NumPy and Polars.
"""

SCALES = {"tiny": 2_000, "small": 10_000, "medium": 100_000, "large": 1_000_000}
