"""Small real datasets shipped inside the package (no download at run time).

- :func:`load_co2`: Mauna Loa CO2, monthly 1958-2001 (public domain).
- :func:`load_elnino`: Nino 1+2 sea surface temperature, monthly 1950-2010 (public domain).
- :func:`load_italy_power_demand`: UCR ItalyPowerDemand, univariate, 24 steps, 2 classes.
- :func:`load_japanese_vowels`: UEA JapaneseVowels, 12 channels, 7-29 steps, 9 classes.
- :func:`load_text_corpus`: Python standard-library source read from the running interpreter.

Each shipped file has a README.md beside it (``rnnkit/datasets/data/<name>/``) giving its
source, citation, licence and any processing.
"""

from .co2 import load_co2
from .elnino import load_elnino
from .italy_power_demand import load_italy_power_demand
from .japanese_vowels import load_japanese_vowels
from .text_corpus import STDLIB_MODULES, load_text_corpus

__all__ = ["load_co2", "load_elnino", "load_italy_power_demand", "load_japanese_vowels",
           "load_text_corpus", "STDLIB_MODULES"]
