from .ascl import ASCLLoss, ascl_byol_loss, ascl_loss
from .dimcl import DimCLLoss, dimcl_loss
from .fcl import InfoNCELoss, SupConLoss, info_nce_loss, supcon_loss
from .pauc import PAUCLoss, ProtoNCELoss, estimate_concentration, pauc_loss, proto_nce_loss
from .pcl import ClassPCLLoss, PCLLoss, PixelPCLLoss, class_pcl_loss, pcl_loss, pixel_pcl_loss
from .ranked_supcon import RankedSupConLoss, build_rank_matrix, parse_class_ranking, ranked_supcon_loss

__all__ = [
    'PCLLoss', 'pcl_loss', 'ClassPCLLoss', 'class_pcl_loss', 'PixelPCLLoss', 'pixel_pcl_loss', 'InfoNCELoss',
    'info_nce_loss', 'SupConLoss', 'supcon_loss', 'ProtoNCELoss', 'proto_nce_loss', 'PAUCLoss', 'pauc_loss',
    'estimate_concentration', 'ASCLLoss', 'ascl_loss', 'ascl_byol_loss', 'DimCLLoss', 'dimcl_loss',
    'RankedSupConLoss', 'ranked_supcon_loss', 'parse_class_ranking', 'build_rank_matrix'
]
