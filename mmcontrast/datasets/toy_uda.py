"""Procedural generator of the embedded toy UDA benchmark.

Every image is a driving-like scene seen by a pinhole camera above a flat ground plane: a road
with lane markings, sidewalks, grass strips, building facades with windows, a distant skyline,
poles, trees, people and cars, all placed in 3D and scaled by depth. Objects are rasterised
with a z-buffer, so occlusion follows depth and every pixel has a metric depth.

The two domains sample scenes from the same world distribution and differ only in appearance:

* ``source``: a flat, saturated "game engine" palette, sunny and almost noise-free.
* ``target``: the source's hues desaturated and darker (generator 1.2), multi-scale texture
  noise, random exposure/colour cast, slight defocus, and homogeneous fog from the Koschmieder
  model ``I = J * t + A * (1 - t)`` with ``t = exp(-beta * depth)`` (as in Foggy Cityscapes).

Labels are Cityscapes train ids (road 0, sidewalk 1, building 2, pole 5, vegetation 8, sky 10,
person 11, car 13); boxes of people and cars are derived from the visible instance masks and
written as COCO JSON. Generation is deterministic by seed: each image draws from its own
``numpy.random.Generator`` seeded by ``(seed, domain, split, index)``.
"""
import inspect
import json
import multiprocessing
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils
from scipy import ndimage

from mmcontrast.utils.file_lock import generate_once

GENERATOR_VERSION = '1.2'
DEFAULT_TOY_UDA_ROOT = 'data/toy_uda'

# Cityscapes train ids of the classes the toy world contains.
ROAD, SIDEWALK, BUILDING, POLE, VEGETATION, SKY, PERSON, CAR = 0, 1, 2, 5, 8, 10, 11, 13
TOY_TRAIN_IDS = (ROAD, SIDEWALK, BUILDING, POLE, VEGETATION, SKY, PERSON, CAR)
TOY_SEG_CLASSES = ('road', 'sidewalk', 'building', 'pole', 'vegetation', 'sky', 'person', 'car')
TOY_DET_CLASSES = ('person', 'car')
IGNORE_INDEX = 255
DOMAINS = ('source', 'target')
SPLITS = ('train', 'val')

# Material codes, used only for appearance (several materials share one class).
(M_PLAIN, M_MARKING, M_WINDOW, M_TRUNK, M_SKIN, M_LEGS, M_CAR_WINDOW, M_WHEEL, M_LIGHT, M_GRASS,
 M_SKYLINE) = range(11)
_NUM_MATERIALS = 11

SKY_DEPTH = 1000.0  # metres; fog turns the sky into airlight
MAX_GROUND_DEPTH = 300.0
NEAR_CLIP = 1.0

# Appearance of each domain (RGB). ``class`` maps a train id to its base colour; material
# entries override it; ``cars``/``clothes`` are per-instance palettes.
PALETTES = {
    'source': dict(
        cls={ROAD: (96, 92, 104), SIDEWALK: (196, 170, 150), BUILDING: (190, 120, 90),
             POLE: (150, 150, 165), VEGETATION: (50, 170, 60), PERSON: (230, 60, 60),
             CAR: (40, 80, 220)},
        building_alt=(215, 200, 160),
        sky_top=(70, 140, 245), sky_horizon=(170, 210, 255),
        mat={M_MARKING: (245, 245, 235), M_WINDOW: (90, 170, 230), M_TRUNK: (120, 80, 40),
             M_SKIN: (240, 195, 160), M_LEGS: (40, 50, 140), M_CAR_WINDOW: (60, 200, 230),
             M_WHEEL: (25, 25, 25), M_LIGHT: (255, 30, 30), M_GRASS: (110, 200, 70),
             M_SKYLINE: (150, 150, 200)},
        cars=((220, 30, 30), (40, 80, 220), (240, 240, 240), (250, 210, 30), (30, 160, 80),
              (200, 90, 200)),
        clothes=((230, 60, 60), (250, 150, 30), (60, 200, 90), (70, 90, 240), (240, 240, 60)),
    ),
}


def _dulled(colour, saturation: float = 0.45, value: float = 0.8) -> Tuple[float, ...]:
    """``colour`` with its chroma scaled by ``saturation`` around its grey, then darkened by ``value``."""
    rgb = np.asarray(colour, np.float32)
    grey = float(rgb @ np.array([0.299, 0.587, 0.114], np.float32))
    return tuple((value * (grey + saturation * (rgb - grey))).round(1).tolist())


def _dulled_palette(pal: dict) -> dict:
    out = {}
    for key, val in pal.items():
        if isinstance(val, dict):
            out[key] = {k: _dulled(c) for k, c in val.items()}
        elif isinstance(val[0], (tuple, list)):
            out[key] = tuple(_dulled(c) for c in val)
        else:
            out[key] = _dulled(val)
    return out


