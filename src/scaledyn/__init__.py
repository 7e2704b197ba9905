"""scaledyn: a reproducible pipeline for three papers on gradient noise, weight decay and parameter scale."""

__version__ = "0.1.0"
