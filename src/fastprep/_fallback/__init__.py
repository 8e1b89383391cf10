"""Pure-Python/NumPy reference implementations of every native kernel.

This package is the readable specification of fastprep: the native code must give identical
results, and ``FASTPREP_BACKEND=python`` (or ``backend="python"``) runs it instead.
"""