# The target palette (generator 1.2): the source's hues, desaturated and darker, as Cityscapes'
# real colours are to GTA5's (same hues, duller). Generator 1.1 drew an unrelated palette (grey sky,
# olive vegetation, grey cars): the source-only model never predicted sky or vegetation on the
# target (IoU 0.0 / 6.6, toy world init, seed 0), so self-training could not discover them either
# (DACS 0.0 / 4.0) and closed 30% of the gap to the oracle.
PALETTES['target'] = _dulled_palette(PALETTES['source'])

# Default appearance-shift parameters of the target domain (see ``render_appearance``).
DEFAULT_TARGET_STYLE = dict(
    fog_beta=(0.01, 0.035),  # per metre; visibility 3 / beta = 85..300 m
    airlight=(0.72, 0.9),  # fraction of 255
    gain=(0.75, 1.05),
    cast=0.08,  # per-channel multiplicative colour cast amplitude
    texture_low=0.18,  # amplitude of low-frequency (blotchy) texture
    texture_high=0.10,  # amplitude of high-frequency (grainy) texture
    noise_std=5.0,  # pixel noise, in grey levels
    blur_sigma=0.7,
)


class _Canvas:
    """Rasteriser state: z-buffered label, depth, instance, material and tint maps."""

    def __init__(self, height: int, width: int) -> None:
        self.h, self.w = height, width
        self.label = np.full((height, width), SKY, np.uint8)
        self.depth = np.full((height, width), SKY_DEPTH, np.float32)
        self.inst = np.zeros((height, width), np.int32)
        self.mat = np.full((height, width), M_PLAIN, np.uint8)
        self.tint = np.zeros((height, width), np.float32)
        self.drawn_area: Dict[int, int] = {}  # instance id -> pixels before occlusion

    def paint(self, region: Tuple[int, int, int, int], parts: np.ndarray, depth, label: int,
              tint: float, inst: int = 0) -> None:
        """Writes ``parts`` (material + 1, 0 = empty) into ``region`` where it is nearer."""
        y0, y1, x0, x1 = region
        mask = parts > 0
        if inst:
            self.drawn_area[inst] = int(mask.sum())
        mask &= depth < self.depth[y0:y1, x0:x1]
        if not mask.any():
            return
        self.label[y0:y1, x0:x1][mask] = label
        self.depth[y0:y1, x0:x1][mask] = depth[mask] if np.ndim(depth) else depth
        self.inst[y0:y1, x0:x1][mask] = inst
        self.mat[y0:y1, x0:x1][mask] = parts[mask] - 1
        self.tint[y0:y1, x0:x1][mask] = tint


class _Camera:
    """Pinhole camera at height ``cam_h`` looking along +z; world y points up."""

    def __init__(self, height: int, width: int, rng: np.random.Generator) -> None:
        self.f = 1.0 * width
        self.cx = width * (0.5 + rng.uniform(-0.08, 0.08))
        self.vh = height * (0.42 + rng.uniform(-0.05, 0.05))
        self.cam_h = rng.uniform(1.4, 1.8)

    def project(self, x, y, z):
        """Returns image (u, v) of world points (x lateral, y height above ground, z depth)."""
        return self.cx + self.f * x / z, self.vh + self.f * (self.cam_h - y) / z


def _box_region(cam: _Camera, canvas: _Canvas, x0: float, x1: float, y1: float, z: float,
                pad: int = 1) -> Optional[Tuple[int, int, int, int, float, float]]:
    """Image region of a camera-facing billboard [x0, x1] x [0, y1] at depth ``z``.

    Returns (row0, row1, col0, col1, u_offset, v_offset) or None when off screen.
    """
    u0, v1 = cam.project(x0, 0.0, z)
    u1, v0 = cam.project(x1, y1, z)
    c0, c1 = int(np.floor(min(u0, u1))) - pad, int(np.ceil(max(u0, u1))) + pad + 1
    r0, r1 = int(np.floor(v0)) - pad, int(np.ceil(v1)) + pad + 1
    c0, r0 = max(c0, 0), max(r0, 0)
    c1, r1 = min(c1, canvas.w), min(r1, canvas.h)
    if c0 >= c1 or r0 >= r1:
        return None
    return r0, r1, c0, c1, float(c0), float(r0)


def _draw_rect(parts: np.ndarray, cam: _Camera, off: Tuple[float, float], z: float, x0: float,
               x1: float, y0: float, y1: float, material: int) -> None:
    """Fills the world rectangle [x0, x1] x [y0, y1] at depth z (local canvas coordinates)."""
    u0, v0 = cam.project(x0, y1, z)
    u1, v1 = cam.project(x1, y0, z)
    pts = np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]]) - np.array(off)
    cv2.fillConvexPoly(parts, np.round(pts * 16).astype(np.int32), material + 1, cv2.LINE_8, 4)


