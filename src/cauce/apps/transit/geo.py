"""UTM zone 19 south (EPSG:32719) <-> WGS84 latitude/longitude, vectorised with NumPy.

Krüger series to third order in n (sub-millimetre in the zone), so the engine needs no
projection library. PO coordinates are UTM 19S; GPS pings and metro stations are lat/lon.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: below this many points, one thread is faster than two
_PARALLEL_FROM = 200_000


def _in_threads(func: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
                a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """NumPy releases the GIL in its ufuncs: split big arrays over the machine's cores."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    workers = min(os.cpu_count() or 1, 8)
    if a.size < _PARALLEL_FROM or workers == 1:
        return func(a, b)
    bounds = np.linspace(0, a.size, workers + 1).astype(int)
    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(lambda i: func(a[bounds[i]:bounds[i + 1]],
                                             b[bounds[i]:bounds[i + 1]]), range(workers)))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

_A = 6378137.0
_F = 1 / 298.257223563
_K0 = 0.9996
_LON0 = np.radians(-69.0)
_E0 = 500000.0
_N0 = 10000000.0

_N = _F / (2 - _F)
_RECT = _A / (1 + _N) * (1 + _N**2 / 4 + _N**4 / 64)
_ALPHA = (_N / 2 - 2 * _N**2 / 3 + 5 * _N**3 / 16, 13 * _N**2 / 48 - 3 * _N**3 / 5,
          61 * _N**3 / 240)
_BETA = (_N / 2 - 2 * _N**2 / 3 + 37 * _N**3 / 96, _N**2 / 48 + _N**3 / 15, 17 * _N**3 / 480)
_DELTA = (2 * _N - 2 * _N**2 / 3 - 2 * _N**3, 7 * _N**2 / 3 - 8 * _N**3 / 5, 56 * _N**3 / 15)
_C = 2 * np.sqrt(_N) / (1 + _N)


def to_utm(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Latitude/longitude in degrees -> (easting, northing) in metres, UTM 19S."""
    return _in_threads(_to_utm, lat, lon)


def to_latlon(easting: np.ndarray, northing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """UTM 19S (easting, northing) in metres -> (latitude, longitude) in degrees."""
    return _in_threads(_to_latlon, easting, northing)


def _to_utm(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    phi = np.radians(np.asarray(lat, dtype=np.float64))
    lam = np.radians(np.asarray(lon, dtype=np.float64)) - _LON0
    sin_phi = np.sin(phi)
    t = np.sinh(np.arctanh(sin_phi) - _C * np.arctanh(_C * sin_phi))
    xi = np.arctan2(t, np.cos(lam))
    eta = np.arctanh(np.sin(lam) / np.sqrt(1 + t * t))
    easting = eta.copy()
    northing = xi.copy()
    for j, alpha in enumerate(_ALPHA, start=1):
        easting += alpha * np.cos(2 * j * xi) * np.sinh(2 * j * eta)
        northing += alpha * np.sin(2 * j * xi) * np.cosh(2 * j * eta)
    return _E0 + _K0 * _RECT * easting, _N0 + _K0 * _RECT * northing


def _to_latlon(easting: np.ndarray, northing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xi = (np.asarray(northing, dtype=np.float64) - _N0) / (_K0 * _RECT)
    eta = (np.asarray(easting, dtype=np.float64) - _E0) / (_K0 * _RECT)
    xi_p = xi.copy()
    eta_p = eta.copy()
    for j, beta in enumerate(_BETA, start=1):
        xi_p -= beta * np.sin(2 * j * xi) * np.cosh(2 * j * eta)
        eta_p -= beta * np.cos(2 * j * xi) * np.sinh(2 * j * eta)
    chi = np.arcsin(np.sin(xi_p) / np.cosh(eta_p))
    phi = chi.copy()
    for j, delta in enumerate(_DELTA, start=1):
        phi += delta * np.sin(2 * j * chi)
    lam = _LON0 + np.arctan2(np.sinh(eta_p), np.cos(xi_p))
    return np.degrees(phi), np.degrees(lam)


#: a generous box around the Santiago region, to reject impossible coordinates
LAT_RANGE = (-34.5, -32.5)
LON_RANGE = (-71.5, -69.8)
