"""Save pseudo-label / confidence / mixed-sample panels of UDA self-training at an interval."""
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmcontrast.registry import HOOKS


def colorize(label: np.ndarray, palette: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """``[H, W]`` class ids -> ``[H, W, 3]`` RGB; ignored or unknown ids are black."""
    out = np.zeros((*label.shape, 3), np.uint8)
    known = (label != ignore_index) & (label < len(palette))
    out[known] = palette[label[known]]
    return out


@HOOKS.register_module()
class PseudoLabelVisualizationHook(Hook):
    """Every ``interval`` iterations, save what the self-training segmentor trained on.

    For up to ``max_images`` images of the batch, one row: target image | teacher
    pseudo-label | teacher confidence (JET colour map, 0..1) | pseudo-label weight
    (quality, 0 in the ignored margins) | strongly augmented mixed image | mixed label.
    A title strip names the columns and a legend strip shows the 0..1 colour scales of
    the confidence and the weight.
    The panel goes to the runner's visualizer backends (``add_image('pseudo_labels')``,
    i.e. ``vis_data/vis_image`` with the default local backend) from the main process.

    The model must expose ``cache_visuals`` and ``last_visuals`` (as
    :class:`mmcontrast.DACSSegmentor` does); the hook sets ``cache_visuals`` only for the
    iterations it saves, so the other iterations pay nothing.

    Args:
        interval (int): Iteration interval. Defaults to 500.
        max_images (int): Rows per panel. Defaults to 2.
        palette (Sequence, optional): RGB palette; defaults to the train dataset's.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 500, max_images: int = 2, palette: Optional[Sequence] = None) -> None:
        if interval < 1 or max_images < 1:
            raise ValueError(f'interval and max_images must be >= 1, got {interval} and {max_images}')
        self.interval = interval
        self.max_images = max_images
        self.palette = None if palette is None else np.asarray(palette, np.uint8)

    @staticmethod
    def _model(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        if not hasattr(model, 'cache_visuals'):
            raise TypeError(f'PseudoLabelVisualizationHook needs a model with cache_visuals/last_visuals '
                            f'(e.g. mmcontrast.DACSSegmentor), got {type(model).__name__}')
        return model

    def _palette(self, runner) -> np.ndarray:
        if self.palette is None:
            palette = runner.train_dataloader.dataset.metainfo.get('palette')
            if palette is None:
                palette = np.random.default_rng(0).integers(0, 256, (256, 3))
            self.palette = np.asarray(palette, np.uint8)
        return self.palette

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._model(runner).cache_visuals = self.every_n_train_iters(runner, self.interval)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        model = self._model(runner)
        visuals, model.last_visuals = model.last_visuals, None
        model.cache_visuals = False
        if visuals is None or not is_main_process():
            return
        panel = self.make_panel(visuals, self._palette(runner), self.max_images)
        runner.visualizer.add_image('pseudo_labels', panel, step=runner.iter + 1)

    @staticmethod
    def make_panel(visuals: dict, palette: np.ndarray, max_images: int = 2) -> np.ndarray:
        """Stack the rows described in the class docstring into one RGB image.

        A title strip names the columns (:data:`COLUMNS`); a legend strip under the
        confidence and weight columns shows their colour scales from 0 to 1.
        """
        rows = []
        for i in range(min(max_images, visuals['target_img'].shape[0])):
            conf = (visuals['confidence'][i].numpy().clip(0, 1) * 255).astype(np.uint8)
            weight = (visuals['pseudo_weight'][i].numpy().clip(0, 1) * 255).astype(np.uint8)
            tiles = [
                visuals['target_img'][i].permute(1, 2, 0).numpy(),
                colorize(visuals['pseudo_label'][i].numpy(), palette),
                _jet(conf),
                np.repeat(weight[..., None], 3, axis=2),
                visuals['mixed_img'][i].permute(1, 2, 0).numpy(),
                colorize(visuals['mixed_label'][i].numpy(), palette),
            ]
            rows.append(np.concatenate(tiles, axis=1))
        width = visuals['target_img'].shape[-1]
        strip = max(14, width // 12)
        titles = np.concatenate([_text_tile(width, strip, name) for name in COLUMNS], axis=1)
        ramp = np.tile(np.linspace(0, 255, width).astype(np.uint8), (strip, 1))
        legend = [_text_tile(width, strip, '')] * len(COLUMNS)
        legend[2] = _label_ends(_jet(ramp))
        legend[3] = _label_ends(np.repeat(ramp[..., None], 3, axis=2))
        return np.ascontiguousarray(np.concatenate([titles, *rows, np.concatenate(legend, axis=1)], axis=0))


# Column titles of the panel, left to right.
COLUMNS = ('target', 'pseudo-label', 'confidence', 'weight', 'mixed image', 'mixed label')


def _jet(gray: np.ndarray) -> np.ndarray:
    """``[H, W]`` uint8 -> RGB with OpenCV's JET colour map (0 blue, 255 red)."""
    return np.ascontiguousarray(cv2.applyColorMap(gray, cv2.COLORMAP_JET)[..., ::-1])


def _put_text(tile: np.ndarray, text: str, x: int, colour: tuple, outline: bool = False) -> None:
    height, width = tile.shape[:2]
    font = cv2.FONT_HERSHEY_SIMPLEX
    (w, h), _ = cv2.getTextSize(text, font, 1.0, 1)
    scale = min(0.5, (height - 4) / max(h, 1), (width - 4) / max(w, 1))
    (w, h), _ = cv2.getTextSize(text, font, scale, 1)
    origin = (min(max(x, 2), width - w - 2), (height + h) // 2)
    if outline:  # readable on any colour of a colour bar
        cv2.putText(tile, text, origin, font, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, text, origin, font, scale, colour, 1, cv2.LINE_AA)


def _text_tile(width: int, height: int, text: str) -> np.ndarray:
    """White strip with ``text`` in black, shrunk to fit."""
    tile = np.full((height, width, 3), 255, np.uint8)
    if text:
        _put_text(tile, text, 2, (0, 0, 0))
    return tile


def _label_ends(bar: np.ndarray) -> np.ndarray:
    """A colour bar with '0' at its left end and '1' at its right end."""
    bar = np.ascontiguousarray(bar.copy())
    _put_text(bar, '0', 2, (255, 255, 255), outline=True)
    _put_text(bar, '1', bar.shape[1], (255, 255, 255), outline=True)
    return bar