def _draw_ellipse(parts: np.ndarray, cam: _Camera, off: Tuple[float, float], z: float, xc: float,
                  yc: float, rx: float, ry: float, material: int) -> None:
    uc, vc = cam.project(xc, yc, z)
    axes = (max(int(round(cam.f * rx / z * 16)), 8), max(int(round(cam.f * ry / z * 16)), 8))
    center = (int(round((uc - off[0]) * 16)), int(round((vc - off[1]) * 16)))
    cv2.ellipse(parts, center, axes, 0, 0, 360, material + 1, -1, cv2.LINE_8, 4)


def _draw_ground(canvas: _Canvas, cam: _Camera, world: dict) -> None:
    """Road, sidewalks, grass strips and lane markings on the ground plane."""
    rows = np.arange(canvas.h, dtype=np.float32)[:, None] + 0.5
    cols = np.arange(canvas.w, dtype=np.float32)[None, :] + 0.5
    below = rows - cam.vh
    valid = below > 0
    z = np.where(valid, cam.f * cam.cam_h / np.maximum(below, 1e-3), SKY_DEPTH)
    z = np.minimum(z, MAX_GROUND_DEPTH)
    x = (cols - cam.cx) * z / cam.f - world['road_x']
    ax = np.abs(x)
    rw, sw = world['road_half'], world['sidewalk']
    label = np.where(ax < rw, ROAD, np.where(ax < rw + sw, SIDEWALK, VEGETATION)).astype(np.uint8)
    mat = np.where(label == VEGETATION, M_GRASS, M_PLAIN).astype(np.uint8)
    dash = (np.mod(z + world['dash_phase'], 6.0) < 3.0)
    lines = (np.abs(x) < 0.08 * np.sqrt(np.maximum(z, 1.0)) * 0.5) & dash
    lines |= (np.abs(ax - (rw - 0.3)) < 0.06 * np.sqrt(np.maximum(z, 1.0)) * 0.5)
    mat = np.where(lines & (label == ROAD), M_MARKING, mat).astype(np.uint8)
    full = (0, canvas.h, 0, canvas.w)
    depth = np.broadcast_to(z, (canvas.h, canvas.w)).astype(np.float32)
    parts = np.where(np.broadcast_to(valid, (canvas.h, canvas.w)), mat + 1, 0).astype(np.uint8)
    for cls in (ROAD, SIDEWALK, VEGETATION):
        canvas.paint(full, np.where(label == cls, parts, 0).astype(np.uint8), depth, cls,
                     world['ground_tint'])


def _draw_facade(canvas: _Canvas, cam: _Camera, x_face: float, z0: float, z1: float,
                 height: float, tint: float, rng: np.random.Generator) -> None:
    """A building wall parallel to the road at lateral ``x_face`` from depth z0 to z1."""
    z0 = max(z0, NEAR_CLIP)
    if z1 <= z0:
        return
    pts = np.array([cam.project(x_face, y, z) for z, y in ((z0, 0.0), (z0, height), (z1, height),
                                                           (z1, 0.0))])
    c0, c1 = max(int(np.floor(pts[:, 0].min())) - 1, 0), min(int(np.ceil(pts[:, 0].max())) + 2,
                                                             canvas.w)
    r0, r1 = max(int(np.floor(pts[:, 1].min())) - 1, 0), min(int(np.ceil(pts[:, 1].max())) + 2,
                                                             canvas.h)
    if c0 >= c1 or r0 >= r1:
        return
    parts = np.zeros((r1 - r0, c1 - c0), np.uint8)
    cv2.fillConvexPoly(parts, np.round((pts - [c0, r0]) * 16).astype(np.int32), M_PLAIN + 1,
                       cv2.LINE_8, 4)
    cols = np.arange(c0, c1, dtype=np.float32)[None, :] + 0.5
    rows = np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5
    du = cols - cam.cx
    du = np.where(np.abs(du) < 1e-3, 1e-3, du)
    z = np.clip(cam.f * x_face / du, z0, z1)
    z = np.broadcast_to(z, (r1 - r0, c1 - c0))
    y = cam.cam_h - (rows - cam.vh) * z / cam.f
    # Windows: a regular grid in facade coordinates (depth along the street, height).
    wz, wy = rng.uniform(2.5, 4.0), rng.uniform(2.8, 3.5)
    win = (np.mod(z - z0, wz) / wz > 0.3) & (np.mod(z - z0, wz) / wz < 0.75)
    win &= (np.mod(y, wy) / wy > 0.3) & (np.mod(y, wy) / wy < 0.75)
    win &= (y > 2.0) & (y < height - 0.8)
    parts = np.where((parts > 0) & win, M_WINDOW + 1, parts).astype(np.uint8)
    canvas.paint((r0, r1, c0, c1), parts, z, BUILDING, tint)
    # Front wall facing the camera, visible across gaps between blocks.
    side = np.sign(x_face)
    _draw_billboard(canvas, cam, z0, min(x_face, x_face + side * 12.0),
                    max(x_face, x_face + side * 12.0), height, BUILDING, tint,
                    [('rect', (0.0, 1.0, 0.0, 1.0), M_PLAIN)])


