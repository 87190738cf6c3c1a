"""Files: safetensors read/write in NumPy (:mod:`.safetensors`) and whole models in one file
(:mod:`.model_file`: ``model.save(path)`` / ``rnnkit.load(path)``); recurrent weights to and
from Keras 3 (:mod:`.keras`: ``to_keras``, ``from_keras``, ``layer_from_keras``; Keras itself is
imported only by ``layer_from_keras``)."""

from .keras import from_keras, layer_from_keras, to_keras
from .model_file import load, read_model_file, save_model
from .safetensors import read_safetensors, write_safetensors

__all__ = ["load", "save_model", "read_model_file", "read_safetensors", "write_safetensors",
           "to_keras", "from_keras", "layer_from_keras"]
