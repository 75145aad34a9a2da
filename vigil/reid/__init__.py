"""Re-identification: OSNet and the crop -> embedding step."""

from vigil.reid.checkpoint import ReidWeightsError, load_osnet
from vigil.reid.embedder import Embedder
from vigil.reid.osnet import ARCHITECTURES, OSNet, build_osnet, count_parameters

__all__ = ["ARCHITECTURES", "Embedder", "OSNet", "ReidWeightsError", "build_osnet", "count_parameters", "load_osnet"]