def _draw_billboard(canvas: _Canvas, cam: _Camera, z: float, x0: float, x1: float, y1: float,
                    label: int, tint: float, prims: Sequence, inst: int = 0) -> None:
    """Draws primitives of an object occupying [x0, x1] x [0, y1] at constant depth ``z``.

    Each primitive is ``('rect', (fx0, fx1, fy0, fy1), material)`` or
    ``('ellipse', (fxc, fyc, frx, fry), material)`` in fractions of the object's extent.
    """
    if z < NEAR_CLIP:
        return
    region = _box_region(cam, canvas, x0, x1, y1, z)
    if region is None:
        return
    r0, r1, c0, c1, uo, vo = region
    parts = np.zeros((r1 - r0, c1 - c0), np.uint8)
    sx, sy = x1 - x0, y1
    for kind, (a, b, c, d), material in prims:
        if kind == 'rect':
            _draw_rect(parts, cam, (uo, vo), z, x0 + a * sx, x0 + b * sx, c * sy, d * sy, material)
        else:
            _draw_ellipse(parts, cam, (uo, vo), z, x0 + a * sx, b * sy, c * sx, d * sy, material)
    canvas.paint((r0, r1, c0, c1), parts, np.float32(z), label, tint, inst)


def _sample_world(rng: np.random.Generator) -> dict:
    road_half = rng.uniform(3.5, 7.0)
    return dict(
        road_half=road_half,
        road_x=rng.uniform(-0.5, 0.5) * road_half,
        sidewalk=rng.uniform(1.5, 4.0),
        grass=(rng.uniform(0.0, 4.0), rng.uniform(0.0, 4.0)),
        dash_phase=rng.uniform(0, 6),
        ground_tint=rng.uniform(),
    )


