"""lossviz: the softmax family of face-recognition losses, as a library the app draws from."""
__version__ = "0.1.0"  # written into ready runs (lossviz.ready): which code baked them
