"""Stock-API helpers: export a trained UDA wrapper to a stock mmseg/mmdet model."""
from .export import (
                     ExportedModel,
                     export_uda_model,
                     exported_state_dict,
                     is_wrapper_config,
                     stock_model_config,
                     wrapper_kind,
)

__all__ = [
    'ExportedModel', 'export_uda_model', 'exported_state_dict', 'is_wrapper_config', 'stock_model_config',
    'wrapper_kind'
]