def render_scene(height: int, width: int, rng: np.random.Generator) -> Tuple[_Canvas, List[dict]]:
    """Samples and rasterises one scene.

    Args:
        height (int): Image height in pixels.
        width (int): Image width in pixels.
        rng (np.random.Generator): Source of randomness.

    Returns:
        tuple: The rasterised canvas (label/depth/inst/mat/tint maps) and the thing instances,
        each a dict with ``id`` and ``label`` (train id).
    """
    cam = _Camera(height, width, rng)
    canvas = _Canvas(height, width)
    world = _sample_world(rng)
    rw, sw, rx = world['road_half'], world['sidewalk'], world['road_x']
    _draw_ground(canvas, cam, world)

    # Distant skyline at the end of the street.
    z_far = rng.uniform(100, 180)
    x = -z_far * 0.8
    while x < z_far * 0.8:
        bw = rng.uniform(8, 30)
        if rng.uniform() < 0.8:
            _draw_billboard(canvas, cam, z_far, x, x + bw, rng.uniform(10, 45), BUILDING,
                            rng.uniform(), [('rect', (0, 1, 0, 1), M_SKYLINE)])
        x += bw

    things: List[dict] = []
    for side in (-1.0, 1.0):
        edge = rx + side * (rw + sw)
        x_face = edge + side * world['grass'][side > 0]
        # Building blocks with occasional gaps.
        z = rng.uniform(-5.0, 8.0)
        while z < 140.0:
            length = rng.uniform(8.0, 35.0)
            if rng.uniform() < 0.75:
                _draw_facade(canvas, cam, x_face, z, z + length, rng.uniform(6.0, 28.0),
                             rng.uniform(), rng)
            z += length + (rng.uniform(2.0, 12.0) if rng.uniform() < 0.4 else 0.0)
        # Trees on the outer edge of the sidewalk or in the grass strip.
        for _ in range(rng.integers(0, 6)):
            zt = rng.uniform(4.0, 90.0)
            xt = edge + side * rng.uniform(-0.6, max(world['grass'][side > 0], 0.2))
            r = rng.uniform(1.2, 3.0)
            trunk = rng.uniform(1.5, 3.0)
            top = trunk + 1.8 * r
            _draw_billboard(canvas, cam, zt, xt - r, xt + r, top, VEGETATION, rng.uniform(),
                            [('rect', (0.45, 0.55, 0.0, trunk / top + 0.05), M_TRUNK),
                             ('ellipse', (0.5, (trunk + 0.9 * r) / top, 0.5, 0.9 * r / top),
                              M_PLAIN)])
        # Poles at the kerb, regularly spaced.
        zp, spacing = rng.uniform(3.0, 20.0), rng.uniform(15.0, 35.0)
        xp = rx + side * (rw + rng.uniform(0.3, 0.8))
        while zp < 120.0:
            hp, wp = rng.uniform(4.5, 8.0), rng.uniform(0.2, 0.35)
            _draw_billboard(canvas, cam, zp, xp - wp / 2, xp + wp / 2, hp, POLE, rng.uniform(),
                            [('rect', (0.0, 1.0, 0.0, 1.0), M_PLAIN)])
            zp += spacing * rng.uniform(0.8, 1.2)
        # People on the sidewalk.
        for _ in range(rng.integers(0, 5)):
            things.append(dict(kind='person', x=rx + side * (rw + rng.uniform(0.3, sw - 0.2)),
                               z=rng.uniform(3.0, 40.0)))
        # Parked cars along the kerb.
        for _ in range(rng.integers(0, 4)):
            things.append(dict(kind='car', x=rx + side * (rw - 1.1), z=rng.uniform(4.0, 80.0)))
    # Moving cars in the lanes and people crossing.
    for _ in range(rng.integers(0, 5)):
        lane = rng.choice([-0.5, 0.5]) * rw
        things.append(dict(kind='car', x=rx + lane + rng.uniform(-0.4, 0.4),
                           z=rng.uniform(5.0, 90.0)))
    for _ in range(rng.integers(0, 2)):
        things.append(dict(kind='person', x=rx + rng.uniform(-rw, rw), z=rng.uniform(4.0, 40.0)))

    instances = []
    for inst_id, thing in enumerate(things, start=1):
        x, z, tint = thing['x'], thing['z'], rng.uniform()
        if thing['kind'] == 'person':
            h, w = rng.uniform(1.55, 1.95), rng.uniform(0.5, 0.7)
            prims = [('rect', (0.1, 0.45, 0.0, 0.48), M_LEGS), ('rect', (0.55, 0.9, 0.0, 0.48),
                                                                M_LEGS),
                     ('rect', (0.0, 1.0, 0.45, 0.85), M_PLAIN),
                     ('ellipse', (0.5, 0.92, 0.3, 0.08), M_SKIN)]
            _draw_billboard(canvas, cam, z, x - w / 2, x + w / 2, h, PERSON, tint, prims, inst_id)
            instances.append(dict(id=inst_id, label=PERSON))
        else:
            h, w = rng.uniform(1.35, 1.7), rng.uniform(1.7, 2.0)
            prims = [('rect', (0.0, 1.0, 0.12, 0.6), M_PLAIN),
                     ('rect', (0.12, 0.88, 0.55, 1.0), M_PLAIN),
                     ('rect', (0.2, 0.8, 0.63, 0.93), M_CAR_WINDOW),
                     ('rect', (0.05, 0.25, 0.0, 0.2), M_WHEEL), ('rect', (0.75, 0.95, 0.0, 0.2),
                                                                 M_WHEEL),
                     ('rect', (0.02, 0.14, 0.4, 0.52), M_LIGHT),
                     ('rect', (0.86, 0.98, 0.4, 0.52), M_LIGHT)]
            _draw_billboard(canvas, cam, z, x - w / 2, x + w / 2, h, CAR, tint, prims, inst_id)
            instances.append(dict(id=inst_id, label=CAR))
    return canvas, instances


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Zero-mean value noise in [-1, 1] with feature size ``cell`` pixels."""
    grid = rng.uniform(-1.0, 1.0, (height // cell + 2, width // cell + 2)).astype(np.float32)
    big = cv2.resize(grid, ((width // cell + 2) * cell, (height // cell + 2) * cell),
                     interpolation=cv2.INTER_CUBIC)
    return np.clip(big[:height, :width], -1.0, 1.0)


def koschmieder_fog(image: np.ndarray, depth: np.ndarray, beta: float,
                    airlight) -> np.ndarray:
    """Homogeneous fog: ``I = J * t + A * (1 - t)`` with ``t = exp(-beta * depth)``.

    Args:
        image (np.ndarray): Clear image J, shape (H, W, 3), float.
        depth (np.ndarray): Per-pixel depth in metres, shape (H, W).
        beta (float): Attenuation coefficient per metre (> 0).
        airlight: Atmospheric light A, a scalar or an RGB triple in image units.

    Returns:
        np.ndarray: Foggy image, float32.
    """
    if beta < 0:
        raise ValueError(f'fog beta must be non-negative, got {beta}')
    trans = np.exp(-beta * depth.astype(np.float32))[..., None]
    return (image * trans + np.asarray(airlight, np.float32) * (1.0 - trans)).astype(np.float32)


def _paint(canvas: _Canvas, pal: dict) -> np.ndarray:
    """Base colours of a rasterised scene under palette ``pal`` (see :data:`PALETTES`), float32."""
    h, _ = canvas.label.shape
    # Base colour of each (class, material) pair by table lookup; materials override classes.
    table = np.zeros((256, _NUM_MATERIALS, 3), np.float32)
    for cls, colour in pal['cls'].items():
        table[cls] = colour
        for mat, mat_colour in pal['mat'].items():
            table[cls, mat] = mat_colour
    img = table[canvas.label, canvas.mat]
    # Per-object tints: buildings blend two colours, cars and clothes pick from palettes.
    plain = canvas.mat == M_PLAIN
    bld = (canvas.label == BUILDING) & plain
    t = canvas.tint[bld][:, None]
    img[bld] = (1 - t) * np.array(pal['cls'][BUILDING]) + t * np.array(pal['building_alt'])
    for cls, choices in ((CAR, pal['cars']), (PERSON, pal['clothes'])):
        sel = (canvas.label == cls) & plain
        idx = np.minimum((canvas.tint[sel] * len(choices)).astype(int), len(choices) - 1)
        img[sel] = np.array(choices, np.float32)[idx]
    # Sky: vertical gradient towards the horizon.
    sky = canvas.label == SKY
    ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None] ** 0.7
    sky_img = (1 - ramp) * np.array(pal['sky_top']) + ramp * np.array(pal['sky_horizon'])
    img = np.where(sky[..., None], sky_img, img)
    # Per-object brightness variation (so instances of one class are not identical).
    img *= np.where(sky, 1.0, 0.9 + 0.2 * canvas.tint)[..., None]
    return img


def _degrade(img: np.ndarray, canvas: _Canvas, rng: np.random.Generator, style: dict) -> np.ndarray:
    """Texture, lighting, Koschmieder fog, defocus and noise of ``style`` applied to ``img``."""
    h, w = canvas.label.shape
    sky = canvas.label == SKY
    # Texture: blotchy low-frequency plus grainy high-frequency multiplicative noise.
    tex = (style['texture_low'] * _smooth_noise(rng, h, w, 16) +
           style['texture_high'] * _smooth_noise(rng, h, w, 2))
    img *= (1.0 + np.where(sky, 0.0, tex))[..., None]
    # Lighting: exposure and colour cast.
    img *= rng.uniform(*style['gain'])
    img *= (1.0 + rng.uniform(-style['cast'], style['cast'], 3)).astype(np.float32)
    img = np.clip(img, 0, 255)
    # Koschmieder fog: I = J t + A (1 - t), t = exp(-beta * depth).
    beta = rng.uniform(*style['fog_beta'])
    airlight = 255.0 * rng.uniform(*style['airlight']) * np.array([0.98, 1.0, 1.02], np.float32)
    img = koschmieder_fog(img, canvas.depth, beta, airlight)
    if style['blur_sigma'] > 0:
        img = cv2.GaussianBlur(img, (0, 0), style['blur_sigma'])
    img += rng.normal(0.0, style['noise_std'], img.shape).astype(np.float32)
    return np.clip(img, 0, 255).round().astype(np.uint8)


def render_appearance(canvas: _Canvas, domain: str, rng: np.random.Generator,
                      target_style: Optional[dict] = None) -> np.ndarray:
    """Turns a rasterised scene into an RGB uint8 image of ``domain``.

    Args:
        canvas (_Canvas): Output of :func:`render_scene`.
        domain (str): ``'source'`` or ``'target'``.
        rng (np.random.Generator): Source of randomness for appearance.
        target_style (dict, optional): Overrides of :data:`DEFAULT_TARGET_STYLE`. Defaults to None.

    Returns:
        np.ndarray: RGB image, shape (H, W, 3), uint8.
    """
    if domain not in PALETTES:
        raise ValueError(f'domain must be one of {DOMAINS}, got {domain!r}')
    img = _paint(canvas, PALETTES[domain])
    if domain == 'source':
        img += rng.normal(0.0, 2.0, img.shape).astype(np.float32)
        return np.clip(img, 0, 255).round().astype(np.uint8)
    return _degrade(img, canvas, rng, dict(DEFAULT_TARGET_STYLE, **(target_style or {})))


def random_palette(rng: np.random.Generator) -> dict:
    """A palette in the layout of :data:`PALETTES` with every colour drawn uniformly from RGB."""
    def colour() -> Tuple[float, float, float]:
        return tuple(rng.uniform(0, 255, 3).tolist())

    ref = PALETTES['source']
    return dict(cls={k: colour() for k in ref['cls']}, building_alt=colour(), sky_top=colour(),
                sky_horizon=colour(), mat={k: colour() for k in ref['mat']},
                cars=tuple(colour() for _ in ref['cars']),
                clothes=tuple(colour() for _ in ref['clothes']))


def render_randomised(canvas: _Canvas, rng: np.random.Generator) -> np.ndarray:
    """Domain-randomised appearance: a random palette, then weather of random strength.

    The strength ``s ~ U(0, 1)`` scales every degradation of :data:`DEFAULT_TARGET_STYLE`
    (texture, cast, fog, defocus, noise) from none to the target's, so the set spans both
    domains' looks without being either (the toy world's ImageNet, see
    :mod:`mmcontrast.datasets.toy_world`).

    Args:
        canvas (_Canvas): Output of :func:`render_scene`.
        rng (np.random.Generator): Source of randomness for appearance.

    Returns:
        np.ndarray: RGB image, shape (H, W, 3), uint8.
    """
    img = _paint(canvas, random_palette(rng))
    s = rng.uniform(0.0, 1.0)
    ref = DEFAULT_TARGET_STYLE
    style = dict(texture_low=s * ref['texture_low'], texture_high=s * ref['texture_high'],
                 gain=(0.75, 1.15), cast=s * ref['cast'], fog_beta=(0.0, s * ref['fog_beta'][1]),
                 airlight=ref['airlight'], blur_sigma=s * ref['blur_sigma'],
                 noise_std=2.0 + s * (ref['noise_std'] - 2.0))
    return _degrade(img, canvas, rng, style)


def _coco_annotations(canvas: _Canvas, instances: List[dict], min_area: int,
                      min_visible: float) -> List[dict]:
    """COCO boxes (without ids) of the visible part of each thing.

    Instances with fewer than ``min_area`` visible pixels, or whose visible fraction is below
    ``min_visible``, are dropped.
    """
    if not instances:
        return []
    visible = np.bincount(canvas.inst.ravel(), minlength=len(instances) + 1)
    slices = ndimage.find_objects(canvas.inst, max_label=len(instances))
    anns = []
    for inst in instances:
        area = int(visible[inst['id']])
        drawn = canvas.drawn_area.get(inst['id'], 0)
        if area < min_area or area < min_visible * drawn:
            continue
        rows, cols = slices[inst['id'] - 1]
        mask = np.asfortranarray((canvas.inst == inst['id']).astype(np.uint8))
        rle = mask_utils.encode(mask)
        rle['counts'] = rle['counts'].decode('ascii')
        anns.append(dict(
            category_id=TOY_DET_CLASSES.index(TOY_SEG_CLASSES[TOY_TRAIN_IDS.index(inst['label'])])
            + 1,
            bbox=[float(cols.start), float(rows.start), float(cols.stop - cols.start),
                  float(rows.stop - rows.start)],
            area=float(area), iscrowd=0, segmentation=rle))
    return anns


def _generate_one(job: tuple) -> Tuple[List[dict], np.ndarray]:
    """Renders and writes one image of one domain/split; returns its boxes and class pixels."""
    out_dir, seed, d_idx, s_idx, idx, height, width, style, min_area, min_visible = job
    domain, split = DOMAINS[d_idx], SPLITS[s_idx]
    scene_ss, look_ss = np.random.SeedSequence([seed, d_idx, s_idx, idx]).spawn(2)
    canvas, instances = render_scene(height, width, np.random.default_rng(scene_ss))
    img = render_appearance(canvas, domain, np.random.default_rng(look_ss), style)
    name = f'{idx:05d}.png'
    cv2.imwrite(osp.join(out_dir, domain, 'images', split, name),
                cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    cv2.imwrite(osp.join(out_dir, domain, 'labels', split, name), canvas.label)
    return (_coco_annotations(canvas, instances, min_area, min_visible),
            np.bincount(canvas.label.ravel(), minlength=256))


def generate_toy_uda(out_dir: str,
                     seed: int = 0,
                     num_train: int = 2000,
                     num_val: int = 200,
                     height: int = 128,
                     width: int = 256,
                     min_box_area: int = 12,
                     min_box_visible: float = 0.2,
                     target_style: Optional[dict] = None,
                     workers: int = 1) -> dict:
    """Writes the toy UDA benchmark into ``out_dir`` (which may exist) and returns its meta.

    Layout: ``{source,target}/{images,labels}/{train,val}/NNNNN.png``,
    ``annotations/{source,target}_{train,val}.json`` and ``meta.json``.

    Args:
        out_dir (str): Output directory.
        seed (int): Global seed; each image is seeded by (seed, domain, split, index).
            Defaults to 0.
        num_train (int): Images per domain in the train split. Defaults to 2000 (generator
            1.2; 400 before: a source-only model fitted 400 flat source images and its target
            mIoU fell by 10% from its best, 30.4 -> 27.3, where with 2000 it held, 30.2 -> 29.4).
        num_val (int): Images per domain in the val split. Defaults to 200 (100 before: halves
            the variance of the validation mIoU).
        height (int): Image height. Defaults to 128.
        width (int): Image width. Defaults to 256.
        min_box_area (int): Instances with fewer visible pixels get no box. Defaults to 12.
        min_box_visible (float): Instances whose visible fraction is lower get no box.
            Defaults to 0.2.
        target_style (dict, optional): Overrides of :data:`DEFAULT_TARGET_STYLE`.
            Defaults to None.
        workers (int): Worker processes (forked); the output does not depend on it.
            Defaults to 1 (in-process, safe inside training processes).

    Returns:
        dict: The content of ``meta.json``.
    """
    if num_train < 1 or num_val < 1:
        raise ValueError(f'num_train and num_val must be >= 1, got {num_train}, {num_val}')
    if height < 32 or width < 32:
        raise ValueError(f'image size must be at least 32x32, got {height}x{width}')
    unknown = set(target_style or {}) - set(DEFAULT_TARGET_STYLE)
    if unknown:
        raise KeyError(f'unknown target_style keys {sorted(unknown)}; '
                       f'valid: {sorted(DEFAULT_TARGET_STYLE)}')
    style = dict(DEFAULT_TARGET_STYLE, **(target_style or {}))
    counts = dict(train=num_train, val=num_val)
    jobs = [(out_dir, seed, d_idx, s_idx, idx, height, width, style, min_box_area,
             min_box_visible) for d_idx in range(len(DOMAINS)) for s_idx in range(len(SPLITS))
            for idx in range(counts[SPLITS[s_idx]])]
    for domain in DOMAINS:
        for split in SPLITS:
            for kind in ('images', 'labels'):
                os.makedirs(osp.join(out_dir, domain, kind, split), exist_ok=True)
    os.makedirs(osp.join(out_dir, 'annotations'), exist_ok=True)
    workers = min(workers, len(jobs))
    if workers > 1:
        with multiprocessing.get_context('fork').Pool(workers) as pool:
            results = pool.map(_generate_one, jobs, chunksize=16)
    else:
        results = [_generate_one(job) for job in jobs]

    stats: Dict[str, dict] = {}
    categories = [dict(id=i + 1, name=name) for i, name in enumerate(TOY_DET_CLASSES)]
    for domain in DOMAINS:
        for split in SPLITS:
            images, anns = [], []
            pixels = np.zeros(256, np.int64)
            for job, (img_anns, img_pixels) in zip(jobs, results):
                if (DOMAINS[job[2]], SPLITS[job[3]]) != (domain, split):
                    continue
                idx = job[4]
                images.append(dict(id=idx, file_name=f'{idx:05d}.png', height=height,
                                   width=width))
                for ann in img_anns:
                    anns.append(dict(id=len(anns) + 1, image_id=idx, **ann))
                pixels += img_pixels
            with open(osp.join(out_dir, 'annotations', f'{domain}_{split}.json'), 'w') as f:
                json.dump(dict(images=images, annotations=anns, categories=categories), f)
            total = pixels.sum()
            stats[f'{domain}_{split}'] = dict(
                images=counts[split],
                boxes={c['name']: sum(a['category_id'] == c['id'] for a in anns)
                       for c in categories},
                pixel_fraction={name: round(float(pixels[tid]) / total, 4)
                                for name, tid in zip(TOY_SEG_CLASSES, TOY_TRAIN_IDS)})
    meta = dict(generator_version=GENERATOR_VERSION, seed=seed, num_train=num_train,
                num_val=num_val, height=height, width=width, min_box_area=min_box_area,
                min_box_visible=min_box_visible, target_style=style,
                classes=dict(zip(TOY_SEG_CLASSES, TOY_TRAIN_IDS)), stats=stats)
    with open(osp.join(out_dir, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=2)
    return meta


# Parameters stored in meta.json that define the generated content.
_CONTENT_KEYS = ('generator_version', 'seed', 'num_train', 'num_val', 'height', 'width',
                 'min_box_area', 'min_box_visible', 'target_style')


def _requested_meta(kwargs: dict) -> dict:
    params = inspect.signature(generate_toy_uda).parameters
    unknown = set(kwargs) - set(params) - {'out_dir'}
    if unknown:
        raise TypeError(f'ensure_toy_uda got unknown arguments {sorted(unknown)}')
    req = {k: kwargs.get(k, p.default) for k, p in params.items() if k in _CONTENT_KEYS}
    req['target_style'] = dict(DEFAULT_TARGET_STYLE, **(req['target_style'] or {}))
    req['generator_version'] = GENERATOR_VERSION
    return json.loads(json.dumps(req))  # tuples -> lists, as read back from meta.json


def _read_meta(root: str) -> Optional[dict]:
    path = osp.join(root, 'meta.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def ensure_toy_uda(root: str = DEFAULT_TOY_UDA_ROOT, force: bool = False, **kwargs) -> str:
    """Generates the toy UDA benchmark at ``root`` unless it is already there.

    Safe to call from several processes at once: generation holds an exclusive lock on
    ``<root>.lock`` and writes into a temporary sibling directory that is renamed into place,
    so readers never see a half-written dataset.

    Args:
        root (str): Dataset root. Defaults to ``'data/toy_uda'``.
        force (bool): Regenerate even if a dataset exists (it is replaced). Defaults to False.
        **kwargs: Arguments of :func:`generate_toy_uda` (seed, counts, size, ...).

    Returns:
        str: ``root``.

    Raises:
        ValueError: If a dataset generated with other parameters exists and ``force`` is False.
        FileExistsError: If ``root`` is a non-empty directory that is not a toy UDA dataset.
    """
    requested = _requested_meta(kwargs)

    def up_to_date() -> bool:
        meta = _read_meta(root)
        if meta is None or force:
            return False
        differ = {k: (meta.get(k), requested[k]) for k in _CONTENT_KEYS
                  if meta.get(k) != requested[k]}
        if differ:
            raise ValueError(f'The toy UDA dataset at {root} was generated with other parameters '
                             f'(found, requested): {differ}. Regenerate it with force=True or '
                             f'tools/dataset_converters/make_toy_uda.py --force.')
        return True

    generate_once(root, up_to_date, lambda tmp: generate_toy_uda(tmp, **kwargs), force=force)
    return root
