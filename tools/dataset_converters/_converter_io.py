# Copyright (c) mmcontrast contributors. Licensed under the Apache License 2.0.
"""What every dataset converter shares: errors that name the file, validated names and
boxes, and outputs written all-or-nothing.

A converter that meets bad input must fail (non-zero exit) with the offending file in the
message, and must leave the outputs of an earlier run as they were. So outputs are staged
as hidden temporary files next to their destination and renamed over it only once the
whole run has succeeded (``os.replace`` is atomic on POSIX); a failed run deletes its
temporary files. A destination that is one of the run's inputs is refused.

The module is named ``_converter_io`` rather than ``_io``: ``_io`` is CPython's own I/O
module, which is always imported first and would shadow a sibling of that name.
"""
import json
import math
import os
import os.path as osp
import secrets
import sys
from collections import defaultdict
from functools import partial
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

CLASS_STATS_FILE = 'sample_class_stats.json'  # read by mmcontrast.datasets.UDADataset
SAMPLES_WITH_CLASS_FILE = 'samples_with_class.json'


class ConverterError(ValueError):
    """Bad converter input or output path; the message names the file."""


def run_token() -> str:
    """A token that makes this run's temporary file names unique (pid + random)."""
    return f'{os.getpid()}-{secrets.token_hex(4)}'


def temp_path(path: str, token: str) -> str:
    """Hidden temporary sibling of ``path``: the same directory, so the rename is atomic."""
    folder, name = osp.split(osp.abspath(path))
    return osp.join(folder, f'.{name}.{token}.tmp')


def _real(path: str) -> str:
    return osp.realpath(osp.abspath(path))


