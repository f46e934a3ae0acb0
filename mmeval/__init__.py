"""mmeval: evaluate and govern multimodal generative models."""

__version__ = "0.1.0"