class OutputTransaction:
    """Stage output files and rename them into place together.

    Use it as a context manager: the staged files replace their destinations when the
    block ends without an exception; on an exception they are deleted and every
    destination keeps its previous content.

    Args:
        inputs (Iterable[str]): Files the run reads; staging any of them as an output
            raises :class:`ConverterError`. Defaults to ().
        token (str, optional): Temporary-name token, e.g. one shared with worker
            processes that stage files themselves. Defaults to a fresh :func:`run_token`.
    """

    def __init__(self, inputs: Iterable[str] = (), token: Optional[str] = None) -> None:
        self.token = token or run_token()
        self._inputs = {_real(p) for p in inputs}
        self._staged: Dict[str, str] = {}  # destination -> temporary file

    def protect(self, paths: Iterable[str]) -> None:
        """Add input files that must never be overwritten."""
        self._inputs.update(_real(p) for p in paths)

    def is_input(self, path: str) -> bool:
        """Whether ``path`` (after resolving links) is one of the protected inputs."""
        return _real(path) in self._inputs

    def stage(self, path: str) -> str:
        """Register ``path`` as an output; return the temporary path to write instead.

        Raises:
            ConverterError: If ``path`` is an input of the run or staged twice.
        """
        real = _real(path)
        if self.is_input(real):
            raise ConverterError(f'refusing to write {path}: it is an input of this conversion')
        if real in self._staged:
            raise ConverterError(f'{path} would be written twice in one conversion')
        self._staged[real] = temp_path(real, self.token)
        return self._staged[real]

    def adopt(self, path: str) -> None:
        """Register an output whose temporary file (:func:`temp_path` with this token) a
        worker process already wrote."""
        tmp = self.stage(path)
        if not osp.isfile(tmp):
            raise ConverterError(f'staged output of {path} is missing ({tmp})')

    def write_json(self, path: str, obj: Any, indent: Optional[int] = None) -> None:
        """Stage a JSON file. NaN and infinity are refused (``allow_nan=False``): they are
        not JSON and would reach the loaders as silent NaN boxes."""
        os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
        tmp = self.stage(path)
        try:
            with open(tmp, 'w') as f:
                json.dump(obj, f, indent=indent, allow_nan=False)
                f.flush()
                os.fsync(f.fileno())
        except ValueError as err:
            raise ConverterError(f'{path}: refusing to write a non-finite number: {err}') from err

    def commit(self) -> List[str]:
        """Rename every staged file over its destination; return the destinations."""
        for dst, tmp in self._staged.items():
            os.replace(tmp, dst)
        done = list(self._staged)
        self._staged = {}
        return done

    def abort(self) -> None:
        """Delete the staged files; destinations are untouched."""
        for tmp in self._staged.values():
            if osp.lexists(tmp):
                os.remove(tmp)
        self._staged = {}

    def __enter__(self) -> 'OutputTransaction':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def safe_relative_name(name: str, source: str) -> str:
    """Return ``name`` if it is a plain relative path inside its folder.

    Args:
        name (str): A file name written into an annotation file or read from a list.
        source (str): The file it came from, for the error message.

    Raises:
        ConverterError: If ``name`` is empty, absolute, has a ``..`` component, a
            backslash or a NUL: such a name would make a loader read outside the data root.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConverterError(f'{source}: empty file name')
    parts = name.replace('\\', '/').split('/')
    if (osp.isabs(name) or '\\' in name or '\0' in name or '..' in parts or osp.splitdrive(name)[0]):
        raise ConverterError(f'{source}: unsafe file name {name!r} (absolute, or leaves its folder)')
    return name


def parse_number(text: Optional[str], source: str, key: str) -> float:
    """A finite number from XML/JSON text, or a :class:`ConverterError` naming ``source``."""
    if text is None or not str(text).strip():
        raise ConverterError(f'{source}: missing <{key}>')
    try:
        value = float(text)
    except (TypeError, ValueError) as err:
        raise ConverterError(f'{source}: <{key}> is not a number: {text!r}') from err
    if not math.isfinite(value):
        raise ConverterError(f'{source}: <{key}> is not finite: {text!r}')
    return value


def check_image_size(width: Any, height: Any, source: str) -> Tuple[int, int]:
    """Validate an image size read from an annotation file; return ``(width, height)``.

    Raises:
        ConverterError: If either is missing, not an integer or not positive.
    """
    size = []
    for key, value in (('width', width), ('height', height)):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConverterError(f'{source}: image {key} is missing or not a number: {value!r}')
        number = parse_number(str(value), source, key)
        if number != int(number) or number <= 0:
            raise ConverterError(f'{source}: image {key} must be a positive integer, got {value!r}')
        size.append(int(number))
    return size[0], size[1]


def check_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int,
              source: str) -> Tuple[float, float, float, float]:
    """Validate a corner box and clip it to the image; return COCO ``(x, y, w, h)``.

    Args:
        x0, y0, x1, y1 (float): Corners (``x1 >= x0``, ``y1 >= y0``).
        width, height (int): Image size.
        source (str): File and object, for the error message.

    Raises:
        ConverterError: For a non-finite coordinate, a negative width or height, an empty
            box, or a box that lies entirely outside the image.
    """
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):
        raise ConverterError(f'{source}: non-finite box {[x0, y0, x1, y1]}')
    if x1 < x0 or y1 < y0:
        raise ConverterError(f'{source}: negative box size: xmin={x0} xmax={x1} ymin={y0} ymax={y1}')
    if x1 == x0 or y1 == y0:
        raise ConverterError(f'{source}: empty box: xmin={x0} xmax={x1} ymin={y0} ymax={y1}')
    # Boxes reaching past the border are clipped (a car cut by the image edge); one with
    # nothing inside the image is an annotation error.
    cx0, cy0 = min(max(x0, 0.0), width), min(max(y0, 0.0), height)
    cx1, cy1 = min(max(x1, 0.0), width), min(max(y1, 0.0), height)
    if cx1 <= cx0 or cy1 <= cy0:
        raise ConverterError(f'{source}: box {[x0, y0, x1, y1]} lies outside the {width}x{height} image')
    return cx0, cy0, cx1 - cx0, cy1 - cy0


def open_image(path: str, what: str = 'image'):
    """Open and fully decode an image with PIL; errors name the file.

    Args:
        path (str): Image file.
        what (str): What the file should be, for the message. Defaults to 'image'.

    Returns:
        PIL.Image.Image: The decoded image.
    """
    from PIL import Image
    try:
        img = Image.open(path)
        img.load()  # decode now: a truncated file fails here, not later without a name
    except FileNotFoundError as err:
        raise FileNotFoundError(f'{what} not found: {path}') from err
    except Exception as err:  # PIL raises OSError, SyntaxError, ValueError, ...
        raise ConverterError(f'{path}: cannot read {what}: {err}') from err
    return img


def image_size(path: str) -> Tuple[int, int]:
    """``(width, height)`` from an image header (no decoding); errors name the file."""
    from PIL import Image
    try:
        with Image.open(path) as img:
            return img.size
    except FileNotFoundError as err:
        raise FileNotFoundError(f'image not found: {path}') from err
    except Exception as err:
        raise ConverterError(f'{path}: cannot read image header: {err}') from err


def save_png(path: str, array: np.ndarray) -> None:
    """Write a ``uint8`` label map as PNG (format given: temporary names end in .tmp)."""
    from PIL import Image
    Image.fromarray(array).save(path, format='PNG')


def class_stats(label: np.ndarray, ignore_index: int = 255) -> Dict[str, int]:
    """Pixels per train id of a ``uint8`` map, ``ignore_index`` excluded (keys in order)."""
    counts = np.bincount(label.ravel(), minlength=256)
    return {str(c): int(counts[c]) for c in np.flatnonzero(counts) if c != ignore_index}


def _convert_label(file: str, to_train_ids: Callable[[str], np.ndarray], out_suffix: str, token: str, data_root: str,
                   ignore_index: int) -> dict:
    out = file[:-len('.png')] + out_suffix
    train_ids = to_train_ids(file)
    save_png(temp_path(out, token), train_ids)
    return dict(file=osp.relpath(out, data_root), **class_stats(train_ids, ignore_index))


def convert_label_maps(files: Sequence[str],
                       to_train_ids: Callable[[str], np.ndarray],
                       data_root: str,
                       out_suffix: str = '_labelTrainIds.png',
                       nproc: int = 1,
                       ignore_index: int = 255) -> List[dict]:
    """Convert segmentation label files and write the rare-class-sampling statistics,
    all or nothing.

    Every ``<name>.png`` becomes ``<name><out_suffix>``, and ``sample_class_stats.json``
    and ``samples_with_class.json`` (DAFormer's format, read by
    :class:`mmcontrast.datasets.UDADataset`) are written into ``data_root``. Nothing
    is replaced until every file has converted, so one bad label leaves the converted
    maps and statistics of an earlier run as they were.

    Args:
        files (Sequence[str]): Original label PNGs.
        to_train_ids (Callable): ``to_train_ids(file) -> uint8 train-id map``; it
            validates the file and raises :class:`ConverterError` naming it. Must be
            picklable when ``nproc > 1``.
        data_root (str): Where the statistics go; their ``file`` entries are relative to it.
        out_suffix (str): Suffix of the converted maps. Defaults to '_labelTrainIds.png'.
        nproc (int): Worker processes. Defaults to 1.
        ignore_index (int): Train id left out of the statistics. Defaults to 255.

    Returns:
        list[dict]: One ``{'file': ..., '<train id>': pixels, ...}`` entry per file.
    """
    outputs = [f[:-len('.png')] + out_suffix for f in files]
    transaction = OutputTransaction(inputs=files)
    for out in outputs:  # refuse an output that is an input before any work is done
        if transaction.is_input(out):
            raise ConverterError(f'refusing to write {out}: it is an input of this conversion')
    job = partial(
        _convert_label,
        to_train_ids=to_train_ids,
        out_suffix=out_suffix,
        token=transaction.token,
        data_root=data_root,
        ignore_index=ignore_index)
    try:
        if nproc > 1:
            from multiprocessing import Pool
            with Pool(nproc) as pool:
                stats = list(pool.imap(job, files, chunksize=8))
        else:
            stats = [job(f) for f in files]
        for out in outputs:
            transaction.adopt(out)
        samples_with_class: Dict[str, list] = defaultdict(list)
        for entry in stats:
            for key, pixels in entry.items():
                if key != 'file':
                    samples_with_class[key].append([entry['file'], pixels])
        transaction.write_json(osp.join(data_root, CLASS_STATS_FILE), stats, indent=2)
        transaction.write_json(
            osp.join(data_root, SAMPLES_WITH_CLASS_FILE),
            dict(sorted(samples_with_class.items(), key=lambda kv: int(kv[0]))),
            indent=2)
    except BaseException:
        transaction.abort()
        for out in outputs:  # temporaries of workers not adopted yet
            tmp = temp_path(out, transaction.token)
            if osp.lexists(tmp):
                os.remove(tmp)
        raise
    transaction.commit()
    return stats


def exit_on_error(main: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a converter's :class:`ConverterError` / ``OSError`` into a one-line message
    on stderr and exit status 1 (instead of a traceback)."""

    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except (ConverterError, OSError) as err:
            prog = osp.basename(sys.argv[0]) if sys.argv and sys.argv[0] else 'converter'
            raise SystemExit(f'{prog}: error: {err}') from err

    wrapper.__name__, wrapper.__doc__ = main.__name__, main.__doc__
    return wrapper
